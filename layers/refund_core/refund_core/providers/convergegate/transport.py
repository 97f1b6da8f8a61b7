"""ConvergeGate transport and auth: the merchant's own host, Basic auth, Stripe-like errors."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from pydantic import SecretStr, ValidationError, field_validator

from refund_core.credentials import HeaderSecret, ProviderCredentials
from refund_core.providers.base import ErrorKind
from refund_core.providers.convergegate.schema import ConvergeGateErrorBody

AUTH_TYPES = frozenset({"authentication_error", "permission_error"})
# Stripe-style APIs say "no such object" with this code inside an invalid_request_error.
NOT_FOUND_CODES = frozenset({"resource_missing", "not_found"})


class ConvergeGateCredentials(ProviderCredentials):
    secret_key: HeaderSecret
    # No public default host: ConvergeGate hands each merchant its own at onboarding.
    base_url: str

    @field_validator("secret_key")
    @classmethod
    def _no_colon(cls, value: SecretStr) -> SecretStr:
        # Basic auth's user-id cannot hold ':' (RFC 7617): the provider would read a key cut in two.
        if ":" in value.get_secret_value():
            raise ValueError("must not contain ':'")
        return value


def build_refund_request(
    client: httpx.Client, credentials: ConvergeGateCredentials, refund_id: str
) -> httpx.Request:
    # `-u sk_…:` in the docs: the secret key is the user name and the password is empty.
    user_pass = f"{credentials.secret_key.get_secret_value()}:".encode()
    return client.build_request(
        "GET",
        f"{credentials.base_url}/v1/refunds/{refund_id}",
        headers={"Authorization": "Basic " + base64.b64encode(user_pass).decode("ascii")},
    )


def error_kind(status: int, body: Any) -> ErrorKind | None:
    """What `{"error": {"type", "code", ...}}` says, if anything."""
    try:
        error = ConvergeGateErrorBody.model_validate(body).error
    except ValidationError:
        return None
    if error.type in AUTH_TYPES:
        return ErrorKind.AUTH
    if error.code in NOT_FOUND_CODES:
        return ErrorKind.NOT_FOUND
    return None
