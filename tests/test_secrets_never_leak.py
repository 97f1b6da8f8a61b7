"""No secret value ever reaches a response, a log line or an exception message.

Every error path is driven through the real handlers with logging at DEBUG; stdout (where
Powertools writes), stderr, captured log records and the response are all searched for the
distinctive secret values of tests.helpers, and for the Gr4vy private key's PEM body.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
import respx
from moto import mock_aws

from tests.helpers import (
    CONVERGEGATE_SECRET_KEY,
    SECRET_VALUES,
    SHOPLAZZA_ACCESS_TOKEN,
    SURECART_API_TOKEN,
    FakeLambdaContext,
    load_event,
    pem_body_marker,
    powertools_logs_to_current_stdout,
    secret_for,
)

SURECART_URL = "https://api.surecart.com/v1/refunds/86d3873a-3d4f-47fb-a541-0d8ac61684fe"
GR4VY_URL = "https://api.sandbox.acme.gr4vy.app/refunds/6a1d4e46-14ed-4fe1-a45d-5f3e6f1f7b3d"
SHOPLAZZA_URL = "https://acme.myshoplaza.com/openapi/2024-07/shoplazza-payment/refunds/123456"
CONVERGEGATE_URL = "https://checkout.example-merchant.test/v1/refunds/kLcRRC5P8U68CYe0kVA"


def _echo(status: int, content_type: str = "application/json") -> Callable[..., httpx.Response]:
    """A provider that quotes the credentials it was sent back in its answer (some do)."""

    def answer(request: httpx.Request) -> httpx.Response:
        echoed = " ".join(f"{k}={v}" for k, v in request.headers.items())
        body = json.dumps({"message": echoed, "status": echoed, "created_at": echoed})
        return httpx.Response(status, content=body.encode(), headers={"Content-Type": content_type})

    return answer


def _raise(exc: Exception) -> Callable[..., httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc

    return answer


SCENARIOS: list[tuple[str, str, Any, Any]] = [
    # (provider, url, secret override or None, provider behaviour)
    ("surecart", SURECART_URL, None, _echo(401)),
    ("surecart", SURECART_URL, None, _echo(403)),
    ("surecart", SURECART_URL, None, _echo(500)),
    ("surecart", SURECART_URL, None, _echo(400)),
    ("surecart", SURECART_URL, None, _echo(200)),
    ("surecart", SURECART_URL, None, _echo(200, "text/html")),
    ("surecart", SURECART_URL, None, _raise(httpx.ConnectError("refused"))),
    ("surecart", SURECART_URL, None, _raise(httpx.ReadTimeout("slow"))),
    (
        "surecart",
        SURECART_URL,
        {"api_token": SURECART_API_TOKEN, "base_url": "http://x.test"},
        None,
    ),
    ("gr4vy", GR4VY_URL, None, _echo(401)),
    ("gr4vy", GR4VY_URL, None, _echo(200)),
    ("gr4vy", GR4VY_URL, {"instance_id": "bad.id"}, None),
    ("gr4vy", GR4VY_URL, {"environment": 5}, None),
    ("shoplazza", SHOPLAZZA_URL, None, _echo(400)),
    ("shoplazza", SHOPLAZZA_URL, None, _echo(200)),
    ("shoplazza", SHOPLAZZA_URL, {"access_token": SHOPLAZZA_ACCESS_TOKEN, "api_version": 7}, None),
]

# Credentials no HTTP header can carry: httpx's refusal would quote the header, value included.
HEADER_UNSAFE: list[tuple[str, str, dict[str, Any]]] = [
    ("surecart", SURECART_URL, {"api_token": SURECART_API_TOKEN + "\x00tail"}),
    ("surecart", SURECART_URL, {"api_token": SURECART_API_TOKEN + "\r\nX-Evil: 1"}),
    ("surecart", SURECART_URL, {"api_token": SURECART_API_TOKEN + "ü€"}),
    ("surecart", SURECART_URL, {"api_token": SURECART_API_TOKEN + " two words"}),
    ("shoplazza", SHOPLAZZA_URL, {"access_token": SHOPLAZZA_ACCESS_TOKEN + "\nzz"}),
    ("shoplazza", SHOPLAZZA_URL, {"access_token": SHOPLAZZA_ACCESS_TOKEN + "\x7f"}),
    ("gr4vy", GR4VY_URL, {"merchant_account_id": "acct\r\nX-Evil: 1"}),
    ("gr4vy", GR4VY_URL, {"merchant_account_id": "compte-é"}),
    (
        "convergegate",
        CONVERGEGATE_URL,
        {"secret_key": CONVERGEGATE_SECRET_KEY + ":extra"},
    ),
]
SCENARIOS += [(provider, url, override, _echo(200)) for provider, url, override in HEADER_UNSAFE]


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize(("provider", "url", "override", "behaviour"), SCENARIOS)
def test_no_secret_in_response_logs_or_errors(
    aws: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    provider: str,
    url: str,
    override: dict[str, Any] | None,
    behaviour: Callable[..., httpx.Response] | None,
) -> None:
    secret = secret_for(provider) | (override or {})
    aws.create_secret(Name=f"leak/{provider}", SecretString=json.dumps(secret))
    monkeypatch.setenv("PROVIDER_SECRET_ID", f"leak/{provider}")
    module = importlib.import_module(f"functions.{provider}.app")
    caplog.set_level(logging.DEBUG)
    logging.getLogger("refund-status-tests").setLevel(logging.DEBUG)

    with (
        powertools_logs_to_current_stdout("refund-status-tests"),
        respx.mock(assert_all_called=False) as mock,
    ):
        if behaviour is not None:
            mock.get(url).mock(side_effect=behaviour)
        result = module.lambda_handler(load_event(provider, "get_refund"), FakeLambdaContext())

    assert result["statusCode"] >= 400, "every scenario here is a failure"
    body = json.loads(result["body"])
    assert set(body) == {"error"}
    captured = capsys.readouterr()
    haystacks = {
        "response": json.dumps(result),
        "stdout": captured.out,
        "stderr": captured.err,
        "log records": "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records),
    }
    assert '"message":"request failed"' in captured.out, "no log line captured: vacuous check"
    for where, text in haystacks.items():
        for value in (*SECRET_VALUES, pem_body_marker(), "Bearer ey"):
            assert value not in text, f"{value[:12]}… leaked into {where}"


@pytest.mark.parametrize(("provider", "url", "override"), HEADER_UNSAFE)
def test_a_credential_no_header_can_carry_is_a_configuration_error_before_any_call(
    aws: Any, monkeypatch: pytest.MonkeyPatch, provider: str, url: str, override: dict[str, Any]
) -> None:
    aws.create_secret(
        Name=f"unsafe/{provider}", SecretString=json.dumps(secret_for(provider) | override)
    )
    monkeypatch.setenv("PROVIDER_SECRET_ID", f"unsafe/{provider}")
    module = importlib.import_module(f"functions.{provider}.app")
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url).mock(side_effect=_echo(200))
        result = module.lambda_handler(load_event(provider, "get_refund"), FakeLambdaContext())
    error = json.loads(result["body"])["error"]
    assert (result["statusCode"], error["code"], error["retryable"]) == (
        500,
        "configuration_error",
        False,
    )
    assert next(iter(override)) in error["message"], "the message names the key at fault"
    assert not route.called
