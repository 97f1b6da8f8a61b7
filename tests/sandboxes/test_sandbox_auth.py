"""Credentials are checked the way each provider checks them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import httpx
import pytest

from devstack.sandboxes import Sandbox, mint_token
from devstack.sandboxes.gr4vy_jwt import b64url, b64url_decode, generate_private_key_pem

Start = Callable[..., Sandbox]


def _basic(user: str, password: str = "") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- ConvergeGate -----------------------------------------------------------------------------


def test_convergegate_accepts_basic_with_empty_password_and_bearer(
    start: Start, client: httpx.Client
) -> None:
    sandbox = start("convergegate")
    key = sandbox.credentials["secret_key"]
    assert key.startswith("sk_test_")
    refund_id = sandbox.create_refund(1000)
    url = sandbox.refund_url(refund_id)
    assert client.get(url, headers=_basic(key)).status_code == 200
    assert client.get(url, auth=(key, "")).status_code == 200
    assert client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"sk_test_wrong:").decode()},
        {"Authorization": "Basic not-base64!!"},
        {"Authorization": "Bearer sk_test_wrong"},
        {"Authorization": "Token whatever"},
    ],
    ids=["missing", "wrong-key", "garbage-basic", "wrong-bearer", "other-scheme"],
)
def test_convergegate_rejects_bad_credentials(
    start: Start, client: httpx.Client, headers: dict[str, str]
) -> None:
    sandbox = start("convergegate")
    response = client.get(sandbox.refund_url(sandbox.create_refund()), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.json()["error"]["message"]


def test_convergegate_rejects_a_password(start: Start, client: httpx.Client) -> None:
    sandbox = start("convergegate")
    headers = _basic(sandbox.credentials["secret_key"], "secret")
    response = client.get(sandbox.refund_url(sandbox.create_refund()), headers=headers)
    assert response.status_code == 401


def test_convergegate_pinned_key(start: Start, client: httpx.Client) -> None:
    sandbox = start("convergegate", secret_key="sk_test_pinned")
    assert sandbox.credentials["secret_key"] == "sk_test_pinned"
    url = sandbox.refund_url(sandbox.create_refund())
    assert client.get(url, headers=_basic("sk_test_pinned")).status_code == 200


# --- SureCart ---------------------------------------------------------------------------------


def test_surecart_bearer(start: Start, client: httpx.Client) -> None:
    sandbox = start("surecart")
    url = sandbox.refund_url(sandbox.create_refund())
    token = sandbox.credentials["api_token"]
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic dG9rZW46"}],
    ids=["missing", "wrong", "basic"],
)
def test_surecart_rejects(start: Start, client: httpx.Client, headers: dict[str, str]) -> None:
    sandbox = start("surecart")
    response = client.get(sandbox.refund_url(sandbox.create_refund()), headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"http_status", "type", "code", "message", "validation_errors"}
    assert body["http_status"] == "unauthorized"


def test_surecart_token_sent_as_basic_user_is_rejected(start: Start, client: httpx.Client) -> None:
    sandbox = start("surecart")
    url = sandbox.refund_url(sandbox.create_refund())
    assert client.get(url, headers=_basic(sandbox.credentials["api_token"])).status_code == 401


# --- Shoplazza --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2024-07", "2025-06", "2026-01"])
def test_shoplazza_access_token_on_every_version(
    start: Start, client: httpx.Client, version: str
) -> None:
    sandbox = start("shoplazza")
    refund_id = sandbox.create_refund(5000)
    url = f"{sandbox.base_url}/openapi/{version}/shoplazza-payment/refunds/{refund_id}"
    response = client.get(url, headers={"Access-Token": sandbox.credentials["access_token"]})
    assert response.status_code == 200
    assert response.json()["data"]["refund_order"]["id"] == refund_id


def test_shoplazza_unknown_version_is_not_found(start: Start, client: httpx.Client) -> None:
    sandbox = start("shoplazza")
    refund_id = sandbox.create_refund()
    url = f"{sandbox.base_url}/openapi/2023-01/shoplazza-payment/refunds/{refund_id}"
    response = client.get(url, headers=sandbox.auth_headers())
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Access-Token": "wrong"}, {"Authorization": "Bearer x"}],
    ids=["missing", "wrong", "bearer-instead"],
)
def test_shoplazza_rejects(start: Start, client: httpx.Client, headers: dict[str, str]) -> None:
    sandbox = start("shoplazza")
    response = client.get(sandbox.refund_url(sandbox.create_refund()), headers=headers)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}


def test_shoplazza_bearer_with_the_right_token_is_still_rejected(
    start: Start, client: httpx.Client
) -> None:
    sandbox = start("shoplazza")
    token = sandbox.credentials["access_token"]
    url = sandbox.refund_url(sandbox.create_refund())
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


# --- Gr4vy ------------------------------------------------------------------------------------


def _gr4vy_get(client: httpx.Client, url: str, token: str, **headers: str) -> httpx.Response:
    return client.get(url, headers={"Authorization": f"Bearer {token}", **headers})


@pytest.mark.parametrize("scopes", [["transactions.read"], ["*.read"], ["x.read", "*.read"]])
def test_gr4vy_accepts_read_scopes(start: Start, client: httpx.Client, scopes: list[str]) -> None:
    sandbox = start("gr4vy")
    token = mint_token(sandbox.credentials["private_key"], scopes)
    assert _gr4vy_get(client, sandbox.refund_url(sandbox.create_refund()), token).status_code == 200


@pytest.mark.parametrize(
    "scopes", [["buyers.read"], ["transactions.write"], ["*.write"], ["*"], []]
)
def test_gr4vy_forbids_other_scopes(start: Start, client: httpx.Client, scopes: list[str]) -> None:
    sandbox = start("gr4vy")
    token = mint_token(sandbox.credentials["private_key"], scopes)
    response = _gr4vy_get(client, sandbox.refund_url(sandbox.create_refund()), token)
    assert response.status_code == 403
    assert response.json() == {
        "type": "error",
        "code": "forbidden",
        "status": 403,
        "message": response.json()["message"],
        "details": [],
    }


def _unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert (body["type"], body["code"], body["status"], body["details"]) == (
        "error",
        "unauthorized",
        401,
        [],
    )


def test_gr4vy_rejects_missing_and_non_bearer(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    url = sandbox.refund_url(sandbox.create_refund())
    _unauthorized(client.get(url))
    _unauthorized(client.get(url, headers={"Authorization": "Basic eDp5"}))
    _unauthorized(client.get(url, headers={"Authorization": "Bearer not.a.jwt"}))
    _unauthorized(client.get(url, headers={"Authorization": "Bearer abc"}))
    # Not ASCII (http.server reads header bytes as Latin-1): a 401, not a dropped connection.
    token = mint_token(sandbox.credentials["private_key"]).split(".")
    tampered = ".".join([token[0], token[1] + "\u00e9", token[2]]).encode("latin-1")
    _unauthorized(client.get(url, headers={"Authorization": b"Bearer " + tampered}))


def test_gr4vy_rejects_a_token_from_another_key(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    url = sandbox.refund_url(sandbox.create_refund())
    other = generate_private_key_pem()
    _unauthorized(_gr4vy_get(client, url, mint_token(other)))
    # Another key's signature under this key's kid: the signature check itself must fail.
    kid = sandbox.provider.verifier.kid  # type: ignore[attr-defined]
    _unauthorized(_gr4vy_get(client, url, mint_token(other, kid=kid)))


def test_gr4vy_rejects_wrong_kid_and_alg(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    pem = sandbox.credentials["private_key"]
    url = sandbox.refund_url(sandbox.create_refund())
    _unauthorized(_gr4vy_get(client, url, mint_token(pem, kid="some-other-kid")))
    _unauthorized(_gr4vy_get(client, url, mint_token(pem, alg="ES256")))


def test_gr4vy_rejects_tampered_claims(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    url = sandbox.refund_url(sandbox.create_refund())
    header, payload, signature = mint_token(sandbox.credentials["private_key"], ["x.read"]).split(
        "."
    )
    forged = b64url_decode(payload).replace(b'"x.read"', b'"*.read"')
    _unauthorized(_gr4vy_get(client, url, f"{header}.{b64url(forged)}.{signature}"))


def test_gr4vy_rejects_der_signature(start: Start, client: httpx.Client) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    sandbox = start("gr4vy")
    pem = sandbox.credentials["private_key"]
    header, payload, _ = mint_token(pem).split(".")
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA512()))
    url = sandbox.refund_url(sandbox.create_refund())
    _unauthorized(_gr4vy_get(client, url, f"{header}.{payload}.{b64url(der)}"))


def test_gr4vy_time_claims_with_skew(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    pem = sandbox.credentials["private_key"]
    url = sandbox.refund_url(sandbox.create_refund())
    now = time.time()
    # expired 10 s ago: inside the 30 s skew, still accepted
    assert _gr4vy_get(client, url, mint_token(pem, now=now - 70, expires_in=60)).status_code == 200
    _unauthorized(_gr4vy_get(client, url, mint_token(pem, now=now - 200, expires_in=60)))
    # not valid before 10 s from now: inside the skew; 5 minutes: refused
    early = mint_token(pem, claims={"nbf": int(now + 10)})
    assert _gr4vy_get(client, url, early).status_code == 200
    _unauthorized(_gr4vy_get(client, url, mint_token(pem, claims={"nbf": int(now + 300)})))
    _unauthorized(_gr4vy_get(client, url, mint_token(pem, claims={"exp": None})))


def test_gr4vy_cached_token_still_expires(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy", clock_skew=0.0)
    url = sandbox.refund_url(sandbox.create_refund())
    token = mint_token(sandbox.credentials["private_key"], expires_in=2)
    assert _gr4vy_get(client, url, token).status_code == 200  # verified, now cached
    exp = json.loads(b64url_decode(token.split(".")[1]))["exp"]
    time.sleep(max(0.0, exp - time.time() + 0.2))
    _unauthorized(_gr4vy_get(client, url, token))


def test_gr4vy_merchant_account_when_configured(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy", merchant_account_id="acme-eu")
    assert sandbox.credentials["merchant_account_id"] == "acme-eu"
    url = sandbox.refund_url(sandbox.create_refund())
    token = mint_token(sandbox.credentials["private_key"])
    ok = _gr4vy_get(client, url, token, **{"X-GR4VY-MERCHANT-ACCOUNT-ID": "acme-eu"})
    assert ok.status_code == 200
    assert _gr4vy_get(client, url, token).status_code == 403
    wrong = _gr4vy_get(client, url, token, **{"X-GR4VY-MERCHANT-ACCOUNT-ID": "acme-us"})
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "forbidden"


def test_gr4vy_merchant_account_when_not_configured(start: Start, client: httpx.Client) -> None:
    sandbox = start("gr4vy")
    assert "merchant_account_id" not in sandbox.credentials
    url = sandbox.refund_url(sandbox.create_refund())
    token = mint_token(sandbox.credentials["private_key"])
    assert _gr4vy_get(client, url, token).status_code == 200
    default = _gr4vy_get(client, url, token, **{"X-GR4VY-MERCHANT-ACCOUNT-ID": "default"})
    assert default.status_code == 200
    other = _gr4vy_get(client, url, token, **{"X-GR4VY-MERCHANT-ACCOUNT-ID": "acme"})
    assert other.status_code == 403


def test_auth_is_checked_before_existence(sandbox: Sandbox, client: httpx.Client) -> None:
    assert client.get(sandbox.refund_url("never-created")).status_code == 401
