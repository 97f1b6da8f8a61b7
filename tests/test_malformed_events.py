"""API events no API Gateway would send (a path that is no string, pathParameters that is a
list...) answer 400 invalid_request in the error shape: never a raw TypeError, which API
Gateway would turn into a 502 with no error code. Every provider function and the watch one."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refund_core.errors import ConfigurationError
from refund_core.watch import build_watch_handler
from tests.helpers import FakeLambdaContext, load_event

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
# The contract's codes (section 4 and 5) and invalid_request: what an answer may carry.
DOCUMENTED = {
    "invalid_refund_id",
    "refund_not_found",
    "provider_auth_failed",
    "provider_rate_limited",
    "provider_unavailable",
    "provider_timeout",
    "provider_bad_response",
    "configuration_error",
    "route_not_found",
    "method_not_allowed",
    "invalid_request",
    "watch_not_found",
}

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def unconfigured() -> Any:
    # As a watch function without its table or state machine: a documented error.
    raise ConfigurationError("environment variable missing or invalid: RECORDS_TABLE_NAME")


@pytest.fixture(scope="module")
def handlers() -> Iterator[dict[str, Handler]]:
    # No secret named: a well-formed event that gets as far as the provider answers a
    # documented configuration_error (no network), so every answer here is an error answer.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PROVIDER_SECRET_ID", "")
        mp.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: no real AWS
        found: dict[str, Handler] = {
            provider: importlib.import_module(f"functions.{provider}.app").lambda_handler
            for provider in PROVIDERS
        }
        found["watch"] = build_watch_handler(records=unconfigured, fleet=unconfigured)
        yield found


def api_event(target: str) -> dict[str, Any]:
    if target == "watch":
        return load_event("surecart", "get_refund") | {
            "httpMethod": "POST",
            "resource": "/refunds/{provider}/{refund_id}/watch",
            "path": "/refunds/surecart/re_1/watch",
            "pathParameters": {"provider": "surecart", "refund_id": "re_1"},
        }
    return load_event(target, "get_refund")


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    headers = answer.get("multiValueHeaders") or {}
    assert headers.get("Content-Type") == ["application/json"], answer
    body = json.loads(answer["body"])
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert error["code"] in DOCUMENTED
    assert set(error) == {"code", "message", "provider", "account", "retryable"}
    return error


MALFORMED: list[tuple[str, Any]] = [
    ("path", None),
    ("path", 5),
    ("path", ["/refunds"]),
    ("httpMethod", None),
    ("httpMethod", 1),
    ("httpMethod", ["GET"]),
    ("pathParameters", ["re_1"]),
    ("pathParameters", "re_1"),
    ("pathParameters", {"refund_id": 5}),
    ("queryStringParameters", "refresh=true"),
    ("queryStringParameters", ["a"]),
    ("headers", "Accept: */*"),
    ("headers", {"Accept": 5}),
    ("multiValueHeaders", "x"),
    ("multiValueHeaders", {"Accept": "*/*"}),
    ("multiValueQueryStringParameters", {"refresh": "true"}),
    ("requestContext", "ctx"),
    ("body", {"first_check_seconds": 5}),
    ("isBase64Encoded", "yes"),
]


@pytest.mark.parametrize("target", [*PROVIDERS, "watch"])
@pytest.mark.parametrize(("field", "value"), MALFORMED)
def test_a_malformed_api_event_is_400_invalid_request(
    handlers: dict[str, Handler], target: str, field: str, value: Any
) -> None:
    event = api_event(target) | {field: value}

    answer = handlers[target](event, FakeLambdaContext())

    assert answer["statusCode"] == 400
    error = error_of(answer)
    assert (error["code"], error["retryable"]) == ("invalid_request", False)
    assert field in error["message"]


@pytest.mark.parametrize("target", [*PROVIDERS, "watch"])
def test_an_event_with_only_a_method_is_400(handlers: dict[str, Handler], target: str) -> None:
    answer = handlers[target]({"httpMethod": "GET"}, FakeLambdaContext())
    assert (answer["statusCode"], error_of(answer)["code"]) == (400, "invalid_request")


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [field for field, _ in MALFORMED] + ["resource", "stageVariables"]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from([*PROVIDERS, "watch"]),
    changes=st.dictionaries(st.sampled_from(FIELDS), JSONISH, min_size=1, max_size=4),
)
def test_any_shape_of_api_event_gets_a_documented_error_answer(
    handlers: dict[str, Handler], target: str, changes: dict[str, Any]
) -> None:
    answer = handlers[target](api_event(target) | changes, FakeLambdaContext())
    assert 400 <= answer["statusCode"] < 600
    assert error_of(answer)["code"] != "internal_error"
