"""Every documented field, in each provider's own formats."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from devstack.sandboxes import Sandbox
from devstack.sandboxes.base import format_minor

Start = Callable[..., Sandbox]
GetRefund = Callable[[Sandbox, str], dict[str, Any]]
GR4VY_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
SHOPLAZZA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_convergegate_refund(start: Start, get_refund: GetRefund) -> None:
    sandbox = start("convergegate")
    refund_id = sandbox.create_refund(1000, life="pending", reason="duplicated")
    assert re.fullmatch(r"[A-Za-z0-9]{19}", refund_id)
    refund = get_refund(sandbox, refund_id)
    assert refund == {
        "id": refund_id,
        "amount": 1000,
        "status": "pending",
        "reason": "duplicated",
        "created_at": refund["created_at"],
        "livemode": False,
    }
    assert isinstance(refund["created_at"], int)
    assert "currency" not in refund


@pytest.mark.parametrize(
    ("status", "failure"), [("pending", None), ("failed", "insufficient_funds")]
)
def test_surecart_refund(
    start: Start, get_refund: GetRefund, status: str, failure: str | None
) -> None:
    sandbox = start("surecart")
    refund_id = sandbox.create_refund(1450, "USD", status)
    uuid.UUID(refund_id)
    refund = get_refund(sandbox, refund_id)
    assert set(refund) == {
        "id", "object", "amount", "currency", "external_refund_id", "failure_reason",
        "live_mode", "metadata", "reason", "status", "charge", "customer", "return_request",
        "created_at", "updated_at",
    }  # fmt: skip
    assert refund["object"] == "refund"
    assert refund["currency"] == "usd"
    assert refund["external_refund_id"].startswith("re_")
    assert refund["failure_reason"] == failure
    assert refund["metadata"] == {}
    assert refund["return_request"] is None
    assert refund["live_mode"] is False
    uuid.UUID(refund["charge"])
    uuid.UUID(refund["customer"])
    assert isinstance(refund["created_at"], int)
    assert isinstance(refund["updated_at"], int)


def test_overrides_reach_the_wire(start: Start, get_refund: GetRefund) -> None:
    sandbox = start("surecart")
    refund_id = sandbox.create_refund(
        100, "EUR", overrides={"updated_at": None, "return_request": "rr-1"}
    )
    refund = get_refund(sandbox, refund_id)
    assert refund["updated_at"] is None
    assert refund["return_request"] == "rr-1"
    assert refund["currency"] == "eur"


@pytest.mark.parametrize("status", ["processing", "succeeded", "declined", "failed", "voided"])
def test_gr4vy_refund(start: Start, get_refund: GetRefund, status: str) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund(1299, "eur", status)
    refund = get_refund(sandbox, refund_id)
    required = {
        "type", "id", "transaction_id", "status", "currency", "amount", "target_type",
        "reconciliation_id", "transaction_reconciliation_id", "created_at", "updated_at",
        "settled",
    }  # fmt: skip
    optional = {
        "payment_service_refund_id", "reason", "target_id", "external_identifier",
        "transaction_external_identifier", "creator", "error_code", "raw_response_code",
        "raw_response_description", "settled_currency", "settled_amount",
    }  # fmt: skip
    assert set(refund) == required | optional
    assert refund["type"] == "refund"
    assert refund["currency"] == "EUR"
    assert refund["target_type"] == "payment-method"
    assert GR4VY_TIME.match(refund["created_at"])
    assert GR4VY_TIME.match(refund["updated_at"])
    assert re.fullmatch(r"[0-9A-Za-z]{22}", refund["reconciliation_id"])
    assert re.fullmatch(r"[0-9A-Za-z]{22}", refund["transaction_reconciliation_id"])
    datetime.fromisoformat(refund["created_at"])
    if status in {"declined", "failed"}:
        assert refund["error_code"]
    else:
        assert refund["error_code"] is None


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (5000, "USD", "50.00"),
        (5000, "JPY", "5000"),
        (1250, "KWD", "1.250"),
        (7, "USD", "0.07"),
        (5, "BHD", "0.005"),
        (1, "EUR", "0.01"),
    ],
)
def test_shoplazza_amounts_are_exact_decimal_strings(
    start: Start, get_refund: GetRefund, amount: int, currency: str, expected: str
) -> None:
    sandbox = start("shoplazza")
    refund = get_refund(sandbox, sandbox.create_refund(amount, currency.lower(), "succeeded"))
    assert refund["amount"] == expected
    assert refund["balance_currency"] == currency
    assert refund["original_order_amount"] == format_minor(amount * 2, currency)


def test_shoplazza_refund_order(start: Start, client: Any) -> None:
    sandbox = start("shoplazza")
    refund_id = sandbox.create_refund(5000, "USD", "succeeded")
    assert refund_id.isdigit()
    body = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers()).json()
    assert body["code"] == "Success"
    assert body["message"]
    order = body["data"]["refund_order"]
    assert set(order) == {
        "id", "store_id", "transaction_order_id", "status", "amount", "balance_currency",
        "original_order_amount", "created_at", "completed_at",
    }  # fmt: skip
    assert all(isinstance(value, str) for value in order.values())
    assert SHOPLAZZA_TIME.match(order["created_at"])
    assert SHOPLAZZA_TIME.match(order["completed_at"])


def test_credentials_match_the_contract(sandbox: Sandbox) -> None:
    keys = {
        "convergegate": {"secret_key", "base_url"},
        "surecart": {"api_token", "base_url"},
        "gr4vy": {"instance_id", "private_key", "environment", "base_url"},
        "shoplazza": {"store_domain", "access_token", "api_version", "base_url"},
    }[sandbox.name]
    assert set(sandbox.credentials) == keys
    assert sandbox.credentials["base_url"] == sandbox.base_url
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert all(isinstance(v, str) and v for v in sandbox.credentials.values())
    if sandbox.name == "gr4vy":
        assert sandbox.credentials["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
        assert sandbox.credentials["environment"] == "sandbox"
    if sandbox.name == "shoplazza":
        assert sandbox.credentials["api_version"] == "2024-07"
        assert sandbox.credentials["store_domain"].endswith(".myshoplaza.com")
