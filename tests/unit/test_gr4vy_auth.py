"""Gr4vy bearer tokens, checked by verifiers that are not our signer (PyJWT, python-jose)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk as jose_jwk

from refund_core.errors import ConfigurationError
from refund_core.providers.gr4vy.auth import (
    TOKEN_REFRESH_MARGIN_SECONDS,
    Gr4vyTokenSigner,
    jwk_thumbprint,
    load_private_key,
)
from refund_core.providers.gr4vy.transport import Gr4vyCredentials
from tests.helpers import gr4vy_private_key_pem, provider_on, secret_for


def _public_key() -> ec.EllipticCurvePublicKey:
    return load_private_key(gr4vy_private_key_pem()).public_key()


def _independent_thumbprint() -> str:
    """RFC 7638 from python-jose's JWK of the public key (what Gr4vy's own SDK uses)."""
    members = jose_jwk.construct(_public_key(), algorithm="ES512").to_dict()
    canonical = json.dumps(
        {k: members[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _decode(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, key=_public_key(), algorithms=["ES512"], options={"require": ["exp", "nbf", "iat"]}
    )
    return claims


def test_token_verifies_with_pyjwt_and_carries_least_privilege_claims() -> None:
    token = Gr4vyTokenSigner(load_private_key(gr4vy_private_key_pem())).token()
    header = jwt.get_unverified_header(token)
    claims = _decode(token)
    assert header["alg"] == "ES512"
    assert header["kid"] == _independent_thumbprint()
    assert claims["scopes"] == ["transactions.read"]
    assert set(claims) >= {"scopes", "iss", "iat", "nbf", "exp", "jti"}
    assert claims["nbf"] <= claims["iat"] < claims["exp"]


def test_kid_is_the_rfc7638_thumbprint() -> None:
    assert jwk_thumbprint(load_private_key(gr4vy_private_key_pem())) == _independent_thumbprint()


def test_token_is_reused_until_shortly_before_expiry() -> None:
    now = [1_800_000_000.0]
    signer = Gr4vyTokenSigner(
        load_private_key(gr4vy_private_key_pem()), lifetime_seconds=900, clock=lambda: now[0]
    )
    first = signer.token()
    now[0] += 900 - TOKEN_REFRESH_MARGIN_SECONDS - 1
    assert signer.token() == first
    now[0] += 2
    second = signer.token()
    assert second != first
    assert jwt.decode(second, options={"verify_signature": False})["iat"] == int(now[0])


def test_one_signature_serves_many_requests() -> None:
    tokens: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        tokens.append(request.headers["Authorization"])
        return httpx.Response(404, json={"type": "error", "code": "not_found", "status": 404})

    provider = provider_on("gr4vy", record)
    for _ in range(5):
        with pytest.raises(Exception, match="no such refund"):
            provider.get_refund("6a1d4e46-14ed-4fe1-a45d-5f3e6f1f7b3d")
    assert len(set(tokens)) == 1


def test_merchant_account_header_only_when_configured() -> None:
    seen: list[httpx.Headers] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(404, json={"type": "error", "code": "not_found", "status": 404})

    secret = secret_for("gr4vy") | {"merchant_account_id": "acme-eu"}
    for chosen in (secret_for("gr4vy"), secret):
        with pytest.raises(Exception, match="no such refund"):
            provider_on("gr4vy", record, secret=chosen).get_refund("r1")
    assert "x-gr4vy-merchant-account-id" not in seen[0]
    assert seen[1]["x-gr4vy-merchant-account-id"] == "acme-eu"


def _pem(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    "private_key",
    [
        "not a pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        _pem(ec.generate_private_key(ec.SECP256R1())),
    ],
    ids=["garbage", "broken-pem", "p256-not-p521"],
)
def test_a_key_that_is_not_p521_is_a_configuration_error_naming_no_secret(
    private_key: str,
) -> None:
    secret = secret_for("gr4vy") | {"private_key": private_key}
    with pytest.raises(ConfigurationError) as caught:
        Gr4vyCredentials.from_secret(secret)
    assert "private_key" in caught.value.message
    assert private_key.splitlines()[0] not in caught.value.message or "BEGIN" not in private_key
    assert "AAAA" not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("instance_id", ["acme.evil.test", "acme/x", "", "a" * 64, "acme?"])
def test_instance_id_must_be_one_dns_label(instance_id: str) -> None:
    with pytest.raises(ConfigurationError, match="instance_id"):
        Gr4vyCredentials.from_secret(secret_for("gr4vy") | {"instance_id": instance_id})


@pytest.mark.parametrize(
    ("environment", "host"),
    [
        ("sandbox", "https://api.sandbox.acme.gr4vy.app"),
        ("production", "https://api.acme.gr4vy.app"),
    ],
)
def test_default_host_follows_the_environment(environment: str, host: str) -> None:
    credentials = Gr4vyCredentials.from_secret(secret_for("gr4vy") | {"environment": environment})
    assert credentials.default_base_url == host


def test_environment_defaults_to_production() -> None:
    secret = secret_for("gr4vy")
    del secret["environment"]
    assert Gr4vyCredentials.from_secret(secret).environment == "production"
