"""Contract section 4 over real HTTP: every documented status, amounts, currencies, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.sandboxes import Sandbox
from tests.integration.harness import (
    PROVIDERS,
    Deployment,
    assert_nothing_secret_leaked,
    assert_refund,
    parse_z,
    provider_object,
)

# Every status each provider documents, and its canonical status per the contract's table.
DOCUMENTED_STATUSES: dict[str, dict[str, str]] = {
    "convergegate": {
        "pending": "pending",
        "succeeded": "succeeded",
        "failed": "failed",
        "canceled": "canceled",
    },
    "surecart": {
        "pending": "pending",
        "succeeded": "succeeded",
        "failed": "failed",
        "canceled": "canceled",
    },
    "gr4vy": {
        "processing": "pending",
        "succeeded": "succeeded",
        "declined": "failed",
        "failed": "failed",
        "voided": "canceled",
    },
    "shoplazza": {"processing": "pending", "succeeded": "succeeded", "failed": "failed"},
}
PENDING_WORD = {p: next(iter(DOCUMENTED_STATUSES[p])) for p in PROVIDERS}
# Where each provider's refund names its charge / transaction / transaction order.
PAYMENT_ID_FIELD: dict[str, str | None] = {
    "convergegate": None,  # a ConvergeGate refund does not name its checkout session
    "surecart": "charge",
    "gr4vy": "transaction_id",
    "shoplazza": "transaction_order_id",
}
# (amount in minor units, currency asked of the sandbox, currency expected in the answer)
AMOUNTS: dict[str, list[tuple[int, str | None, str | None]]] = {
    "convergegate": [(1299, None, None), (1, None, None)],  # ConvergeGate never says
    "surecart": [(1299, "usd", "USD"), (1450, "eur", "EUR"), (5000, "jpy", "JPY")],
    "gr4vy": [(1299, "USD", "USD"), (5000, "JPY", "JPY"), (12345, "KWD", "KWD")],
    # Shoplazza sends decimal strings in the major unit: "12.99", "5000", "12.345", "0.005".
    "shoplazza": [
        (1299, "USD", "USD"),
        (5000, "JPY", "JPY"),
        (12345, "KWD", "KWD"),
        (5, "KWD", "KWD"),
        (99999999999, "USD", "USD"),
    ],
}
CREATED_AT = 1714287019.5  # 2024-04-28T06:50:19.5Z, exact in binary floating point
CREATED = datetime(2024, 4, 28, 6, 50, 19, 500000, tzinfo=UTC)
# Providers with whole-second timestamps truncate; Gr4vy keeps microseconds.
CREATED_SEEN = {
    "convergegate": CREATED.replace(microsecond=0),
    "surecart": CREATED.replace(microsecond=0),
    "gr4vy": CREATED,
    "shoplazza": CREATED.replace(microsecond=0),
}

STATUS_CASES = [
    pytest.param(p, word, canonical, id=f"{p}-{word}")
    for p, words in DOCUMENTED_STATUSES.items()
    for word, canonical in words.items()
]
AMOUNT_CASES = [
    pytest.param(p, amount, asked, expected, id=f"{p}-{amount}-{asked}")
    for p, cases in AMOUNTS.items()
    for amount, asked, expected in cases
]


@pytest.mark.parametrize(("sandbox", "word", "canonical"), STATUS_CASES, indirect=["sandbox"])
def test_every_documented_status_is_normalized(
    function: Deployment,
    sandbox: Sandbox,
    provider: str,
    word: str,
    canonical: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refund_id = sandbox.create_refund(amount=1299, life=[word], created_at=CREATED_AT)
    native = provider_object(sandbox, refund_id)
    before = datetime.now(UTC)

    answer = function.get(refund_id)

    after = datetime.now(UTC)
    body = assert_refund(answer, provider, refund_id)
    assert body["status"] == canonical
    assert body["terminal"] is (canonical != "pending")
    assert body["provider_status"] == word
    assert body["amount"] == 1299
    assert body["currency"] == (None if provider == "convergegate" else "USD")
    field = PAYMENT_ID_FIELD[provider]
    assert body["payment_id"] == (None if field is None else native[field])
    assert body["payment_id"] is None or body["payment_id"]
    assert parse_z(body["created_at"]) == CREATED_SEEN[provider]
    assert before - timedelta(seconds=1) <= parse_z(body["fetched_at"]) <= after
    assert body["reason"] == (None if provider == "shoplazza" else "requested_by_customer")
    assert body["live_mode"] is (None if provider == "shoplazza" else False)
    _assert_provider_specific(provider, word, body, native)
    assert_nothing_secret_leaked(function, capsys)


def _assert_provider_specific(
    provider: str, word: str, body: dict[str, Any], native: dict[str, Any]
) -> None:
    if provider == "surecart":
        assert parse_z(body["updated_at"]) == CREATED_SEEN[provider]
        assert body["failure_reason"] == native["failure_reason"]
    elif provider == "gr4vy":
        assert parse_z(body["updated_at"]) == CREATED
        assert (body["failure_reason"] is not None) is (word in {"declined", "failed"})
    elif provider == "shoplazza":
        # Before completion Shoplazza sends completed_at "": a field not given is null.
        if word == "processing":
            assert native["completed_at"] == ""
            assert body["completed_at"] is None
        else:
            assert parse_z(body["completed_at"]) == CREATED_SEEN[provider]
    else:
        assert body["updated_at"] is None


@pytest.mark.parametrize("sandbox", ["convergegate"], indirect=True)
def test_convergegate_british_cancelled_is_canceled(
    function: Deployment, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    refund_id = sandbox.create_refund(
        amount=700, life="canceled", overrides={"status": "cancelled"}
    )
    body = assert_refund(function.get(refund_id), "convergegate", refund_id)
    assert (body["status"], body["terminal"], body["provider_status"]) == (
        "canceled",
        True,
        "cancelled",
    )
    assert_nothing_secret_leaked(function, capsys)


@pytest.mark.parametrize(
    ("sandbox", "amount", "asked", "expected"), AMOUNT_CASES, indirect=["sandbox"]
)
def test_amount_is_exact_in_minor_units(
    function: Deployment,
    sandbox: Sandbox,
    provider: str,
    amount: int,
    asked: str | None,
    expected: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refund_id = sandbox.create_refund(amount=amount, currency=asked)
    body = assert_refund(function.get(refund_id), provider, refund_id)
    assert type(body["amount"]) is int
    assert (body["amount"], body["currency"]) == (amount, expected)
    assert_nothing_secret_leaked(function, capsys)


def test_scripted_life_is_observed_in_order(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pending = PENDING_WORD[provider]
    refund_id = sandbox.create_refund(amount=2500, life=[pending, pending, "succeeded"])

    seen = [function.get(refund_id) for _ in range(3)]

    bodies = [assert_refund(answer, provider, refund_id) for answer in seen]
    assert [(b["status"], b["terminal"], b["provider_status"]) for b in bodies] == [
        ("pending", False, pending),
        ("pending", False, pending),
        ("succeeded", True, "succeeded"),
    ]
    assert sandbox.requests_for(refund_id) == 3
    fetched = [parse_z(b["fetched_at"]) for b in bodies]
    assert fetched == sorted(fetched)
    assert_nothing_secret_leaked(function, capsys)
