"""ES512 JWTs as Gr4vy uses them: P-521 keys, RFC 7638 ``kid``, raw r||s JWS signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

_COORD_BYTES = 66  # P-521 coordinates and signature halves are ceil(521 / 8) bytes
_CACHE_LIMIT = 4096


class TokenError(Exception):
    """A bearer token that must be refused with 401."""


def b64url(data: bytes) -> str:
    """Base64url without padding (JOSE)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url decoding of an unpadded JOSE segment."""
    if not text or "=" in text:
        raise TokenError("malformed token segment")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed token segment") from exc


def generate_private_key_pem() -> str:
    """A fresh EC P-521 private key as PKCS#8 PEM, the form Gr4vy hands out."""
    key = ec.generate_private_key(ec.SECP521R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii")


def load_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    """Load a P-521 private key from PEM, refusing any other curve."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp521r1":
        raise ValueError("Gr4vy keys are EC P-521")
    return key


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint: SHA-256 of the sorted, compact {crv,kty,x,y} JSON."""
    numbers = public_key.public_numbers()
    jwk = {
        "crv": "P-521",
        "kty": "EC",
        "x": b64url(numbers.x.to_bytes(_COORD_BYTES, "big")),
        "y": b64url(numbers.y.to_bytes(_COORD_BYTES, "big")),
    }
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def mint_token(
    private_key_pem: str,
    scopes: Sequence[str] = ("transactions.read",),
    *,
    expires_in: float = 3600,
    now: float | None = None,
    kid: str | None = None,
    alg: str = "ES512",
    claims: dict[str, Any] | None = None,
) -> str:
    """A token shaped like the SDK's ``get_token`` (for tests and demos; overrides break it)."""
    key = load_private_key(private_key_pem)
    issued = int(time.time() if now is None else now)
    header = {"alg": alg, "typ": "JWT", "kid": kid or thumbprint(key.public_key())}
    payload: dict[str, Any] = {
        "scopes": list(scopes),
        "iss": "devstack-sandbox",
        "iat": issued,
        "nbf": issued,
        "exp": int(issued + expires_in),
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims or {})
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(payload, separators=(",", ":")).encode())
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA512())))
    signature = r.to_bytes(_COORD_BYTES, "big") + s.to_bytes(_COORD_BYTES, "big")
    return signing_input + "." + b64url(signature)


class TokenVerifier:
    """Verifies Gr4vy bearer tokens against one merchant public key.

    A P-521 verification costs ~0.7 ms, so tokens already verified are remembered (by their
    exact text) and only their time claims are re-checked; a client that reuses a token until
    shortly before ``exp`` then pays the signature cost once.
    """

    def __init__(self, public_key: ec.EllipticCurvePublicKey, clock_skew: float = 30.0) -> None:
        self.public_key = public_key
        self.kid = thumbprint(public_key)
        self.clock_skew = clock_skew
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str, now: float | None = None) -> dict[str, Any]:
        """The token's claims, or TokenError when the signature, kid or times are wrong."""
        claims = self._cache.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            with self._lock:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[token] = claims
        self._check_times(claims, time.time() if now is None else now)
        return claims

    def _verify_signature(self, token: str) -> dict[str, Any]:
        if not token.isascii():
            # A compact JWS is base64url and dots only (RFC 7515 section 7.1).
            raise TokenError("token is not a compact JWS")
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("token is not a compact JWS")
        header = _json_segment(parts[0])
        if header.get("alg") != "ES512":
            raise TokenError("token must be signed with ES512")
        if header.get("kid") != self.kid:
            raise TokenError("token kid does not match any known key")
        signature = b64url_decode(parts[2])
        if len(signature) != 2 * _COORD_BYTES:
            raise TokenError("ES512 signature must be 132 bytes (r||s)")
        der = encode_dss_signature(
            int.from_bytes(signature[:_COORD_BYTES], "big"),
            int.from_bytes(signature[_COORD_BYTES:], "big"),
        )
        try:
            self.public_key.verify(
                der, f"{parts[0]}.{parts[1]}".encode("ascii"), ec.ECDSA(hashes.SHA512())
            )
        except InvalidSignature as exc:
            raise TokenError("token signature is invalid") from exc
        claims = _json_segment(parts[1])
        # [inference] exp is required: the SDK always sends it and Gr4vy tokens are short-lived.
        for name in ("exp",):
            if not _is_number(claims.get(name)):
                raise TokenError(f"token has no numeric {name} claim")
        for name in ("nbf", "iat"):
            if name in claims and not _is_number(claims[name]):
                raise TokenError(f"token {name} claim is not numeric")
        return claims

    def _check_times(self, claims: dict[str, Any], now: float) -> None:
        if now - self.clock_skew >= float(claims["exp"]):
            raise TokenError("token has expired")
        if "nbf" in claims and now + self.clock_skew < float(claims["nbf"]):
            raise TokenError("token is not valid yet")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json_segment(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(b64url_decode(segment))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TokenError("token segment is not JSON") from exc
    if not isinstance(value, dict):
        raise TokenError("token segment is not a JSON object")
    return value
