"""Fixtures of the rate-limit tests: the records table on DynamoDB Local or moto, and the
SureCart deployment of the accounts tests."""

from tests.poller.conftest import (  # noqa: F401 - fixtures
    dynamodb,
    dynamodb_local,
    moto_dynamodb,
    records_table_definition,
)
from tests.test_accounts import deployment  # noqa: F401 - fixture
