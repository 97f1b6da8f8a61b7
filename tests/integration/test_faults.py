"""Every sandbox fault through the real handler: the contract's HTTP status, code and retryable."""

from __future__ import annotations

import socket
import time
from email.utils import formatdate

import pytest

from devstack.sandboxes import Sandbox, fault_names
from refund_core.settings import provider_function_settings
from tests.integration.harness import (
    PROVIDERS,
    Deployment,
    assert_error,
    assert_nothing_secret_leaked,
    assert_refund,
)

# Fault -> (HTTP status, error code, retryable), per the contract's error table and its
# "How to read the table": a provider's own not-found or credentials code on a 400 or 422
# counts as such; every 5xx, 504 included, is provider_unavailable; a dropped connection is a
# timeout; an answer that is not the documented shape (or a 400 that is not about the id or
# the credentials) is provider_bad_response.
ERROR_FAULTS: dict[str, tuple[int, str, bool]] = {
    "not_found": (404, "refund_not_found", False),
    "not_found_422": (404, "refund_not_found", False),  # SureCart
    "not_found_400": (404, "refund_not_found", False),  # Shoplazza
    "unauthorized": (502, "provider_auth_failed", False),
    "forbidden": (502, "provider_auth_failed", False),
    "bad_credentials_400": (502, "provider_auth_failed", False),  # Shoplazza
    "server_error": (502, "provider_unavailable", True),
    "bad_gateway": (502, "provider_unavailable", True),
    "service_unavailable": (502, "provider_unavailable", True),
    "gateway_timeout": (502, "provider_unavailable", True),
    "drop_connection": (504, "provider_timeout", True),
    "bad_request": (502, "provider_bad_response", False),
    "html": (502, "provider_bad_response", False),
    "truncated_json": (502, "provider_bad_response", False),
    "oversized": (502, "provider_bad_response", False),
    "excess_precision": (502, "provider_bad_response", False),  # Shoplazza
}
# Faults with a test of their own below.
OTHER_FAULTS = frozenset({"rate_limited", "delay", "unknown_status", "extra_fields"})
PENDING_WORD = {"convergegate": "pending", "surecart": "pending"} | {
    "gr4vy": "processing",
    "shoplazza": "processing",
}
FAULT_CASES = [
    pytest.param(p, name, *ERROR_FAULTS[name], id=f"{p}-{name}")
    for p in PROVIDERS
    for name in sorted(fault_names(p))
    if name in ERROR_FAULTS
]


@pytest.mark.parametrize("name", PROVIDERS)
def test_every_sandbox_fault_has_a_test_here(name: str) -> None:
    untested = fault_names(name) - set(ERROR_FAULTS) - OTHER_FAULTS
    assert not untested, f"{name} faults without an integration test: {sorted(untested)}"


@pytest.mark.parametrize(
    ("sandbox", "fault", "http_status", "code", "retryable"), FAULT_CASES, indirect=["sandbox"]
)
def test_fault_answers_the_contract_error(
    function: Deployment,
    sandbox: Sandbox,
    provider: str,
    fault: str,
    http_status: int,
    code: str,
    retryable: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refund_id = sandbox.create_refund(amount=1299)
    sandbox.add_fault(fault, refund_id=refund_id)
    before = sandbox.requests_for(refund_id)

    answer = function.get(refund_id)

    assert_error(answer, http_status, code, provider=provider, retryable=retryable)
    assert "Retry-After" not in answer.headers
    assert sandbox.requests_for(refund_id) > before, "the provider was never asked"
    assert answer.seconds < 5
    assert_nothing_secret_leaked(function, capsys)


def test_refund_never_created_is_404(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = function.get("never-created-0001")
    assert_error(answer, 404, "refund_not_found", provider=provider, retryable=False)
    assert sandbox.requests_for("never-created-0001") >= 1
    assert_nothing_secret_leaked(function, capsys)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        pytest.param(7, (7, 7), id="seconds"),
        pytest.param("date", (25, 31), id="http-date"),
    ],
)
def test_rate_limited_is_503_with_retry_after_passed_on(
    function: Deployment,
    sandbox: Sandbox,
    provider: str,
    retry_after: int | str,
    expected: tuple[int, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    refund_id = sandbox.create_refund()
    if retry_after == "date":
        retry_after = formatdate(time.time() + 30, usegmt=True)
    sandbox.add_fault("rate_limited", refund_id=refund_id, retry_after=retry_after)

    answer = function.get(refund_id)

    assert_error(answer, 503, "provider_rate_limited", provider=provider, retryable=True)
    low, high = expected
    assert answer.headers["Retry-After"].isdigit()
    assert low <= int(answer.headers["Retry-After"]) <= high
    assert_nothing_secret_leaked(function, capsys)


def test_rate_limited_without_retry_after_has_no_header(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("rate_limited", refund_id=refund_id)

    answer = function.get(refund_id)

    assert_error(answer, 503, "provider_rate_limited", provider=provider, retryable=True)
    assert "retry-after" not in {k.lower() for k in answer.headers}
    assert_nothing_secret_leaked(function, capsys)


@pytest.mark.parametrize(
    ("timeout", "delay", "at_most"),
    [
        ("0.5", 2.0, 1.5),
        # Below the half-second floor kept for the function's own deadline: still as given.
        ("0.15", 0.4, 0.35),
    ],
)
def test_delay_beyond_the_timeout_is_a_quick_504(
    function: Deployment,
    sandbox: Sandbox,
    provider: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    timeout: str,
    delay: float,
    at_most: float,
) -> None:
    monkeypatch.setenv("PROVIDER_TIMEOUT_SECONDS", timeout)
    provider_function_settings.cache_clear()
    refund_id = sandbox.create_refund()
    sandbox.add_fault("delay", refund_id=refund_id, seconds=delay, times=1)

    answer = function.get(refund_id)

    assert_error(answer, 504, "provider_timeout", provider=provider, retryable=True)
    assert answer.seconds < at_most, f"the handler took {answer.seconds:.2f} s"
    assert_nothing_secret_leaked(function, capsys)


def test_delay_within_the_timeout_is_answered(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("delay", refund_id=refund_id, seconds=0.2, times=1)

    answer = function.get(refund_id)

    assert assert_refund(answer, provider, refund_id)["status"] == "pending"
    assert answer.seconds >= 0.2
    assert_nothing_secret_leaked(function, capsys)


def test_connection_refused_is_504(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    function.deploy(sandbox.credentials | {"base_url": f"http://127.0.0.1:{closed_port}"})

    answer = function.get(sandbox.create_refund())

    assert_error(answer, 504, "provider_timeout", provider=provider, retryable=True)
    assert_nothing_secret_leaked(function, capsys)


def test_unknown_status_is_200_unknown_not_terminal(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refund_id = sandbox.create_refund(amount=4321)
    sandbox.add_fault("unknown_status", refund_id=refund_id, value="chargeback_review")

    body = assert_refund(function.get(refund_id), provider, refund_id)

    assert (body["status"], body["terminal"], body["provider_status"]) == (
        "unknown",
        False,
        "chargeback_review",
    )
    assert body["amount"] == 4321
    assert_nothing_secret_leaked(function, capsys)


def test_extra_fields_change_nothing(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    refund_id = sandbox.create_refund(amount=1299)
    plain = assert_refund(function.get(refund_id), provider, refund_id)
    sandbox.add_fault("extra_fields", refund_id=refund_id)

    extra = assert_refund(function.get(refund_id), provider, refund_id)

    plain.pop("fetched_at")
    extra.pop("fetched_at")
    assert extra == plain
    assert extra["status"] == "pending"
    assert extra["provider_status"] == PENDING_WORD[provider]
    assert_nothing_secret_leaked(function, capsys)
