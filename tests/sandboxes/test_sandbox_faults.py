"""Injected faults: each provider's error styles, transport failures and malformed bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devstack.sandboxes import COMMON_FAULTS, Sandbox, fault_names

Start = Callable[..., Sandbox]
GetRefund = Callable[[Sandbox, str], dict[str, Any]]

ERROR_STATUS = {
    "not_found": 404,
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "rate_limited": 429,
    "server_error": 500,
    "bad_gateway": 502,
    "service_unavailable": 503,
    "gateway_timeout": 504,
}


def _assert_error_style(provider: str, status: int, body: Any) -> None:
    """The body has the provider's documented error shape."""
    if provider == "convergegate":
        assert set(body) == {"error"}
        assert body["error"]["type"] in {
            "api_error",
            "authentication_error",
            "permission_error",
            "invalid_request_error",
            "rate_limit_error",
        }
        assert body["error"]["message"]
    elif provider == "surecart":
        assert set(body) == {"http_status", "type", "code", "message", "validation_errors"}
        assert isinstance(body["http_status"], str)
    elif provider == "gr4vy":
        assert set(body) == {"type", "code", "status", "message", "details"}
        assert (body["type"], body["status"], body["details"]) == ("error", status, [])
    else:
        assert set(body) == {"code", "message"}
        assert body["code"] != "Success"


@pytest.mark.parametrize("fault", sorted(ERROR_STATUS))
def test_error_faults_in_provider_style(sandbox: Sandbox, client: httpx.Client, fault: str) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault(fault)
    response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert response.status_code == ERROR_STATUS[fault]
    assert response.headers["content-type"] == "application/json"
    assert "retry-after" not in response.headers
    _assert_error_style(sandbox.name, response.status_code, response.json())


def test_gr4vy_error_codes_match_the_sdk(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund()
    expected = {
        "not_found": "not_found",
        "bad_request": "bad_request",
        "unauthorized": "unauthorized",
        "forbidden": "forbidden",
        "rate_limited": "too_many_requests",
        "server_error": "server_error",
        "bad_gateway": "bad_gateway",
        "gateway_timeout": "gateway_timeout",
    }
    for fault, code in expected.items():
        sandbox.add_fault(fault, times=1)
        response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
        assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("provider", "fault", "status", "check"),
    [
        ("surecart", "not_found_422", 422, {"http_status": "unprocessable_entity",
                                            "type": "not_found"}),
        ("shoplazza", "not_found_400", 400, {"code": "NotFound"}),
        ("shoplazza", "bad_credentials_400", 400, {"code": "Unauthorized"}),
    ],
)  # fmt: skip
def test_provider_specific_error_faults(
    start: Start,
    client: httpx.Client,
    provider: str,
    fault: str,
    status: int,
    check: dict[str, str],
) -> None:
    sandbox = start(provider)
    refund_id = sandbox.create_refund()
    sandbox.add_fault(fault)
    response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert response.status_code == status
    body = response.json()
    assert {key: body[key] for key in check} == check
    _assert_error_style(provider, status, body)


def test_faults_other_providers_lack_are_refused(start: Start) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        start("gr4vy").add_fault("not_found_422")
    with pytest.raises(ValueError, match="unknown fault"):
        start("surecart").add_fault("excess_precision")
    with pytest.raises(ValueError, match="unknown fault"):
        start("convergegate").add_fault("explode")
    assert fault_names("shoplazza") > COMMON_FAULTS


def test_rate_limited_with_and_without_retry_after(sandbox: Sandbox, client: httpx.Client) -> None:
    url = sandbox.refund_url(sandbox.create_refund())
    sandbox.add_fault("rate_limited", times=1)
    sandbox.add_fault("rate_limited", times=1, retry_after=7)
    first = client.get(url, headers=sandbox.auth_headers())
    second = client.get(url, headers=sandbox.auth_headers())
    assert (first.status_code, second.status_code) == (429, 429)
    assert "retry-after" not in first.headers
    assert second.headers["retry-after"] == "7"
    assert client.get(url, headers=sandbox.auth_headers()).status_code == 200


def test_times_limits_a_fault_and_per_refund_faults_stay_put(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    target = sandbox.create_refund()
    other = sandbox.create_refund()
    sandbox.add_fault("server_error", refund_id=target, times=2)
    headers = sandbox.auth_headers()
    assert client.get(sandbox.refund_url(other), headers=headers).status_code == 200
    assert client.get(sandbox.refund_url(target), headers=headers).status_code == 500
    assert client.get(sandbox.refund_url(target), headers=headers).status_code == 500
    assert client.get(sandbox.refund_url(target), headers=headers).status_code == 200
    assert sandbox.faults.active() == []


def test_per_refund_fault_wins_over_sandbox_wide(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("service_unavailable")
    sandbox.add_fault("gateway_timeout", refund_id=refund_id)
    headers = sandbox.auth_headers()
    assert client.get(sandbox.refund_url(refund_id), headers=headers).status_code == 504
    assert client.get(sandbox.refund_url("other"), headers=headers).status_code == 503
    assert sandbox.clear_faults(refund_id) == 1
    assert client.get(sandbox.refund_url(refund_id), headers=headers).status_code == 503
    assert sandbox.clear_faults() == 1
    assert client.get(sandbox.refund_url(refund_id), headers=headers).status_code == 200


def test_delay_beyond_the_client_timeout(sandbox: Sandbox) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("delay", seconds=2.0, times=1)
    with httpx.Client(timeout=0.3) as http, pytest.raises(httpx.ReadTimeout):
        http.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    with httpx.Client(timeout=5.0) as http:
        response = http.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert response.status_code == 200


def test_delay_then_answers_normally(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("delay", seconds=0.3, times=1)
    response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3


def test_dropped_connection(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("drop_connection", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers()).is_success


def test_html_instead_of_json(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("html", times=1)
    sandbox.add_fault("html", times=1, status=503)
    first = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    second = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert first.status_code == 200
    assert second.status_code == 503
    for response in (first, second):
        assert response.headers["content-type"].startswith("text/html")
        assert response.text.lstrip().startswith("<!DOCTYPE html>")
        with pytest.raises(json.JSONDecodeError):
            response.json()


def test_truncated_json(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("truncated_json", times=1)
    response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    with pytest.raises(json.JSONDecodeError):
        response.json()
    # The connection stays usable: the truncated body was framed correctly.
    assert client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers()).is_success


def test_unknown_status(sandbox: Sandbox, get_refund: GetRefund) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("unknown_status", times=1)
    sandbox.add_fault("unknown_status", times=1, value="requires_action")
    assert get_refund(sandbox, refund_id)["status"] == "under_review"
    assert get_refund(sandbox, refund_id)["status"] == "requires_action"
    assert get_refund(sandbox, refund_id)["status"] != "requires_action"


def test_extra_fields_stack_with_other_body_faults(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("extra_fields", refund_id=refund_id)
    sandbox.add_fault("unknown_status", refund_id=refund_id, value="on_hold")
    body = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers()).json()
    refund = body["data"]["refund_order"] if sandbox.name == "shoplazza" else body
    assert refund["sandbox_added_field"] == "ignore me"
    assert refund["sandbox_added_object"]["nested"] == [1, 2, 3]
    assert refund["status"] == "on_hold"
    assert body["sandbox_added_field"] == "ignore me"  # the envelope too, where there is one


def test_oversized_body(sandbox: Sandbox, client: httpx.Client) -> None:
    refund_id = sandbox.create_refund()
    sandbox.add_fault("oversized", times=1)
    response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
    assert response.status_code == 200
    assert len(response.content) > 5 * 1024 * 1024
    assert response.json()  # still valid JSON: only its size is wrong


def test_body_faults_need_a_rendered_refund(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.add_fault("truncated_json", times=1)
    missing = client.get(sandbox.refund_url("nope"), headers=sandbox.auth_headers())
    assert missing.status_code == 404
    assert missing.json()
    assert len(sandbox.faults.active()) == 1  # not consumed by the 404


def test_error_faults_fire_before_auth(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.add_fault("bad_gateway", times=1)
    assert client.get(sandbox.refund_url("x")).status_code == 502
    assert client.get(sandbox.refund_url("x")).status_code == 401


def test_shoplazza_excess_precision(start: Start, get_refund: GetRefund) -> None:
    sandbox = start("shoplazza")
    usd = sandbox.create_refund(5000, "USD", "succeeded")
    jpy = sandbox.create_refund(5000, "JPY", "succeeded")
    sandbox.add_fault("excess_precision")
    assert get_refund(sandbox, usd)["amount"] == "50.001"
    assert get_refund(sandbox, jpy)["amount"] == "5000.1"


def test_fault_argument_validation(start: Start) -> None:
    sandbox = start("surecart")
    with pytest.raises(ValueError, match="times"):
        sandbox.add_fault("server_error", times=0)
    with pytest.raises(ValueError, match="negative"):
        sandbox.add_fault("delay", seconds=-1)
