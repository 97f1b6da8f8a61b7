"""The four Lambda handlers, invoked with the `events/` files, secrets in moto Secrets Manager,
provider HTTP answered by recorded payloads (respx): what `sam local invoke -e` would show."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
import respx
from moto import mock_aws

from tests.helpers import FakeLambdaContext, load_event, secret_for

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
EXAMPLE_IDS = {
    "convergegate": "kLcRRC5P8U68CYe0kVA",
    "surecart": "86d3873a-3d4f-47fb-a541-0d8ac61684fe",
    "gr4vy": "6a1d4e46-14ed-4fe1-a45d-5f3e6f1f7b3d",
    "shoplazza": "123456",
}
# Where each provider's refund lives, for the secrets of tests.helpers.secret_for.
REFUND_URLS = {
    "convergegate": "https://checkout.example-merchant.test/v1/refunds/{id}",
    "surecart": "https://api.surecart.com/v1/refunds/{id}",
    "gr4vy": "https://api.sandbox.acme.gr4vy.app/refunds/{id}",
    "shoplazza": "https://acme.myshoplaza.com/openapi/2024-07/shoplazza-payment/refunds/{id}",
}
# One recorded pending answer per provider, in its own format.
PENDING_ANSWERS: dict[str, Any] = {
    "convergegate": {
        "id": "kLcRRC5P8U68CYe0kVA",
        "amount": 1000,
        "status": "pending",
        "reason": "requested_by_customer",
        "created_at": 1534255857,
        "livemode": False,
    },
    "surecart": {
        "id": "86d3873a-3d4f-47fb-a541-0d8ac61684fe",
        "object": "refund",
        "amount": 1450,
        "currency": "usd",
        "external_refund_id": "u7ryosaryqp6juz",
        "failure_reason": None,
        "live_mode": True,
        "metadata": {},
        "reason": "requested_by_customer",
        "status": "pending",
        "charge": "aad049df-5de8-4e14-9c27-3ae6acd5353b",
        "customer": "c4864282-8edd-4721-8789-0b6cb6609e22",
        "return_request": None,
        "created_at": 1770234892,
        "updated_at": 1770234892,
    },
    "gr4vy": {
        "type": "refund",
        "id": "6a1d4e46-14ed-4fe1-a45d-5f3e6f1f7b3d",
        "transaction_id": "0f1b7c1e-8d9a-4a77-9c1c-4b0a3c1f2e55",
        "payment_service_refund_id": None,
        "status": "processing",
        "currency": "USD",
        "amount": 1299,
        "reason": "requested_by_customer",
        "target_type": "payment-method",
        "target_id": None,
        "external_identifier": None,
        "reconciliation_id": "3E7RTQdzY1VW6Pr0WJ5nQ0",
        "transaction_reconciliation_id": "0Qk6UuFnjMKd4cLwqtxKV0",
        "created_at": "2024-04-28T06:50:19.333316+00:00",
        "updated_at": "2024-04-28T06:50:19.333316+00:00",
        "settled": False,
    },
    "shoplazza": {
        "code": "Success",
        "message": "Request successful",
        "data": {
            "refund_order": {
                "id": "123456",
                "store_id": "store123",
                "transaction_order_id": "trans123",
                "status": "processing",
                "amount": "50.00",
                "balance_currency": "USD",
                "original_order_amount": "100.00",
                "created_at": "2024-04-28T06:50:19Z",
                "completed_at": "",
            }
        },
    },
}
NOT_FOUND_ANSWERS: dict[str, tuple[int, Any]] = {
    "convergegate": (
        404,
        {"error": {"type": "invalid_request_error", "code": "resource_missing", "message": "x"}},
    ),
    "surecart": (
        422,
        {"http_status": "unprocessable_entity", "type": "not_found", "code": "not_found"},
    ),
    "gr4vy": (404, {"type": "error", "code": "not_found", "status": 404, "message": "x"}),
    "shoplazza": (404, {"code": "NotFound", "message": "refund order not found"}),
}


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def deploy(aws: Any, monkeypatch: pytest.MonkeyPatch, provider: str, secret: Any) -> Any:
    """Put the provider's secret in place as the stack would, and import its function."""
    name = f"refund-status/{provider}"
    text = secret if isinstance(secret, str) else json.dumps(secret)
    aws.create_secret(Name=name, SecretString=text)
    monkeypatch.setenv("PROVIDER_SECRET_ID", name)
    return importlib.import_module(f"functions.{provider}.app")


def invoke(module: Any, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    result = module.lambda_handler(event, FakeLambdaContext())
    headers = {k: v[-1] for k, v in result.get("multiValueHeaders", {}).items()}
    headers.update(result.get("headers") or {})
    return result["statusCode"], headers, json.loads(result["body"])


@pytest.mark.parametrize("provider", PROVIDERS)
def test_get_refund_event_answers_the_normalized_refund(
    aws: Any, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    module = deploy(aws, monkeypatch, provider, secret_for(provider))
    refund_id = EXAMPLE_IDS[provider]
    with respx.mock(assert_all_called=True) as mock:
        mock.get(REFUND_URLS[provider].format(id=refund_id)).respond(
            200, json=PENDING_ANSWERS[provider]
        )
        status, headers, body = invoke(module, load_event(provider, "get_refund"))
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert list(body) == [
        "provider", "account", "refund_id", "status", "terminal", "provider_status", "amount",
        "currency",
        "reason", "failure_reason", "payment_id", "created_at", "updated_at", "completed_at",
        "live_mode", "fetched_at",
    ]  # fmt: skip
    assert body["provider"] == provider
    assert body["refund_id"] == refund_id
    assert body["status"] == "pending"
    assert body["terminal"] is False
    assert body["fetched_at"].endswith("Z")


def test_gr4vy_answer_matches_the_contract_example(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = deploy(aws, monkeypatch, "gr4vy", secret_for("gr4vy"))
    with respx.mock as mock:
        mock.get(REFUND_URLS["gr4vy"].format(id=EXAMPLE_IDS["gr4vy"])).respond(
            200, json=PENDING_ANSWERS["gr4vy"]
        )
        _, _, body = invoke(module, load_event("gr4vy", "get_refund"))
    body.pop("fetched_at")
    assert body == {
        "provider": "gr4vy",
        "account": "default",
        "refund_id": "6a1d4e46-14ed-4fe1-a45d-5f3e6f1f7b3d",
        "status": "pending",
        "terminal": False,
        "provider_status": "processing",
        "amount": 1299,
        "currency": "USD",
        "reason": "requested_by_customer",
        "failure_reason": None,
        "payment_id": "0f1b7c1e-8d9a-4a77-9c1c-4b0a3c1f2e55",
        "created_at": "2024-04-28T06:50:19.333316Z",
        "updated_at": "2024-04-28T06:50:19.333316Z",
        "completed_at": None,
        "live_mode": False,
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_account_event_answers_with_that_accounts_secret(
    aws: Any, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    """`events/<provider>/get_account_refund.json`: account store-42's secret, not the
    default one (which here points at a host nobody answers)."""
    default = secret_for(provider, base_url="https://default-account.invalid")
    module = deploy(aws, monkeypatch, provider, default)
    aws.create_secret(
        Name=f"refund-status/{provider}/store-42", SecretString=json.dumps(secret_for(provider))
    )
    monkeypatch.setenv("ACCOUNT_SECRET_PREFIX", f"refund-status/{provider}/")
    refund_id = EXAMPLE_IDS[provider]
    with respx.mock(assert_all_called=True) as mock:
        mock.get(REFUND_URLS[provider].format(id=refund_id)).respond(
            200, json=PENDING_ANSWERS[provider]
        )
        status, _, body = invoke(module, load_event(provider, "get_account_refund"))
    assert status == 200, body
    assert (body["provider"], body["account"], body["refund_id"]) == (
        provider, "store-42", refund_id,
    )  # fmt: skip


@pytest.mark.parametrize("provider", PROVIDERS)
def test_invalid_refund_id_event_is_400_without_a_provider_call(
    aws: Any, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    module = deploy(aws, monkeypatch, provider, secret_for(provider))
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().respond(200, json=PENDING_ANSWERS[provider])
        status, headers, body = invoke(module, load_event(provider, "invalid_refund_id"))
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert body["error"]["code"] == "invalid_refund_id"
    assert body["error"]["provider"] == provider
    assert body["error"]["retryable"] is False
    assert route.call_count == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_not_found_event_is_404_refund_not_found(
    aws: Any, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    module = deploy(aws, monkeypatch, provider, secret_for(provider))
    status_code, answer = NOT_FOUND_ANSWERS[provider]
    with respx.mock as mock:
        mock.get(REFUND_URLS[provider].format(id="does-not-exist")).respond(
            status_code, json=answer
        )
        status, _, body = invoke(module, load_event(provider, "not_found"))
    assert status == 404
    assert body["error"]["code"] == "refund_not_found"
    assert body["error"]["retryable"] is False


@pytest.mark.parametrize("provider", PROVIDERS)
def test_wrong_method_event_is_405(
    aws: Any, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    module = deploy(aws, monkeypatch, provider, secret_for(provider))
    status, headers, body = invoke(module, load_event(provider, "method_not_allowed"))
    assert status == 405
    assert headers["Allow"] == "GET"
    assert body["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "path_parameters", "expected_status", "expected_code"),
    [
        ("/refunds/surecart/a/b", {"refund_id": "a/b"}, 400, "invalid_refund_id"),
        ("/refunds/surecart/..%2Fx", {"refund_id": "../x"}, 400, "invalid_refund_id"),
        ("/refunds/surecart/%2F", {"refund_id": "%2F"}, 400, "invalid_refund_id"),
        ("/refunds/surecart/", {"refund_id": ""}, 400, "invalid_refund_id"),
        ("/refunds/surecart/" + "a" * 129, {"refund_id": "a" * 129}, 400, "invalid_refund_id"),
        ("/refunds/surecart/caf%C3%A9", {"refund_id": "café"}, 400, "invalid_refund_id"),
        ("/refunds/surecart/", None, 404, "route_not_found"),
        ("/refunds/surecart/a/b", None, 404, "route_not_found"),
        ("/refunds/gr4vy/abc", None, 404, "route_not_found"),
        ("/refunds/gr4vy/abc", {"refund_id": "abc"}, 404, "route_not_found"),
        ("/", None, 404, "route_not_found"),
    ],
)
def test_route_misses_and_bad_ids_answer_the_error_shape(
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
    path_parameters: dict[str, str] | None,
    expected_status: int,
    expected_code: str,
) -> None:
    module = deploy(aws, monkeypatch, "surecart", secret_for("surecart"))
    event = load_event("surecart", "get_refund") | {
        "path": path,
        "pathParameters": path_parameters,
    }
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().respond(200, json=PENDING_ANSWERS["surecart"])
        status, headers, body = invoke(module, event)
    assert (status, body["error"]["code"]) == (expected_status, expected_code)
    assert headers["Content-Type"] == "application/json"
    assert set(body["error"]) == {"code", "message", "provider", "account", "retryable"}
    assert route.call_count == 0


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("{}", "no keys"),
        ("not json", "not JSON"),
        ('["a"]', "not an object"),
        (json.dumps({"api_token": ""}), "empty token"),
        (json.dumps({"api_token": "t", "base_url": "http://api.surecart.com"}), "plain http"),
        (json.dumps({"api_token": "t", "base_url": "ftp://x.test"}), "not http"),
        (json.dumps({"api_token": "t", "base_url": "https://u:p@x.test"}), "user info"),
    ],
)
def test_malformed_secret_is_500_configuration_error(
    aws: Any, monkeypatch: pytest.MonkeyPatch, secret: str, why: str
) -> None:
    module = deploy(aws, monkeypatch, "surecart", secret)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.route().respond(200, json=PENDING_ANSWERS["surecart"])
        status, _, body = invoke(module, load_event("surecart", "get_refund"))
    assert (status, body["error"]["code"]) == (500, "configuration_error"), why
    assert route.call_count == 0


def test_missing_secret_is_500_configuration_error(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("functions.surecart.app")
    monkeypatch.setenv("PROVIDER_SECRET_ID", "refund-status/never-created")
    status, _, body = invoke(module, load_event("surecart", "get_refund"))
    assert (status, body["error"]["code"]) == (500, "configuration_error")


def test_unset_secret_id_is_500_configuration_error(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module("functions.surecart.app")
    monkeypatch.delenv("PROVIDER_SECRET_ID", raising=False)
    status, _, body = invoke(module, load_event("surecart", "get_refund"))
    assert (status, body["error"]["code"]) == (500, "configuration_error")
    assert "PROVIDER_SECRET_ID" in body["error"]["message"]


def test_insecure_url_allowed_only_by_the_sam_local_switch(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://host.docker.internal:8102"
    module = deploy(aws, monkeypatch, "surecart", secret_for("surecart", base_url=url))
    status, _, body = invoke(module, load_event("surecart", "get_refund"))
    assert (status, body["error"]["code"]) == (500, "configuration_error")

    monkeypatch.setenv("ALLOW_INSECURE_PROVIDER_URL", "true")
    from refund_core.settings import provider_function_settings

    provider_function_settings.cache_clear()
    with respx.mock as mock:
        mock.get(f"{url}/v1/refunds/{EXAMPLE_IDS['surecart']}").respond(
            200, json=PENDING_ANSWERS["surecart"]
        )
        status, _, body = invoke(module, load_event("surecart", "get_refund"))
    assert status == 200


def test_loopback_http_base_url_is_allowed(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://127.0.0.1:8102"
    module = deploy(aws, monkeypatch, "surecart", secret_for("surecart", base_url=url))
    with respx.mock as mock:
        mock.get(f"{url}/v1/refunds/{EXAMPLE_IDS['surecart']}").respond(
            200, json=PENDING_ANSWERS["surecart"]
        )
        status, _, _ = invoke(module, load_event("surecart", "get_refund"))
    assert status == 200


def test_rate_limit_passes_retry_after_on(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    module = deploy(aws, monkeypatch, "surecart", secret_for("surecart"))
    with respx.mock as mock:
        mock.get(REFUND_URLS["surecart"].format(id=EXAMPLE_IDS["surecart"])).respond(
            429, headers={"Retry-After": "7"}, json={"type": "rate_limited"}
        )
        status, headers, body = invoke(module, load_event("surecart", "get_refund"))
    assert status == 503
    assert headers["Retry-After"] == "7"
    assert body["error"] == {
        "code": "provider_rate_limited",
        "message": body["error"]["message"],
        "provider": "surecart",
        "account": "default",
        "retryable": True,
    }


def test_rotated_secret_is_picked_up_after_an_auth_failure(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = deploy(aws, monkeypatch, "surecart", {"api_token": "old-token"})
    url = REFUND_URLS["surecart"].format(id=EXAMPLE_IDS["surecart"])

    def by_token(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer new-token":
            return httpx.Response(200, json=PENDING_ANSWERS["surecart"])
        return httpx.Response(401, json={"type": "unauthorized", "code": "unauthorized"})

    with respx.mock as mock:
        route = mock.get(url).mock(side_effect=by_token)
        assert invoke(module, load_event("surecart", "get_refund"))[0] == 502
        aws.put_secret_value(
            SecretId="refund-status/surecart", SecretString=json.dumps({"api_token": "new-token"})
        )
        # The old value is still cached: the 401 makes the function re-read the secret.
        assert invoke(module, load_event("surecart", "get_refund"))[0] == 200
        assert route.call_count == 3


def test_event_that_is_not_api_gateway_is_refused(
    aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from refund_core.errors import InvalidRequest

    module = deploy(aws, monkeypatch, "surecart", secret_for("surecart"))
    with pytest.raises(InvalidRequest):
        module.lambda_handler({"hello": "world"}, FakeLambdaContext())


def test_functions_do_not_share_modules_state(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    handlers = {p: importlib.import_module(f"functions.{p}.app").lambda_handler for p in PROVIDERS}
    assert len({id(h) for h in handlers.values()}) == len(PROVIDERS)
