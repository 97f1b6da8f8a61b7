"""Contract section 4's status mapping table, against each provider's STATUS_MAP and through the
real client; anything outside the table is `unknown`, non-terminal, and never an error."""

from __future__ import annotations

import copy
import importlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from refund_core.model import RefundStatus
from tests.helpers import answer_json, payload, payload_refund_id, provider_on

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")

# Contract section 4, "Status mapping", copied: provider -> canonical status -> provider words.
CONTRACT_TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "convergegate": {
        "pending": ("pending",),
        "succeeded": ("succeeded",),
        "failed": ("failed",),
        "canceled": ("canceled", "cancelled"),
    },
    "surecart": {
        "pending": ("pending",),
        "succeeded": ("succeeded",),
        "failed": ("failed",),
        "canceled": ("canceled",),
    },
    "gr4vy": {
        "pending": ("processing",),
        "succeeded": ("succeeded",),
        "failed": ("failed", "declined"),
        "canceled": ("voided",),
    },
    "shoplazza": {
        "pending": ("processing",),
        "succeeded": ("succeeded",),
        "failed": ("failed",),
        "canceled": (),
    },
}
TERMINAL = {"pending": False, "succeeded": True, "failed": True, "canceled": True}

ROWS = [
    (provider, word, status)
    for provider, columns in CONTRACT_TABLE.items()
    for status, words in columns.items()
    for word in words
]

# Words real providers use that are NOT in that provider's row: each must be `unknown`.
UNSEEN_WORDS = {
    "convergegate": ["reversed", "requires_action", "refunded", "processing", "voided"],
    # SureCart documents only the American spelling; "cancelled" is not its word.
    "surecart": ["reversed", "cancelled", "processing", "declined", "requires_action"],
    # Gr4vy's webhook says "pending" while the refund's status says "processing" (trap 4).
    "gr4vy": ["reversed", "pending", "canceled", "refunded", "partially_succeeded"],
    # Shoplazza has no canceled word at all.
    "shoplazza": ["reversed", "pending", "canceled", "cancelled", "voided", "closed"],
}


def _mapping(provider: str) -> dict[str, RefundStatus]:
    module = importlib.import_module(f"refund_core.providers.{provider}.mapping")
    status_map: dict[str, RefundStatus] = module.STATUS_MAP
    return status_map


def _with_status(provider: str, word: Any) -> Any:
    body = copy.deepcopy(payload(provider, "status_succeeded"))
    if provider == "shoplazza":
        body["data"]["refund_order"]["status"] = word
    else:
        body["status"] = word
    return body


def _through_client(provider: str, word: Any) -> dict[str, Any]:
    body = _with_status(provider, word)
    client = provider_on(provider, answer_json(body))
    return client.get_refund(payload_refund_id(provider, body)).to_json_dict()


@pytest.mark.parametrize(("provider", "word", "status"), ROWS)
def test_contract_row_is_in_the_status_map(provider: str, word: str, status: str) -> None:
    assert _mapping(provider)[word] == RefundStatus(status)


@pytest.mark.parametrize(("provider", "word", "status"), ROWS)
def test_contract_row_through_get_refund(provider: str, word: str, status: str) -> None:
    refund = _through_client(provider, word)

    assert refund["status"] == status
    assert refund["terminal"] is TERMINAL[status]
    assert refund["provider_status"] == word


@pytest.mark.parametrize("provider", PROVIDERS)
def test_status_map_holds_exactly_the_contract_words(provider: str) -> None:
    contract_words = {word for words in CONTRACT_TABLE[provider].values() for word in words}

    # A word mapped in code without a contract row (or a row missing in code) fails here.
    assert set(_mapping(provider)) == contract_words


@pytest.mark.parametrize("provider", PROVIDERS)
def test_status_map_never_maps_a_word_to_unknown(provider: str) -> None:
    assert RefundStatus.UNKNOWN not in set(_mapping(provider).values())


@pytest.mark.parametrize(
    ("provider", "word"), [(p, w) for p, words in UNSEEN_WORDS.items() for w in words]
)
def test_word_outside_the_row_is_unknown_and_not_terminal(provider: str, word: str) -> None:
    refund = _through_client(provider, word)

    assert refund["status"] == "unknown"
    assert refund["terminal"] is False
    assert refund["provider_status"] == word
    assert refund["amount"] is not None  # the rest of the refund is still read


ALL_KNOWN = {word.lower() for _, word, _ in ROWS}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    provider=st.sampled_from(PROVIDERS),
    word=st.text(min_size=1, max_size=40).filter(lambda w: w.strip().lower() not in ALL_KNOWN),
)
def test_any_new_status_word_is_unknown_never_an_error(provider: str, word: str) -> None:
    refund = _through_client(provider, word)

    assert refund["status"] == "unknown"
    assert refund["terminal"] is False
    assert refund["provider_status"] == word
