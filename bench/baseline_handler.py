"""The comparison for cold starts: a provider function written the obvious way.

boto3's Secrets Manager client, `httpx` and `json`; no Powertools, no pydantic, no validation,
no error mapping, no logs or metrics. The secret is fetched on the first call and kept for the
life of the process. Which provider it calls comes from BASELINE_PROVIDER (one module serves
the four, as four near-identical hand-written files would); for Gr4vy it imports
`cryptography` at start-up and signs one ES512 JWT, reused until shortly before it expires,
the simplest correct way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from typing import Any

import boto3
import httpx

PROVIDER = os.environ.get("BASELINE_PROVIDER", "surecart")
if PROVIDER == "gr4vy":
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

secrets = boto3.client("secretsmanager")
http = httpx.Client(timeout=10.0)
_secret: dict[str, Any] | None = None
_token: tuple[str, float] = ("", 0.0)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _gr4vy_token(secret: dict[str, Any]) -> str:
    global _token
    if time.time() < _token[1] - 60:
        return _token[0]
    key = serialization.load_pem_private_key(secret["private_key"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101 - a bench stand-in
    numbers = key.public_key().public_numbers()
    jwk = {
        "crv": "P-521",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(66, "big")),
        "y": _b64url(numbers.y.to_bytes(66, "big")),
    }
    kid = _b64url(
        hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
    )
    now = int(time.time())
    header = {"alg": "ES512", "typ": "JWT", "kid": kid}
    claims = {
        "scopes": ["transactions.read"],
        "iss": "baseline",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "jti": str(uuid.uuid4()),
    }
    signing_input = (
        _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA512())))
    token = signing_input + "." + _b64url(r.to_bytes(66, "big") + s.to_bytes(66, "big"))
    _token = (token, now + 900.0)
    return token


def _request(secret: dict[str, Any], refund_id: str) -> tuple[str, dict[str, str]]:
    base = secret["base_url"]
    if PROVIDER == "convergegate":
        basic = base64.b64encode(f"{secret['secret_key']}:".encode()).decode()
        return f"{base}/v1/refunds/{refund_id}", {"Authorization": f"Basic {basic}"}
    if PROVIDER == "surecart":
        return f"{base}/v1/refunds/{refund_id}", {"Authorization": f"Bearer {secret['api_token']}"}
    if PROVIDER == "shoplazza":
        path = f"/openapi/{secret['api_version']}/shoplazza-payment/refunds/{refund_id}"
        return base + path, {"Access-Token": secret["access_token"]}
    return f"{base}/refunds/{refund_id}", {"Authorization": f"Bearer {_gr4vy_token(secret)}"}


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    global _secret
    if _secret is None:
        value = secrets.get_secret_value(SecretId=os.environ["PROVIDER_SECRET_ID"])
        _secret = json.loads(value["SecretString"])
    refund_id = event["pathParameters"]["refund_id"]
    url, headers = _request(_secret, refund_id)
    response = http.get(url, headers=headers)
    body = json.loads(response.content)
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }
