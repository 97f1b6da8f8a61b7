"""Fixtures for the poller tests: DynamoDB Local, and the records table's template definition."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.aws.template import Table, load_template
from tests.dynamodb_local import REPO_ROOT, running_dynamodb_local

RECORDS_TABLE_LOGICAL_ID = "RefundRecordsTable"


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[Any]:
    """A boto3 DynamoDB client on a DynamoDB Local server that lives for the whole session."""
    with running_dynamodb_local() as client:
        yield client


@pytest.fixture(scope="session")
def records_table_definition() -> Table:
    """`RefundRecordsTable` as template.yaml declares it (never a hand-copied schema)."""
    return load_template(REPO_ROOT / "template.yaml").tables[RECORDS_TABLE_LOGICAL_ID]
