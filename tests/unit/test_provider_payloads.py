"""Every recorded status payload of every provider, through the real client (mock transport):
the whole normalized refund of contract section 4, and the exact request each client sent."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.helpers import (
    CONVERGEGATE_SECRET_KEY,
    SHOPLAZZA_ACCESS_TOKEN,
    SURECART_API_TOKEN,
    RecordingHandler,
    answer_json,
    payload,
    payload_names,
    payload_refund_id,
    provider_on,
    secret_for,
)
from tests.unit.conftest import FIXED_NOW_TEXT

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")

CG_ID = "kLcRRC5P8U68CYe0kVA"
SC_ID = "86d3873a-3d4f-47fb-a541-0d8ac61684fe"
SC_CHARGE = "aad049df-5de8-4e14-9c27-3ae6acd5353b"
G_ID = "6a1d4e46-14ed-4fe1-a45d-5f3e6f1f7b3d"
G_TRANSACTION = "0f1b7c1e-8d9a-4a77-9c1c-4b0a3c1f2e55"
SL_ID = "123456"


def _refund(**fields: Any) -> dict[str, Any]:
    return {"fetched_at": FIXED_NOW_TEXT, "account": "default", **fields}


CG_BASE = _refund(
    provider="convergegate",
    refund_id=CG_ID,
    amount=1000,
    currency=None,  # ConvergeGate refunds carry no currency
    reason="requested_by_customer",
    failure_reason=None,
    payment_id=None,  # nor a checkout session id
    created_at="2018-08-14T14:10:57Z",  # 1534255857
    updated_at=None,
    completed_at=None,
    live_mode=False,
)
SC_BASE = _refund(
    provider="surecart",
    refund_id=SC_ID,
    amount=1450,
    currency="USD",
    reason="requested_by_customer",
    failure_reason=None,
    payment_id=SC_CHARGE,
    created_at="2026-02-04T19:54:52Z",  # 1770234892
    updated_at="2026-02-04T19:54:52Z",
    completed_at=None,
    live_mode=True,
)
G_BASE = _refund(
    provider="gr4vy",
    refund_id=G_ID,
    amount=1299,
    currency="USD",
    reason="requested_by_customer",
    failure_reason=None,
    payment_id=G_TRANSACTION,
    created_at="2024-04-28T06:50:19Z",
    updated_at="2024-04-28T06:50:19.333316Z",
    completed_at=None,
    live_mode=False,  # the sandbox environment of tests.helpers.secret_for
)
SL_BASE = _refund(
    provider="shoplazza",
    refund_id=SL_ID,
    amount=5000,
    currency="USD",
    reason=None,
    failure_reason=None,
    payment_id="trans123",
    created_at="2024-04-28T06:50:19Z",
    updated_at=None,
    completed_at="2024-04-28T06:52:36Z",
    live_mode=None,
)


def _status(status: str, provider_status: str) -> dict[str, Any]:
    terminal = status in ("succeeded", "failed", "canceled")
    return {"status": status, "terminal": terminal, "provider_status": provider_status}


# (provider, payload name) -> the whole normalized refund, written out by hand from the payload.
EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("convergegate", "status_pending"): {**CG_BASE, **_status("pending", "pending")},
    ("convergegate", "status_succeeded"): {**CG_BASE, **_status("succeeded", "succeeded")},
    ("convergegate", "status_failed"): {
        **CG_BASE,
        **_status("failed", "failed"),
        "reason": "duplicated",
    },
    ("convergegate", "status_canceled"): {
        **CG_BASE,
        **_status("canceled", "canceled"),
        "reason": "fraudulent",
    },
    ("convergegate", "status_cancelled"): {
        **CG_BASE,
        **_status("canceled", "cancelled"),
        "amount": 250,
        "created_at": "2018-08-14T14:15:02Z",
        "live_mode": True,
    },
    ("convergegate", "status_unseen"): {**CG_BASE, **_status("unknown", "reversed")},
    ("surecart", "status_pending"): {**SC_BASE, **_status("pending", "pending")},
    ("surecart", "status_succeeded"): {
        **SC_BASE,
        **_status("succeeded", "succeeded"),
        "updated_at": "2026-02-04T19:56:52Z",
    },
    ("surecart", "status_failed"): {
        **SC_BASE,
        **_status("failed", "failed"),
        "failure_reason": "insufficient_funds",
        "updated_at": "2026-02-04T20:57:21Z",
    },
    ("surecart", "status_canceled"): {
        **SC_BASE,
        **_status("canceled", "canceled"),
        "reason": "duplicate",
        "live_mode": False,
        "updated_at": "2026-02-04T19:56:52Z",
    },
    ("surecart", "status_unseen"): {**SC_BASE, **_status("unknown", "reversed")},
    ("surecart", "status_succeeded_charge_expanded"): {
        **SC_BASE,
        **_status("succeeded", "succeeded"),
        "updated_at": "2026-02-04T19:56:52Z",
    },
    ("surecart", "status_pending_null_timestamps"): {
        **SC_BASE,
        **_status("pending", "pending"),
        "created_at": None,
        "updated_at": None,
    },
    ("gr4vy", "status_processing"): {**G_BASE, **_status("pending", "processing")},
    ("gr4vy", "status_succeeded"): {
        **G_BASE,
        **_status("succeeded", "succeeded"),
        "updated_at": "2024-04-28T06:52:36.104857Z",
    },
    ("gr4vy", "status_declined"): {
        **G_BASE,
        **_status("failed", "declined"),
        "failure_reason": "insufficient_funds",
        "updated_at": "2024-04-28T06:52:36.104857Z",
    },
    ("gr4vy", "status_failed"): {
        **G_BASE,
        **_status("failed", "failed"),
        "failure_reason": "Payment service unreachable",
        "updated_at": "2024-04-28T06:51:02.000417Z",
    },
    ("gr4vy", "status_voided"): {
        **G_BASE,
        **_status("canceled", "voided"),
        "reason": "Customer kept\nthe item",
        "updated_at": "2024-04-28T06:51:40.500000Z",
    },
    ("gr4vy", "status_unseen"): {**G_BASE, **_status("unknown", "reversed")},
    ("gr4vy", "status_succeeded_offset"): {
        **G_BASE,
        **_status("succeeded", "succeeded"),
        "amount": 5000,
        "currency": "JPY",
        "created_at": "2024-04-28T06:50:19.333316Z",  # 08:50:19.333316+02:00
        "updated_at": "2024-04-28T06:52:36Z",  # 2024-04-27T22:52:36-08:00
    },
    ("shoplazza", "status_processing"): {
        **SL_BASE,
        **_status("pending", "processing"),
        "completed_at": None,  # "" from the provider is null
    },
    ("shoplazza", "status_succeeded"): {**SL_BASE, **_status("succeeded", "succeeded")},
    ("shoplazza", "status_failed"): {
        **SL_BASE,
        **_status("failed", "failed"),
        "completed_at": "2024-04-28T06:55:02Z",
    },
    ("shoplazza", "status_unseen"): {**SL_BASE, **_status("unknown", "reversed")},
    ("shoplazza", "status_succeeded_lowercase_code"): {
        **SL_BASE,
        **_status("succeeded", "succeeded"),
    },
    ("shoplazza", "status_succeeded_jpy"): {
        **SL_BASE,
        **_status("succeeded", "succeeded"),
        "amount": 5000,  # "5000" JPY: exponent 0
        "currency": "JPY",
    },
    ("shoplazza", "status_succeeded_kwd"): {
        **SL_BASE,
        **_status("succeeded", "succeeded"),
        "amount": 1250,  # "1.250" KWD: exponent 3
        "currency": "KWD",
    },
}

# Contract section 2 paths on the default hosts of section 3 (tests.helpers.secret_for).
EXPECTED_URLS = {
    "convergegate": "https://checkout.example-merchant.test/v1/refunds/{id}",
    "surecart": "https://api.surecart.com/v1/refunds/{id}",
    "gr4vy": "https://api.sandbox.acme.gr4vy.app/refunds/{id}",
    "shoplazza": "https://acme.myshoplaza.com/openapi/2024-07/shoplazza-payment/refunds/{id}",
}

KEY_ORDER = [
    "provider",
    "account",
    "refund_id",
    "status",
    "terminal",
    "provider_status",
    "amount",
    "currency",
    "reason",
    "failure_reason",
    "payment_id",
    "created_at",
    "updated_at",
    "completed_at",
    "live_mode",
    "fetched_at",
]

STATUS_PAYLOADS = [(p, name) for p in PROVIDERS for name in payload_names(p, "status_")]


def _get(provider: str, name: str, **kwargs: Any) -> tuple[dict[str, Any], RecordingHandler]:
    body = payload(provider, name)
    handler = RecordingHandler(answer_json(body))
    refund = provider_on(provider, handler, **kwargs).get_refund(payload_refund_id(provider, body))
    return refund.to_json_dict(), handler


def _b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_every_status_payload_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(STATUS_PAYLOADS)


def test_every_documented_status_word_has_a_payload() -> None:
    documented = {
        "convergegate": {"pending", "succeeded", "failed", "canceled", "cancelled", "unseen"},
        "surecart": {"pending", "succeeded", "failed", "canceled", "unseen"},
        "gr4vy": {"processing", "succeeded", "declined", "failed", "voided", "unseen"},
        "shoplazza": {"processing", "succeeded", "failed", "unseen"},
    }
    for provider, words in documented.items():
        assert {f"status_{w}" for w in words} <= set(payload_names(provider, "status_"))


@pytest.mark.usefixtures("fixed_now")
@pytest.mark.parametrize(("provider", "name"), STATUS_PAYLOADS)
def test_status_payload_normalizes_to_the_contract_shape(provider: str, name: str) -> None:
    refund, _ = _get(provider, name)

    assert refund == EXPECTED[(provider, name)]
    assert list(refund) == KEY_ORDER
    assert type(refund["amount"]) is int


@pytest.mark.usefixtures("fixed_now")
@pytest.mark.parametrize(("provider", "name"), STATUS_PAYLOADS)
def test_status_payload_request_is_one_get_on_the_documented_url(provider: str, name: str) -> None:
    body = payload(provider, name)
    _, handler = _get(provider, name)

    assert len(handler.requests) == 1
    request = handler.requests[0]
    assert request.method == "GET"
    assert str(request.url) == EXPECTED_URLS[provider].format(id=payload_refund_id(provider, body))
    assert request.content == b""
    assert request.headers["accept"] == "application/json"


def _one_request(provider: str, secret: dict[str, Any] | None = None) -> httpx.Request:
    name = "status_succeeded"
    handler = RecordingHandler(answer_json(payload(provider, name)))
    client = provider_on(provider, handler, secret=secret)
    client.get_refund(payload_refund_id(provider, payload(provider, name)))
    assert len(handler.requests) == 1
    return handler.requests[0]


def test_convergegate_sends_basic_auth_with_the_key_as_user_and_no_password() -> None:
    request = _one_request("convergegate")

    scheme, _, credentials = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials, validate=True) == f"{CONVERGEGATE_SECRET_KEY}:".encode()
    assert "access-token" not in request.headers


def test_surecart_sends_the_api_token_as_bearer() -> None:
    request = _one_request("surecart")

    assert request.headers["authorization"] == f"Bearer {SURECART_API_TOKEN}"


def test_shoplazza_sends_access_token_and_no_authorization() -> None:
    request = _one_request("shoplazza")

    assert request.headers["access-token"] == SHOPLAZZA_ACCESS_TOKEN
    assert "authorization" not in request.headers


def test_gr4vy_sends_an_es512_bearer_jwt_and_no_merchant_header_by_default() -> None:
    request = _one_request("gr4vy")

    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    parts = token.split(".")
    assert len(parts) == 3
    assert all(parts)
    header = _b64url_json(parts[0])
    assert header["alg"] == "ES512"
    assert header["kid"]
    assert _b64url_json(parts[1])["scopes"] == ["transactions.read"]
    assert "x-gr4vy-merchant-account-id" not in request.headers


def test_gr4vy_sends_the_merchant_account_header_when_the_secret_names_one() -> None:
    secret = {**secret_for("gr4vy"), "merchant_account_id": "acme-eu"}

    request = _one_request("gr4vy", secret)

    assert request.headers["x-gr4vy-merchant-account-id"] == "acme-eu"


def test_gr4vy_production_uses_the_instance_host_and_reports_live_mode() -> None:
    secret = {**secret_for("gr4vy"), "environment": "production"}
    handler = RecordingHandler(answer_json(payload("gr4vy", "status_succeeded")))

    refund = provider_on("gr4vy", handler, secret=secret).get_refund(G_ID)

    assert str(handler.requests[0].url) == f"https://api.acme.gr4vy.app/refunds/{G_ID}"
    assert refund.live_mode is True


def test_gr4vy_environment_defaults_to_production() -> None:
    secret = {k: v for k, v in secret_for("gr4vy").items() if k != "environment"}

    request = _one_request("gr4vy", secret)

    assert request.url.host == "api.acme.gr4vy.app"


def test_shoplazza_api_version_from_the_secret_goes_into_the_path() -> None:
    secret = {**secret_for("shoplazza"), "api_version": "2025-06"}

    request = _one_request("shoplazza", secret)

    assert str(request.url) == (
        "https://acme.myshoplaza.com/openapi/2025-06/shoplazza-payment/refunds/123456"
    )


@pytest.mark.parametrize(
    ("provider", "path"),
    [
        ("convergegate", f"/v1/refunds/{CG_ID}"),
        ("surecart", f"/v1/refunds/{SC_ID}"),
        ("gr4vy", f"/refunds/{G_ID}"),
        ("shoplazza", "/openapi/2024-07/shoplazza-payment/refunds/123456"),
    ],
)
@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080", "https://sandbox.example.test/", "http://localhost:9"]
)
def test_base_url_in_the_secret_replaces_the_default_host(
    provider: str, path: str, base_url: str
) -> None:
    request = _one_request(provider, secret_for(provider, base_url))

    assert str(request.url) == base_url.rstrip("/") + path


def _refund_object_of(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    refund: dict[str, Any] = body["data"]["refund_order"] if provider == "shoplazza" else body
    return refund


def _normalized(provider: str, body: dict[str, Any]) -> dict[str, Any]:
    client = provider_on(provider, RecordingHandler(answer_json(body)))
    return client.get_refund(payload_refund_id(provider, body)).to_json_dict()


@pytest.mark.usefixtures("fixed_now")
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("word", [None, ""])
def test_a_null_or_empty_status_word_is_unknown_not_an_error(
    provider: str, word: str | None
) -> None:
    body = payload(provider, "status_succeeded")
    _refund_object_of(provider, body)["status"] = word

    refund = _normalized(provider, body)

    assert (refund["status"], refund["terminal"], refund["provider_status"]) == (
        "unknown",
        False,
        None,
    )


# Contract section 4: "an empty string from the provider is null too", whatever the field's type.
EMPTY_FIELDS = [
    ("convergegate", "amount", "amount"),
    ("convergegate", "created_at", "created_at"),
    ("convergegate", "livemode", "live_mode"),
    ("surecart", "amount", "amount"),
    ("surecart", "created_at", "created_at"),
    ("surecart", "updated_at", "updated_at"),
    ("surecart", "live_mode", "live_mode"),
    ("surecart", "currency", "currency"),
    ("gr4vy", "amount", "amount"),
    ("gr4vy", "currency", "currency"),
    ("gr4vy", "created_at", "created_at"),
    ("shoplazza", "amount", "amount"),
    ("shoplazza", "completed_at", "completed_at"),
]


@pytest.mark.usefixtures("fixed_now")
@pytest.mark.parametrize(("provider", "native", "field"), EMPTY_FIELDS)
def test_an_empty_string_in_any_field_is_null(provider: str, native: str, field: str) -> None:
    body = payload(provider, "status_succeeded")
    _refund_object_of(provider, body)[native] = ""

    refund = _normalized(provider, body)

    assert refund[field] is None
    assert refund["status"] == "succeeded"
