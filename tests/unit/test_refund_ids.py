"""Refund ids: 1 to 128 of `A-Z a-z 0-9 _ -`, checked before any provider call (contract 4)."""

from __future__ import annotations

import string
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_core.errors import InvalidRefundId, RefundNotFound
from refund_core.ids import validate_refund_id
from tests.helpers import SECRET_VALUES, RecordingHandler, answer_json, payload, provider_on

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
ALLOWED = string.ascii_letters + string.digits + "_-"

ACCEPTED = [
    "a",
    "0",
    "_",
    "-",
    "kLcRRC5P8U68CYe0kVA",
    "86d3873a-3d4f-47fb-a541-0d8ac61684fe",
    "re_3P9gHk2eZvKYlo2C0b7xQm1R",
    "123456",
    "x" * 128,
    ALLOWED,
]
REFUSED: list[Any] = [
    "../x",
    "..",
    "a/b",
    "/a",
    "a\\b",
    "%2F",
    "a%2e%2e",
    "",
    "x" * 129,
    "é",
    "\uff41",  # fullwidth a
    "٣",  # Arabic-Indic three
    "a b",
    "a\n",
    "\na",
    "a\t",
    "a\x00",
    "a.b",
    "a?b=c",
    "a#b",
    "a+b",
    "a:b",
    None,
    123,
    b"abc",
    ["abc"],
]


@pytest.mark.parametrize("value", ACCEPTED)
def test_valid_id_is_returned_unchanged(value: str) -> None:
    assert validate_refund_id(value) == value


@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_invalid_id_is_refused(value: Any) -> None:
    with pytest.raises(InvalidRefundId) as caught:
        validate_refund_id(value, provider="surecart")

    error = caught.value
    assert error.http_status == 400
    assert error.to_body() == {
        "error": {
            "code": "invalid_refund_id",
            "message": error.message,
            "provider": "surecart",
            "account": None,
            "retryable": False,
        }
    }
    if isinstance(value, str) and len(value) > 1:
        assert value not in error.message


@given(st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True))
def test_any_id_of_the_allowed_alphabet_is_accepted(value: str) -> None:
    assert validate_refund_id(value) == value


@given(
    prefix=st.text(alphabet=ALLOWED, max_size=60),
    bad=st.characters(exclude_characters=ALLOWED),
    suffix=st.text(alphabet=ALLOWED, max_size=60),
)
def test_any_id_holding_one_char_outside_the_alphabet_is_refused(
    prefix: str, bad: str, suffix: str
) -> None:
    with pytest.raises(InvalidRefundId):
        validate_refund_id(prefix + bad + suffix)


@given(st.text(alphabet=ALLOWED, min_size=129, max_size=300))
def test_any_id_longer_than_128_is_refused(value: str) -> None:
    with pytest.raises(InvalidRefundId):
        validate_refund_id(value)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("value", REFUSED, ids=repr)
def test_a_refused_id_makes_no_provider_request(provider: str, value: Any) -> None:
    handler = RecordingHandler(answer_json(payload(provider, "status_succeeded")))
    client = provider_on(provider, handler)

    with pytest.raises(InvalidRefundId) as caught:
        client.get_refund(value)

    assert handler.requests == []
    body = caught.value.to_body()
    assert body["error"]["code"] == "invalid_refund_id"
    assert body["error"]["provider"] == provider
    for secret in SECRET_VALUES:
        assert secret not in body["error"]["message"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_valid_id_goes_into_the_path_as_one_unescaped_segment(provider: str) -> None:
    value = "Ab_-9" + "z" * 123  # 128 characters, every kind allowed
    handler = RecordingHandler(lambda _: httpx.Response(404))

    with pytest.raises(RefundNotFound):
        provider_on(provider, handler).get_refund(value)

    assert len(handler.requests) == 1
    assert handler.requests[0].url.raw_path.decode().endswith("/refunds/" + value)
