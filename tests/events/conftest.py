"""Fixtures for the events tests: the records table (with its stream) on DynamoDB Local or moto."""

from tests.poller.conftest import (  # noqa: F401 - fixtures, shared with the poller tests
    dynamodb,
    dynamodb_local,
    moto_dynamodb,
    records,
    records_table_definition,
)
