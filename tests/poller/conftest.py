"""Fixtures for the poller tests: DynamoDB Local, and the records table's template definition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.aws.template import Table, load_template
from refund_core.poller.records import RefundRecords
from tests.dynamodb_local import REPO_ROOT, create_table, running_dynamodb_local

RECORDS_TABLE_LOGICAL_ID = "RefundRecordsTable"
BACKENDS = ["dynamodb-local", "moto"]


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[Any]:
    """A boto3 DynamoDB client on a DynamoDB Local server that lives for the whole session."""
    with running_dynamodb_local() as client:
        yield client


@pytest.fixture(scope="session")
def records_table_definition() -> Table:
    """`RefundRecordsTable` as template.yaml declares it (never a hand-copied schema)."""
    return load_template(REPO_ROOT / "template.yaml").tables[RECORDS_TABLE_LOGICAL_ID]


@pytest.fixture(scope="module")
def moto_dynamodb() -> Iterator[Any]:
    """moto's DynamoDB for this module (each test has its own table). A client with an
    `endpoint_url`, such as DynamoDB Local's, is not intercepted by `mock_aws`."""
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture(params=BACKENDS)
def dynamodb(request: pytest.FixtureRequest) -> Any:
    """A DynamoDB client: DynamoDB Local (one server per session) or moto."""
    if request.param == "dynamodb-local":
        return request.getfixturevalue("dynamodb_local")
    return request.getfixturevalue("moto_dynamodb")


@pytest.fixture
def records(dynamodb: Any, records_table_definition: Table) -> Iterator[RefundRecords]:
    """`RefundRecords` on a fresh `RefundRecordsTable`, dropped after the test."""
    name = create_table(dynamodb, records_table_definition)
    yield RefundRecords(dynamodb, name)
    dynamodb.delete_table(TableName=name)
