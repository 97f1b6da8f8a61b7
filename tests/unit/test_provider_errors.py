"""Contract section 4's error table, per provider, through the real client (mock transport):
recorded error payloads, rate limits, 5xx, failed connections and undocumented answers."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from refund_core.errors import (
    ConfigurationError,
    ProviderAuthFailed,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
    RefundNotFound,
)
from tests.helpers import (
    SECRET_VALUES,
    RecordingHandler,
    answer_json,
    payload,
    payload_names,
    payload_refund_id,
    pem_body_marker,
    provider_on,
    secret_for,
)

PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
# A refund is a few hundred bytes: anything over 256 KiB is not a refund answer.
MAX_BODY_BYTES = 256 * 1024

# Contract section 4's error table: code -> (HTTP status, retryable).
CONTRACT_CODES: dict[str, tuple[int, bool]] = {
    "refund_not_found": (404, False),
    "provider_auth_failed": (502, False),
    "provider_rate_limited": (503, True),
    "provider_unavailable": (502, True),
    "provider_timeout": (504, True),
    "provider_bad_response": (502, False),
}
CODE_OF: dict[type[ProviderError], str] = {
    RefundNotFound: "refund_not_found",
    ProviderAuthFailed: "provider_auth_failed",
    ProviderRateLimited: "provider_rate_limited",
    ProviderUnavailable: "provider_unavailable",
    ProviderTimeout: "provider_timeout",
    ProviderBadResponse: "provider_bad_response",
}

NOT_FOUND, AUTH, RATE, DOWN, BAD = (
    RefundNotFound,
    ProviderAuthFailed,
    ProviderRateLimited,
    ProviderUnavailable,
    ProviderBadResponse,
)

# Every recorded error payload (tests/payloads/<provider>/error_<HTTP status>_<what>.json).
EXPECTED_ERRORS: dict[tuple[str, str], type[ProviderError]] = {
    ("convergegate", "error_400_invalid_request_error"): BAD,
    ("convergegate", "error_401_authentication_error"): AUTH,
    ("convergegate", "error_402_invalid_request_error"): BAD,
    ("convergegate", "error_403_permission_error"): AUTH,
    ("convergegate", "error_404_invalid_request_error"): NOT_FOUND,
    ("convergegate", "error_409_invalid_request_error"): BAD,
    ("convergegate", "error_429_invalid_request_error"): RATE,
    ("convergegate", "error_500_api_error"): DOWN,
    ("convergegate", "error_502_api_error"): DOWN,
    ("convergegate", "error_503_api_error"): DOWN,
    ("convergegate", "error_504_api_error"): DOWN,
    ("surecart", "error_400_bad_request"): BAD,
    ("surecart", "error_401_unauthorized"): AUTH,
    ("surecart", "error_404_not_found"): NOT_FOUND,
    ("surecart", "error_422_not_found"): NOT_FOUND,  # SureCart's own not-found type
    ("surecart", "error_422_invalid"): BAD,
    ("surecart", "error_429_too_many_requests"): RATE,
    ("surecart", "error_500_internal_server_error"): DOWN,
    ("gr4vy", "error_400_bad_request"): BAD,
    ("gr4vy", "error_401_unauthorized"): AUTH,
    ("gr4vy", "error_403_forbidden"): AUTH,
    ("gr4vy", "error_404_not_found"): NOT_FOUND,
    ("gr4vy", "error_409_duplicate_record"): BAD,
    # Not in the contract's table: "too early" means "ask again later", so retryable.
    ("gr4vy", "error_425_too_early"): DOWN,
    ("gr4vy", "error_429_too_many_requests"): RATE,
    ("gr4vy", "error_500_server_error"): DOWN,
    ("gr4vy", "error_502_bad_gateway"): DOWN,
    ("gr4vy", "error_504_gateway_timeout"): DOWN,
    ("shoplazza", "error_200_InvalidParameter"): BAD,  # an error inside a 200 envelope
    ("shoplazza", "error_400_InvalidParameter"): BAD,
    ("shoplazza", "error_400_Unauthorized"): AUTH,  # Shoplazza's 400 for bad credentials
    ("shoplazza", "error_400_NotFound"): NOT_FOUND,
    ("shoplazza", "error_401_errors"): AUTH,
    ("shoplazza", "error_403_errors"): AUTH,
    ("shoplazza", "error_404_error"): NOT_FOUND,
    ("shoplazza", "error_422_errors"): BAD,
    ("shoplazza", "error_429_errors"): RATE,
    ("shoplazza", "error_500_error"): DOWN,
}
ERROR_PAYLOADS = [(p, name) for p in PROVIDERS for name in payload_names(p, "error_")]

REFUND_IDS = {p: payload_refund_id(p, payload(p, "status_succeeded")) for p in PROVIDERS}


def _call(provider: str, respond: Callable[[httpx.Request], httpx.Response]) -> ProviderError:
    handler = RecordingHandler(respond)
    client = provider_on(provider, handler, timeout_seconds=2.0)
    with pytest.raises(ProviderError) as caught:
        client.get_refund(REFUND_IDS[provider])
    assert len(handler.requests) == 1  # no retries, no redirects followed
    return caught.value


def _string_leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _string_leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _string_leaves(item)


def assert_error(
    error: ProviderError, provider: str, expected: type[ProviderError], raw: Any = None
) -> None:
    """Class, code, HTTP status and retryable per the contract; a body with nothing leaked."""
    assert type(error) is expected
    code = CODE_OF[expected]
    http_status, retryable = CONTRACT_CODES[code]
    assert error.http_status == http_status
    body = error.to_body()
    assert body == {
        "error": {
            "code": code,
            "message": body["error"]["message"],
            "provider": provider,
            # Provider clients know no account; ProviderClients names it (test_accounts).
            "account": None,
            "retryable": retryable,
        }
    }
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message
    for secret in (*SECRET_VALUES, pem_body_marker()):
        assert secret not in message
    if raw is not None:
        raw_text = raw if isinstance(raw, str | bytes) else json.dumps(raw)
        if isinstance(raw_text, bytes):
            raw_text = raw_text.decode("utf-8", "replace")
        if len(raw_text) >= 8:
            assert raw_text not in message
        if not isinstance(raw, str | bytes):
            for leaf in _string_leaves(raw):
                if len(leaf) >= 8:
                    assert leaf not in message


def _http_status_of(name: str) -> int:
    return int(name.split("_")[1])


def test_every_error_payload_has_an_expectation() -> None:
    assert sorted(EXPECTED_ERRORS) == sorted(ERROR_PAYLOADS)


@pytest.mark.parametrize(("provider", "name"), ERROR_PAYLOADS)
def test_recorded_error_payload(provider: str, name: str) -> None:
    body = payload(provider, name)

    error = _call(provider, answer_json(body, status=_http_status_of(name)))

    assert_error(error, provider, EXPECTED_ERRORS[(provider, name)], raw=body)


# --- by HTTP status alone (no body, or a body in no known shape) ------------------------------

STATUS_ONLY = [
    (401, AUTH),
    (403, AUTH),
    (404, NOT_FOUND),
    (400, BAD),
    (405, BAD),
    (409, BAD),
    (410, BAD),
    (422, BAD),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("status", "expected"), STATUS_ONLY)
@pytest.mark.parametrize(
    "content",
    [b"", b"<html><body>nope</body></html>", b"[1, 2]", b"[" * 100_000 + b"]" * 100_000],
    ids=["empty", "html", "list", "deep"],
)
def test_error_status_with_a_body_in_no_known_shape(
    provider: str, status: int, expected: type[ProviderError], content: bytes
) -> None:
    error = _call(provider, lambda _: httpx.Response(status, content=content))

    assert_error(error, provider, expected, raw=content)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 507, 520, 599])
def test_every_5xx_is_provider_unavailable(provider: str, status: int) -> None:
    html = b"<html><head><title>504 Gateway Time-out</title></head></html>"

    error = _call(provider, lambda _: httpx.Response(status, content=html))

    assert_error(error, provider, DOWN, raw=html)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_5xx_is_unavailable_whatever_its_body_says(provider: str) -> None:
    # A 5xx whose body looks like a credentials or not-found error is still the provider failing.
    body = {"code": "Unauthorized", "type": "not_found", "error": {"type": "authentication_error"}}

    error = _call(provider, answer_json(body, status=503))

    assert_error(error, provider, DOWN, raw=body)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed(provider: str, status: int) -> None:
    def respond(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Location": "https://evil.example/steal"})

    error = _call(provider, respond)

    assert_error(error, provider, BAD)


def test_convergegate_400_with_an_authentication_type_is_auth_failed() -> None:
    body = {"error": {"type": "authentication_error", "message": "Invalid API Key provided"}}

    error = _call("convergegate", answer_json(body, status=400))

    assert_error(error, "convergegate", AUTH, raw=body)


def test_surecart_422_without_a_not_found_type_is_bad_response() -> None:
    body = payload("surecart", "error_422_invalid")

    error = _call("surecart", answer_json(body, status=422))

    assert_error(error, "surecart", BAD, raw=body)


@pytest.mark.parametrize("code", ["Unauthorized", "UNAUTHORIZED", "unauthorized"])
def test_shoplazza_400_auth_code_is_compared_case_insensitively(code: str) -> None:
    body = {"code": code, "message": "access token is invalid"}

    error = _call("shoplazza", answer_json(body, status=400))

    assert_error(error, "shoplazza", AUTH, raw=body)


# --- 429 and Retry-After ----------------------------------------------------------------------


def _rate_limited(provider: str, headers: dict[str, str]) -> ProviderError:
    return _call(provider, lambda _: httpx.Response(429, headers=headers, content=b""))


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7), ("0", 0), (" 30 ", 30), ("120", 120)],
)
def test_429_passes_on_retry_after_seconds(provider: str, header: str, seconds: int) -> None:
    error = _rate_limited(provider, {"Retry-After": header})

    assert_error(error, provider, RATE)
    assert error.retry_after == seconds


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_passes_on_retry_after_http_date(provider: str, fixed_now: datetime) -> None:
    when = format_datetime(fixed_now + timedelta(seconds=90), usegmt=True)

    error = _rate_limited(provider, {"Retry-After": when})

    assert_error(error, provider, RATE)
    assert error.retry_after == 90


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "form",
    [
        "%a, %d %b %Y %H:%M:%S GMT",  # IMF-fixdate
        "%A, %d-%b-%y %H:%M:%S GMT",  # RFC 850
        "%a %b %e %H:%M:%S %Y",  # asctime: no zone, and GMT all the same (RFC 9110 5.6.7)
    ],
)
def test_429_reads_all_three_http_date_forms(provider: str, form: str, fixed_now: datetime) -> None:
    when = (fixed_now + timedelta(seconds=120)).strftime(form)

    error = _rate_limited(provider, {"Retry-After": when})

    assert error.retry_after == 120


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_long_retry_after_is_passed_on_up_to_a_day(provider: str) -> None:
    assert _rate_limited(provider, {"Retry-After": "7200"}).retry_after == 7200
    assert _rate_limited(provider, {"Retry-After": "9" * 40}).retry_after == 86_400


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_with_a_past_http_date_retries_at_once(provider: str, fixed_now: datetime) -> None:
    when = format_datetime(fixed_now - timedelta(hours=1), usegmt=True)

    error = _rate_limited(provider, {"Retry-After": when})

    assert error.retry_after == 0


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Retry-After": ""},
        {"Retry-After": "soon"},
        {"Retry-After": "-5"},
        {"Retry-After": "1.5"},
        # Not ASCII digits: str.isdigit() is true for these, int() refuses "²".
        {"Retry-After": "²"},
        {"Retry-After": "٣"},
    ],
)
def test_429_without_a_usable_retry_after_has_none(provider: str, headers: dict[str, str]) -> None:
    error = _call(
        provider,
        lambda _: httpx.Response(
            429, headers=[(k.encode(), v.encode()) for k, v in headers.items()]
        ),
    )

    assert_error(error, provider, RATE)
    assert error.retry_after is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_429_with_a_recorded_body_keeps_its_retry_after(provider: str) -> None:
    name = payload_names(provider, "error_429_")[0]
    body = payload(provider, name)

    error = _call(provider, answer_json(body, status=429, headers={"Retry-After": "3"}))

    assert_error(error, provider, RATE, raw=body)
    assert error.retry_after == 3


# --- nothing (or half an answer) arrives ------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectError("[Errno -2] Name or service not known"),
        httpx.ConnectTimeout("timed out"),
        httpx.ReadTimeout("timed out"),
        httpx.WriteTimeout("timed out"),
        httpx.PoolTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_failure_before_an_answer_is_provider_timeout(
    provider: str, exc: httpx.TransportError
) -> None:
    def respond(_: httpx.Request) -> httpx.Response:
        raise exc

    error = _call(provider, respond)

    assert_error(error, provider, ProviderTimeout)
    assert str(exc) not in error.message


class _DroppingStream(httpx.SyncByteStream):
    """A body that starts, then the connection drops."""

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"id": "x", "status": "succ'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


class _TricklingStream(httpx.SyncByteStream):
    """A body arriving a few bytes at a time, slower than the caller's deadline."""

    def __iter__(self) -> Iterator[bytes]:
        import time

        for _ in range(20):
            time.sleep(0.02)
            yield b" "


@pytest.mark.parametrize("provider", PROVIDERS)
def test_connection_dropped_mid_body_is_provider_timeout(provider: str) -> None:
    error = _call(provider, lambda _: httpx.Response(200, stream=_DroppingStream()))

    assert_error(error, provider, ProviderTimeout)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_body_trickling_past_the_deadline_is_provider_timeout(provider: str) -> None:
    handler = RecordingHandler(lambda _: httpx.Response(200, stream=_TricklingStream()))
    client = provider_on(provider, handler, timeout_seconds=0.1)

    with pytest.raises(ProviderTimeout) as caught:
        client.get_refund(REFUND_IDS[provider])

    assert_error(caught.value, provider, ProviderTimeout)


# --- an answer, but not the documented shape ---------------------------------------------------


def _succeeded(provider: str) -> Any:
    return copy.deepcopy(payload(provider, "status_succeeded"))


def _refund_object(provider: str, body: Any) -> dict[str, Any]:
    refund: dict[str, Any] = body["data"]["refund_order"] if provider == "shoplazza" else body
    return refund


# Valid JSON within 256 KiB, nested deeper than the standard library's parser can recurse.
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def _bad_bodies(provider: str) -> list[tuple[str, bytes, str]]:
    good = json.dumps(_succeeded(provider)).encode()
    return [
        ("html", b"<!DOCTYPE html><html><body><h1>Welcome</h1></body></html>", "text/html"),
        ("truncated", good[: len(good) // 2], "application/json"),
        ("list", json.dumps([_succeeded(provider)]).encode(), "application/json"),
        ("empty_object", b"{}", "application/json"),
        ("null", b"null", "application/json"),
        ("string", b'"succeeded"', "application/json"),
        ("number", b"42", "application/json"),
        ("empty", b"", "application/json"),
        ("not_utf8", b"\xff\xfe\x00{", "application/json"),
        ("nested_past_the_parser_stack", DEEP_JSON, "application/json"),
    ]


BAD_BODY_CASES = [
    (provider, label, content, content_type)
    for provider in PROVIDERS
    for label, content, content_type in _bad_bodies(provider)
]


@pytest.mark.parametrize(
    ("provider", "label", "content", "content_type"),
    BAD_BODY_CASES,
    ids=[f"{p}-{label}" for p, label, _, _ in BAD_BODY_CASES],
)
def test_200_with_a_body_that_is_not_a_refund_is_bad_response(
    provider: str, label: str, content: bytes, content_type: str
) -> None:
    error = _call(
        provider,
        lambda _: httpx.Response(200, content=content, headers={"Content-Type": content_type}),
    )

    assert_error(error, provider, BAD, raw=content)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        obj[path] = value

    return change


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(obj: dict[str, Any]) -> None:
        del obj[path]

    return change


# (provider, what, change to the refund object of status_succeeded)
WRONG_TYPES: list[tuple[str, str, Callable[[dict[str, Any]], None]]] = [
    ("convergegate", "amount as string", _set("amount", "1000")),
    ("convergegate", "amount as float", _set("amount", 10.5)),
    ("convergegate", "amount as bool", _set("amount", True)),
    ("convergegate", "negative amount", _set("amount", -1000)),
    ("convergegate", "status as number", _set("status", 1)),
    ("convergegate", "status missing", _drop("status")),
    ("convergegate", "livemode as string", _set("livemode", "true")),
    ("convergegate", "created_at as string", _set("created_at", "1534255857")),
    ("convergegate", "created_at in milliseconds", _set("created_at", 1534255857000000)),
    ("convergegate", "created_at beyond any float", _set("created_at", 10**400)),
    ("surecart", "amount as string", _set("amount", "1450")),
    ("surecart", "negative amount", _set("amount", -1450)),
    ("surecart", "amount beyond 2**53-1", _set("amount", 2**53)),
    ("surecart", "status as number", _set("status", 1)),
    ("surecart", "status missing", _drop("status")),
    ("surecart", "live_mode as string", _set("live_mode", "true")),
    ("surecart", "currency not a code", _set("currency", "us dollars")),
    ("surecart", "charge as number", _set("charge", 42)),
    ("surecart", "created_at as string", _set("created_at", "1770234892")),
    ("surecart", "object not refund", _set("object", "charge")),
    ("surecart", "updated_at beyond any float", _set("updated_at", 10**400)),
    ("gr4vy", "amount as string", _set("amount", "1299")),
    ("gr4vy", "amount missing", _drop("amount")),
    ("gr4vy", "currency missing", _drop("currency")),
    ("gr4vy", "currency not a code", _set("currency", "U$D")),
    ("gr4vy", "status as number", _set("status", 1)),
    ("gr4vy", "settled as string", _set("settled", "true")),
    ("gr4vy", "created_at not a date", _set("created_at", "yesterday")),
    ("gr4vy", "type not refund", _set("type", "transaction")),
    ("gr4vy", "created_at before year 1 in UTC", _set("created_at", "0001-01-01T00:00:00+01:00")),
    ("shoplazza", "amount as number", _set("amount", 50.0)),
    ("shoplazza", "status as number", _set("status", 1)),
    ("shoplazza", "status missing", _drop("status")),
    ("shoplazza", "completed_at as number", _set("completed_at", 1714286556)),
    ("shoplazza", "created_at not a date", _set("created_at", "28/04/2024")),
    ("shoplazza", "amount without a currency", _drop("balance_currency")),
    ("shoplazza", "amount 1.234 USD", _set("amount", "1.234")),
    ("shoplazza", "amount abc", _set("amount", "abc")),
    ("shoplazza", "amount -5.00", _set("amount", "-5.00")),
    ("shoplazza", "amount 1e3", _set("amount", "1e3")),
    ("shoplazza", "amount 5,00", _set("amount", "5,00")),
    ("shoplazza", "amount with spaces", _set("amount", " 5.00")),
    ("shoplazza", "currency not ISO 4217", _set("balance_currency", "XYZ")),
    ("shoplazza", "completed_at after 9999 UTC", _set("completed_at", "9999-12-31T23:59:59-01:00")),
]


@pytest.mark.parametrize(
    ("provider", "what", "change"), WRONG_TYPES, ids=[f"{p}-{w}" for p, w, _ in WRONG_TYPES]
)
def test_a_field_of_the_wrong_type_is_bad_response(
    provider: str, what: str, change: Callable[[dict[str, Any]], None]
) -> None:
    body = _succeeded(provider)
    change(_refund_object(provider, body))

    error = _call(provider, answer_json(body))

    assert_error(error, provider, BAD, raw=body)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("5000.00", "JPY"), ("5000.0", "JPY"), ("1.2500", "KWD"), ("1.234", "USD")],
)
def test_shoplazza_amount_finer_than_the_currency_is_refused_not_rounded(
    amount: str, currency: str
) -> None:
    body = _succeeded("shoplazza")
    body["data"]["refund_order"].update(amount=amount, balance_currency=currency)

    error = _call("shoplazza", answer_json(body))

    assert_error(error, "shoplazza", BAD, raw=body)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("InvalidParameter", BAD),
        ("Fail", BAD),
        ("", BAD),
        ("Unauthorized", AUTH),
        ("NotFound", NOT_FOUND),
    ],
)
def test_shoplazza_200_envelope_without_success_is_an_error(
    code: str, expected: type[ProviderError]
) -> None:
    body = {"code": code, "message": "request failed: order 123456 of store123", "data": None}

    error = _call("shoplazza", answer_json(body))

    assert_error(error, "shoplazza", expected, raw=body)


@pytest.mark.parametrize(
    "body",
    [
        {"code": "Success", "message": "Request successful"},
        {"code": "Success", "message": "Request successful", "data": None},
        {"code": "Success", "message": "Request successful", "data": {}},
        {"code": "Success", "message": "Request successful", "data": {"refund_order": None}},
        {"code": 200, "message": "Request successful", "data": {}},
        {"message": "Request successful", "data": {}},
    ],
)
def test_shoplazza_envelope_without_a_refund_order_is_bad_response(body: Any) -> None:
    error = _call("shoplazza", answer_json(body))

    assert_error(error, "shoplazza", BAD, raw=body)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_body_over_256_kib_is_bad_response(provider: str) -> None:
    body = _succeeded(provider)
    body["padding"] = "x" * (MAX_BODY_BYTES + 1)

    error = _call(provider, answer_json(body))

    assert_error(error, provider, BAD)
    assert len(error.message) < 500


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_streamed_body_over_256_kib_without_length_is_bad_response(provider: str) -> None:
    # A valid refund after 320 KiB of JSON whitespace, streamed without a Content-Length.
    good = json.dumps(_succeeded(provider)).encode()

    def chunks() -> Iterator[bytes]:
        yield from [b" " * 65536] * 5
        yield good

    error = _call(provider, lambda _: httpx.Response(200, content=chunks()))

    assert_error(error, provider, BAD)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_body_just_under_256_kib_is_still_read(provider: str) -> None:
    body = _succeeded(provider)
    body["padding"] = ""
    size = len(json.dumps(body).encode())
    body["padding"] = "x" * (MAX_BODY_BYTES - size)
    assert len(json.dumps(body).encode()) == MAX_BODY_BYTES

    refund = provider_on(provider, answer_json(body)).get_refund(REFUND_IDS[provider])

    assert refund.status.value == "succeeded"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_error_never_carries_the_secret_even_when_the_provider_echoes_it(
    provider: str,
) -> None:
    # A provider that quotes our credentials back (in the body and a header) must not leak them.
    echoed = " ".join((*SECRET_VALUES, pem_body_marker()))
    for status in (400, 401, 404, 422, 429, 500):
        body = {"message": echoed, "error": {"type": echoed, "message": echoed}, "code": echoed}
        error = _call(provider, answer_json(body, status=status, headers={"X-Echo": "1"}))
        text = json.dumps(error.to_body())
        for secret in (*SECRET_VALUES, pem_body_marker()):
            assert secret not in text


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_host_httpx_cannot_encode_is_a_configuration_error(provider: str) -> None:
    # A well-formed label that is no valid IDNA (punycode) name: refused by httpx, not by us.
    secret = secret_for(provider, base_url="https://xn--zz.example")
    handler = RecordingHandler(lambda _: httpx.Response(200, json={}))
    client = provider_on(provider, handler, secret=secret)

    with pytest.raises(ConfigurationError) as caught:
        client.get_refund(REFUND_IDS[provider])

    assert caught.value.provider == provider
    assert caught.value.__cause__ is None
    assert handler.requests == []
