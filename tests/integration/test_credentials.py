"""Credentials over real HTTP: wrong secrets, ids refused before any call, Gr4vy's signed JWT."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from devstack.sandboxes import Sandbox, start_sandbox
from devstack.sandboxes.gr4vy_jwt import generate_private_key_pem
from tests.helpers import load_event
from tests.integration.harness import (
    Deployment,
    assert_error,
    assert_nothing_secret_leaked,
    assert_refund,
    authorizations,
)

# A secret that is well-formed but that the provider does not accept.
WRONG_CREDENTIALS: dict[str, dict[str, str]] = {
    "convergegate": {"secret_key": "sk_test_WRONGwrongWRONGwrong0001"},
    "surecart": {"api_token": "WRONGwrongWRONGwrongWRONGwrong01"},
    # A valid P-521 key, just not the one the sandbox holds the public half of.
    "gr4vy": {"private_key": generate_private_key_pem()},
    "shoplazza": {"access_token": "WRONGwrongWRONGwrongWRONGwrongWRONGwrong001"},
}
INVALID_IDS = [
    pytest.param("a" * 129, id="too-long"),
    pytest.param("café", id="non-ascii"),
    pytest.param("has space", id="space"),
    pytest.param("a.b", id="dot"),
    pytest.param("a/b", id="slash"),
    pytest.param("..", id="dot-dot"),
    pytest.param("semi;colon", id="semicolon"),
]
MERCHANT_ACCOUNT = "acme-eu"
MERCHANT_HEADER = "x-gr4vy-merchant-account-id"


def test_wrong_credentials_are_502_provider_auth_failed(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    function.deploy(sandbox.credentials | WRONG_CREDENTIALS[provider])
    refund_id = sandbox.create_refund()

    answer = function.get(refund_id)

    assert_error(answer, 502, "provider_auth_failed", provider=provider, retryable=False)
    assert sandbox.requests_for(refund_id) >= 1, "the provider was never asked"
    assert_nothing_secret_leaked(function, capsys)


def test_rotated_secret_is_used_after_the_provider_refuses_the_old_one(
    function: Deployment,
    sandbox: Sandbox,
    provider: str,
    secrets_manager: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    function.deploy(sandbox.credentials | WRONG_CREDENTIALS[provider])
    refund_id = sandbox.create_refund()
    assert function.get(refund_id).status == 502
    # Rotated in Secrets Manager while the function still holds the old value in its cache.
    secrets_manager.put_secret_value(
        SecretId=os.environ["PROVIDER_SECRET_ID"], SecretString=json.dumps(sandbox.credentials)
    )

    answer = function.get(refund_id)

    assert assert_refund(answer, provider, refund_id)["status"] == "pending"
    assert_nothing_secret_leaked(function, capsys)


@pytest.mark.parametrize("refund_id", INVALID_IDS)
def test_invalid_refund_id_is_400_without_a_provider_call(
    function: Deployment,
    sandbox: Sandbox,
    provider: str,
    refund_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = sandbox.request_count
    event = load_event(provider, "get_refund")
    event["path"] = f"/refunds/{provider}/{quote(refund_id, safe='')}"
    event["pathParameters"] = {"refund_id": refund_id}

    answer = function.invoke(event)

    assert_error(answer, 400, "invalid_refund_id", provider=provider, retryable=False)
    assert sandbox.request_count == before, "an invalid id reached the provider"
    assert_nothing_secret_leaked(function, capsys)


def test_invalid_refund_id_event_file_is_400_without_a_provider_call(
    function: Deployment, sandbox: Sandbox, provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sandbox.request_count

    answer = function.invoke(load_event(provider, "invalid_refund_id"))

    assert_error(answer, 400, "invalid_refund_id", provider=provider, retryable=False)
    assert sandbox.request_count == before, "an invalid id reached the provider"
    assert_nothing_secret_leaked(function, capsys)


# --- Gr4vy: an ES512 JWT the sandbox verifies with the public key alone -----------------------


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


@pytest.fixture
def merchant_sandbox() -> Iterator[Sandbox]:
    """A Gr4vy sandbox whose key is bound to one merchant account."""
    with start_sandbox("gr4vy", merchant_account_id=MERCHANT_ACCOUNT) as started:
        yield started


@pytest.mark.parametrize("sandbox", ["gr4vy"], indirect=True)
def test_gr4vy_token_passes_the_sandbox_public_key_verifier(
    function: Deployment, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    refund_id = sandbox.create_refund(amount=1299, currency="USD")

    answer = function.get(refund_id)

    assert assert_refund(answer, "gr4vy", refund_id)["status"] == "pending"
    [authorization] = authorizations(sandbox, refund_id)
    scheme, _, token = authorization.partition(" ")
    assert scheme == "Bearer"
    header, claims = _segment(token, 0), _segment(token, 1)
    verifier = sandbox.provider.verifier  # type: ignore[attr-defined]
    assert header["alg"] == "ES512"
    assert header["kid"] == verifier.kid  # RFC 7638 thumbprint of the public key
    assert claims["scopes"] == ["transactions.read"]  # least privilege
    assert {"iss", "iat", "nbf", "exp", "jti"} <= set(claims)
    assert claims["iat"] <= claims["nbf"] < claims["exp"] <= claims["iat"] + 3600
    assert verifier.verify(token) == claims  # signature, kid and times, with the public key
    assert_nothing_secret_leaked(function, capsys, token)


@pytest.mark.parametrize("sandbox", ["gr4vy"], indirect=True)
def test_gr4vy_merchant_account_id_is_sent_when_configured(
    function: Deployment, merchant_sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert merchant_sandbox.credentials["merchant_account_id"] == MERCHANT_ACCOUNT
    function.deploy(merchant_sandbox.credentials)
    refund_id = merchant_sandbox.create_refund()

    answer = function.get(refund_id)

    assert assert_refund(answer, "gr4vy", refund_id)["status"] == "pending"
    [request] = [r for r in merchant_sandbox.recent_requests if r.path.endswith(refund_id)]
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert headers[MERCHANT_HEADER] == MERCHANT_ACCOUNT
    assert_nothing_secret_leaked(function, capsys)


@pytest.mark.parametrize("sandbox", ["gr4vy"], indirect=True)
@pytest.mark.parametrize(
    "merchant_account_id",
    [pytest.param(None, id="missing"), pytest.param("acme-us", id="another-account")],
)
def test_gr4vy_merchant_account_mismatch_is_502_provider_auth_failed(
    function: Deployment,
    merchant_sandbox: Sandbox,
    merchant_account_id: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = dict(merchant_sandbox.credentials)
    secret.pop("merchant_account_id")
    if merchant_account_id is not None:
        secret["merchant_account_id"] = merchant_account_id
    function.deploy(secret)
    refund_id = merchant_sandbox.create_refund()

    answer = function.get(refund_id)

    assert_error(answer, 502, "provider_auth_failed", provider="gr4vy", retryable=False)
    assert merchant_sandbox.requests_for(refund_id) >= 1
    assert_nothing_secret_leaked(function, capsys)


@pytest.mark.parametrize("sandbox", ["gr4vy"], indirect=True)
def test_gr4vy_merchant_account_unknown_to_the_key_is_502(
    function: Deployment, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    function.deploy(sandbox.credentials | {"merchant_account_id": "not-this-merchant"})
    refund_id = sandbox.create_refund()

    answer = function.get(refund_id)

    assert_error(answer, 502, "provider_auth_failed", provider="gr4vy", retryable=False)
    assert_nothing_secret_leaked(function, capsys)


@pytest.mark.parametrize("sandbox", ["gr4vy"], indirect=True)
def test_gr4vy_token_is_reused_across_ten_requests(
    function: Deployment, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    refund_id = sandbox.create_refund()

    answers = [function.get(refund_id) for _ in range(10)]

    assert [a.status for a in answers] == [200] * 10
    seen = authorizations(sandbox, refund_id)
    assert len(seen) == 10
    assert len(set(seen)) == 1, "a new token was signed for a request"
    assert_nothing_secret_leaked(function, capsys, seen[0].partition(" ")[2])
