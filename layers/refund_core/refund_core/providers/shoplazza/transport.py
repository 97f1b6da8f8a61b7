"""Shoplazza transport and auth: the store's own host, the API version, `Access-Token`."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field, ValidationError, field_validator

from refund_core.credentials import HeaderSecret, ProviderCredentials, is_host_name
from refund_core.providers.base import ErrorKind
from refund_core.providers.shoplazza.schema import ShoplazzaErrorBody

DEFAULT_API_VERSION = "2024-07"

# Shoplazza answers bad credentials with 400 as well as 401, so a 400 is judged by its code.
# These code words are not published as a list; they are the ones its docs and similar
# Shopify-style APIs use [inference]. Compared case-insensitively.
AUTH_CODES = frozenset(
    {
        "unauthorized",
        "invalidaccesstoken",
        "invalidtoken",
        "accessdenied",
        "forbidden",
        "invalid_token",
        "access_denied",
        "authenticationfailed",
    }
)
NOT_FOUND_CODES = frozenset(
    {
        "notfound",
        "not_found",
        "resourcenotfound",
        "refundnotfound",
        "refundordernotfound",
        "recordnotfound",
    }
)


class ShoplazzaCredentials(ProviderCredentials):
    # A host name only: it becomes the URL's host, so no scheme, path, port or user part.
    store_domain: str
    access_token: HeaderSecret
    # ASCII digits only: `\d` would let Arabic-Indic digits through, and every refund would
    # then read "not found".
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^[0-9]{4}-(?:0[1-9]|1[0-2])$")

    @field_validator("store_domain")
    @classmethod
    def _is_host_name(cls, value: str) -> str:
        if not is_host_name(value) or value.endswith("."):
            raise ValueError("must be a host name, such as acme.myshoplaza.com")
        return value


def build_refund_request(
    client: httpx.Client, credentials: ShoplazzaCredentials, refund_id: str
) -> httpx.Request:
    base_url = credentials.base_url or f"https://{credentials.store_domain}"
    return client.build_request(
        "GET",
        f"{base_url}/openapi/{credentials.api_version}/shoplazza-payment/refunds/{refund_id}",
        headers={"Access-Token": credentials.access_token.get_secret_value()},
    )


def error_kind(status: int, body: Any) -> ErrorKind | None:
    """What `{code, message}`, `{"error": ...}` or `{"errors": ...}` says, if anything."""
    try:
        error = ShoplazzaErrorBody.model_validate(body)
    except ValidationError:
        return None
    return code_kind(error.code or error.error)


def code_kind(code: str | None) -> ErrorKind | None:
    word = (code or "").strip().lower()
    if word in AUTH_CODES:
        return ErrorKind.AUTH
    if word in NOT_FOUND_CODES:
        return ErrorKind.NOT_FOUND
    return None
