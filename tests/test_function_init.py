"""What a function does at import (Lambda's INIT phase, which runs with burst CPU): it builds
its clients there (HTTP and Secrets Manager; the watch function's DynamoDB and Step Functions),
and calls nothing."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from refund_core.poller.check import shared_records
from refund_core.transport import shared_http_client
from refund_core.watch import shared_fleet
from tests.helpers import FakeLambdaContext, load_event

# Nothing listens here: a request made at import would fail the import.
UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture
def fresh_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As in a new execution environment: no Secrets Manager client, no HTTP client yet."""
    saved = DEFAULT_PROVIDERS.pop("secrets", None)
    shared_http_client.cache_clear()
    monkeypatch.setenv("PROVIDER_SECRET_ID", "refund-status/surecart")
    yield
    DEFAULT_PROVIDERS.pop("secrets", None)
    if saved is not None:
        DEFAULT_PROVIDERS["secrets"] = saved
    shared_http_client.cache_clear()


def import_function(provider: str) -> ModuleType:
    return importlib.reload(importlib.import_module(f"functions.{provider}.app"))


@pytest.mark.usefixtures("fresh_environment")
@pytest.mark.parametrize("provider", ["convergegate", "surecart", "gr4vy", "shoplazza"])
def test_import_builds_both_clients_and_calls_nothing(
    monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", UNREACHABLE)
    import_function(provider)
    secrets = DEFAULT_PROVIDERS.get("secrets")
    assert secrets is not None
    assert secrets.client.meta.endpoint_url == UNREACHABLE
    assert shared_http_client.cache_info().currsize == 1


@pytest.mark.usefixtures("fresh_environment")
def test_without_a_region_import_succeeds_and_the_call_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))  # nor a region there
    module = import_function("surecart")
    assert "secrets" not in DEFAULT_PROVIDERS

    answer = module.lambda_handler(load_event("surecart", "get_refund"), FakeLambdaContext())
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"])["error"]["code"] == "configuration_error"


# ------------------------------------------------------------------ the watch function
WATCH_ENV = {"RECORDS_TABLE_NAME": "refund-records"}


@pytest.fixture
def fresh_watch_clients() -> Iterator[None]:
    shared_records.cache_clear()
    shared_fleet.cache_clear()
    yield
    shared_records.cache_clear()
    shared_fleet.cache_clear()


def watch_event(method: str) -> dict[str, Any]:
    return load_event("surecart", "get_refund") | {
        "httpMethod": method,
        "resource": "/refunds/{provider}/{refund_id}/watch",
        "path": "/refunds/surecart/re_1/watch",
        "pathParameters": {"provider": "surecart", "refund_id": "re_1"},
    }


@pytest.mark.usefixtures("fresh_watch_clients")
def test_watch_import_builds_its_dynamodb_clients_and_calls_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", UNREACHABLE)
    for name, value in WATCH_ENV.items():
        monkeypatch.setenv(name, value)
    import_function("watch")
    assert shared_records.cache_info().currsize == 1
    assert shared_fleet.cache_info().currsize == 1


@pytest.mark.usefixtures("fresh_watch_clients")
def test_watch_import_without_its_env_leaves_the_clients_to_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in WATCH_ENV:
        monkeypatch.delenv(name, raising=False)
    module = import_function("watch")
    assert shared_records.cache_info().currsize == 0

    answer = module.lambda_handler(watch_event("GET"), FakeLambdaContext())
    assert answer["statusCode"] == 500
    assert json.loads(answer["body"])["error"]["code"] == "configuration_error"


@pytest.mark.usefixtures("fresh_watch_clients")
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_watch_without_a_region_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, method: str
) -> None:
    for name, value in WATCH_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    module = import_function("watch")
    assert shared_records.cache_info().currsize == 0

    answer = module.lambda_handler(watch_event(method), FakeLambdaContext())
    assert answer["statusCode"] == 500
    body = json.loads(answer["body"])
    assert body["error"]["code"] == "configuration_error"
    assert body["error"]["retryable"] is False
