"""The fleet's tests run on the poller tests' tables: DynamoDB Local and moto, the template's
own `RefundRecordsTable` (its `due` index included)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devstack.aws.template import Table
from refund_core.fleet.registry import FleetRegistry
from refund_core.poller.records import RefundRecords
from tests.dynamodb_local import create_table
from tests.poller.conftest import (  # noqa: F401 - fixtures
    dynamodb,
    dynamodb_local,
    moto_dynamodb,
    records_table_definition,
)


@pytest.fixture
def table(dynamodb: Any, records_table_definition: Table) -> Iterator[str]:  # noqa: F811
    name = create_table(dynamodb, records_table_definition)
    yield name
    dynamodb.delete_table(TableName=name)


@pytest.fixture
def registry(dynamodb: Any, table: str) -> FleetRegistry:  # noqa: F811
    return FleetRegistry(dynamodb, table)


@pytest.fixture
def records(dynamodb: Any, table: str) -> RefundRecords:  # noqa: F811
    return RefundRecords(dynamodb, table)
