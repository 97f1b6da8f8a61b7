"""Test-wide set-up: a fake AWS region and credentials, Powertools quiet, caches reset."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# Before anything imports boto3 or Powertools: no test may reach real AWS, and X-Ray is off.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "refund-status-tests",
        "POWERTOOLS_METRICS_NAMESPACE": "RefundStatusTests",
    }
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
    os.environ.pop(variable, None)


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Each test starts like a new execution environment: no cached secret or settings."""
    from aws_lambda_powertools.utilities import parameters

    from refund_core import clients, watch
    from refund_core.settings import provider_function_settings

    parameters.clear_caches()
    clients.clear_caches()
    provider_function_settings.cache_clear()
    watch.shared_accounts.cache_clear()
    yield
    parameters.clear_caches()
    clients.clear_caches()
    provider_function_settings.cache_clear()
    watch.shared_accounts.cache_clear()
