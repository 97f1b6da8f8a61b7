"""SureCart transport and auth: URL, Bearer token, and what its error bodies mean."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from refund_core.credentials import HeaderSecret, ProviderCredentials
from refund_core.providers.base import ErrorKind
from refund_core.providers.surecart.schema import SureCartError

DEFAULT_BASE_URL = "https://api.surecart.com"

# SureCart answers "not found" as 404, or as 422 whose body says so (its own docs pair them).
NOT_FOUND_TYPES = frozenset({"not_found", "record_not_found"})
AUTH_TYPES = frozenset({"unauthorized", "forbidden", "authentication_error"})


class SureCartCredentials(ProviderCredentials):
    api_token: HeaderSecret


def build_refund_request(
    client: httpx.Client, credentials: SureCartCredentials, refund_id: str
) -> httpx.Request:
    base_url = credentials.base_url or DEFAULT_BASE_URL
    return client.build_request(
        "GET",
        f"{base_url}/v1/refunds/{refund_id}",
        headers={"Authorization": f"Bearer {credentials.api_token.get_secret_value()}"},
    )


def error_kind(status: int, body: Any) -> ErrorKind | None:
    """What SureCart's `{http_status, type, code, ...}` error body says, if anything."""
    try:
        error = SureCartError.model_validate(body)
    except ValidationError:
        return None
    words = {error.type, error.code, error.http_status}
    if words & NOT_FOUND_TYPES:
        return ErrorKind.NOT_FOUND
    if words & AUTH_TYPES:
        return ErrorKind.AUTH
    return None
