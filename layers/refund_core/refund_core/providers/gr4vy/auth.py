"""Gr4vy's bearer tokens: ES512 JWTs signed with the merchant's P-521 key, reused until near expiry.

Gr4vy's SDK signs a new token for every request; an ES512 signature costs about a millisecond
of CPU, so here one token serves every call until shortly before it expires.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

# Least privilege: reading a refund needs only this (Gr4vy's docs for GET /refunds/{id}).
READ_SCOPES = ("transactions.read",)
TOKEN_LIFETIME_SECONDS = 900
# A token is replaced this long before `exp`, so clock skew and a slow call never send a dead one.
TOKEN_REFRESH_MARGIN_SECONDS = 60
ISSUER = "refund-status"
_P521_COORDINATE_BYTES = 66


class InvalidPrivateKey(ValueError):
    """The configured key is not an EC P-521 private key in PEM. Says nothing about the key."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=None)
    except (ValueError, TypeError):
        raise InvalidPrivateKey("private_key is not a PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP521R1):
        raise InvalidPrivateKey("private_key must be an EC P-521 key (ES512)")
    return key


def jwk_thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 7638 thumbprint of the public key: SHA-256 of the canonical {crv,kty,x,y} JSON."""
    numbers = key.public_key().public_numbers()
    members = {
        "crv": "P-521",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(_P521_COORDINATE_BYTES, "big")),
        "y": _b64url(numbers.y.to_bytes(_P521_COORDINATE_BYTES, "big")),
    }
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


class Gr4vyTokenSigner:
    """Signs and caches the bearer token; thread-safe, one per credentials."""

    def __init__(
        self,
        private_key: ec.EllipticCurvePrivateKey,
        *,
        scopes: Sequence[str] = READ_SCOPES,
        lifetime_seconds: int = TOKEN_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = private_key
        self._scopes = list(scopes)
        self._lifetime = lifetime_seconds
        self._clock = clock
        header = {"alg": "ES512", "typ": "JWT", "kid": jwk_thumbprint(private_key)}
        self._encoded_header = _b64url(json.dumps(header, separators=(",", ":")).encode())
        self._token = ""
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        now = self._clock()
        if now < self._expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
            return self._token
        with self._lock:
            if now >= self._expires_at - TOKEN_REFRESH_MARGIN_SECONDS:
                self._token, self._expires_at = self._sign(int(now))
        return self._token

    def _sign(self, now: int) -> tuple[str, float]:
        expires_at = now + self._lifetime
        claims = {
            "scopes": self._scopes,
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": expires_at,
            "jti": str(uuid.uuid4()),
        }
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{self._encoded_header}.{payload}".encode("ascii")
        r, s = decode_dss_signature(self._key.sign(signing_input, ec.ECDSA(hashes.SHA512())))
        # JWS wants the raw r || s, each padded to the curve size, not DER.
        signature = r.to_bytes(_P521_COORDINATE_BYTES, "big") + s.to_bytes(
            _P521_COORDINATE_BYTES, "big"
        )
        return f"{self._encoded_header}.{payload}.{_b64url(signature)}", float(expires_at)
