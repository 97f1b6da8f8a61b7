"""The shared algorithm of every provider client; each provider fills in only what differs.

`get_refund` is the template method: validate the id, build the request (transport and auth),
send it, classify errors, parse the native schema and map it to the canonical refund. Providers
implement the small hooks below; only a `Refund` or a `ProviderError` ever leaves.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any, ClassVar, TypeVar, cast

import httpx
from pydantic import BaseModel, ValidationError

from refund_core.accounts import DEFAULT_ACCOUNT
from refund_core.credentials import ProviderCredentials
from refund_core.errors import (
    ConfigurationError,
    ProviderAuthFailed,
    ProviderBadResponse,
    ProviderError,
    ProviderRateLimited,
    ProviderUnavailable,
    RefundNotFound,
)
from refund_core.ids import validate_refund_id
from refund_core.model import Refund
from refund_core.timestamps import utc_now
from refund_core.transport import ProviderResponse, send

CredentialsT = TypeVar("CredentialsT", bound=ProviderCredentials)
NativeT = TypeVar("NativeT", bound=BaseModel)

# Longest Retry-After we pass on (a day); a provider asking for more is capped, so an absurd
# value never becomes an absurd header.
MAX_RETRY_AFTER_SECONDS = 86_400


class ErrorKind(Enum):
    """What a provider's own error code says, where its HTTP status is not enough."""

    NOT_FOUND = "not_found"
    AUTH = "auth"
    BAD_REQUEST = "bad_request"
    RETRYABLE = "retryable"


class RefundProvider[CredentialsT: ProviderCredentials, NativeT: BaseModel](ABC):
    """A provider's refund-retrieval API, as one method: `get_refund`."""

    name: ClassVar[str]
    display_name: ClassVar[str]
    credentials_model: ClassVar[type[ProviderCredentials]]
    native_model: ClassVar[type[BaseModel]]

    def __init__(
        self,
        credentials: CredentialsT,
        *,
        client: httpx.Client,
        timeout_seconds: float,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        self.credentials = credentials
        self.client = client
        self.timeout_seconds = timeout_seconds
        # The merchant account these credentials are (section 6): every refund carries it.
        self.account = account

    def get_refund(self, refund_id: str, *, timeout_seconds: float | None = None) -> Refund:
        """Ask the provider now; the normalized refund, or a `ProviderError` subclass."""
        refund_id = validate_refund_id(refund_id, provider=self.name)
        try:
            request = self.build_request(refund_id)
        except (httpx.InvalidURL, UnicodeError):
            # The id is checked, so the secret's host or path is what httpx refused (an
            # `xn--` label that is no IDNA: idna's UnicodeError). Not chained: the message
            # quotes the URL.
            raise ConfigurationError(
                f"{self.display_name}'s URL from the secret is not valid", provider=self.name
            ) from None
        response = send(
            self.client,
            request,
            timeout_seconds=timeout_seconds or self.timeout_seconds,
            provider=self.name,
        )
        if not 200 <= response.status_code < 300:
            raise self.classify_error(response)
        payload = self._decode_json(response)
        try:
            native = self.parse_refund(payload)
            refund = self.map_refund(native, refund_id=refund_id, fetched_at=utc_now())
        except (ValidationError, ValueError, TypeError) as exc:
            # Not `from exc`: pydantic's text quotes the provider's values.
            raise ProviderBadResponse(
                f"{self.display_name} answered in an undocumented shape", provider=self.name
            ) from _describe(exc)
        # Set here, not by each mapping: a mapping cannot forget it or name another account.
        return refund if self.account == refund.account else refund.with_account(self.account)

    # --- transport and auth -------------------------------------------------------------

    @abstractmethod
    def build_request(self, refund_id: str) -> httpx.Request:
        """The GET for one refund, with auth headers. Pure: no I/O beyond signing."""

    # --- native schema and mapping ------------------------------------------------------

    def parse_refund(self, payload: Any) -> NativeT:
        """The provider's JSON as its native model (pydantic; unknown fields ignored)."""
        return cast(NativeT, self.native_model.model_validate(payload))

    @abstractmethod
    def map_refund(self, native: NativeT, *, refund_id: str, fetched_at: datetime) -> Refund:
        """The native model as the canonical refund. Pure."""

    # --- errors -------------------------------------------------------------------------

    def classify_error(self, response: ProviderResponse) -> ProviderError:
        """A non-2xx answer as one error of the family, by status then provider error code."""
        status = response.status_code
        if status == 429:
            return ProviderRateLimited(
                f"{self.display_name} is rate limiting requests",
                provider=self.name,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 500:
            return ProviderUnavailable(
                f"{self.display_name} failed with HTTP {status}", provider=self.name
            )
        kind = self.error_kind(status, self._decode_error_body(response))
        if kind is None:
            kind = _KIND_BY_STATUS.get(status, ErrorKind.BAD_REQUEST)
        return self.error_of_kind(kind, status)

    def error_kind(self, status: int, body: Any) -> ErrorKind | None:
        """Provider-specific: what the error body's own code says (a 400 that means bad
        credentials, a 422 that means not found), or None to go by the HTTP status."""
        return None

    def error_of_kind(self, kind: ErrorKind, status: int) -> ProviderError:
        """The error for `kind`; also used for errors a provider wraps in a 200 envelope."""
        if kind is ErrorKind.NOT_FOUND:
            return RefundNotFound(f"{self.display_name} has no such refund", provider=self.name)
        if kind is ErrorKind.AUTH:
            return ProviderAuthFailed(
                f"{self.display_name} rejected the configured credentials (HTTP {status})",
                provider=self.name,
            )
        if kind is ErrorKind.RETRYABLE:
            return ProviderUnavailable(
                f"{self.display_name} asked to try again later (HTTP {status})", provider=self.name
            )
        return self.bad_response(f"refused the request with HTTP {status}")

    def bad_response(self, what: str) -> ProviderBadResponse:
        return ProviderBadResponse(f"{self.display_name} {what}", provider=self.name)

    # --- helpers ------------------------------------------------------------------------

    def _decode_json(self, response: ProviderResponse) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            # RecursionError: "[[[[…" nested deeper than the parser's stack, still within 256 KiB.
            raise self.bad_response("answered with something that is not JSON") from None

    @staticmethod
    def _decode_error_body(response: ProviderResponse) -> Any:
        try:
            return json.loads(response.content)
        except (ValueError, RecursionError):
            return None


_KIND_BY_STATUS = {401: ErrorKind.AUTH, 403: ErrorKind.AUTH, 404: ErrorKind.NOT_FOUND}


def parse_retry_after(value: str | None) -> int | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    # ASCII digits only (RFC 9110 delta-seconds): str.isdigit() also accepts "²" or "٣",
    # which int() refuses or reads as a number the provider never sent.
    if value.isascii() and value.isdigit():
        return min(int(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # asctime's form carries no zone; every HTTP-date is GMT (RFC 9110 section 5.6.7).
        when = when.replace(tzinfo=UTC)
    seconds = int((when - utc_now()).total_seconds() + 0.999)
    return min(max(seconds, 0), MAX_RETRY_AFTER_SECONDS)


def _describe(exc: Exception) -> Exception | None:
    """A cause for logs that names where the shape broke, without the provider's values."""
    if isinstance(exc, ValidationError):
        where = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
        return ValueError("invalid fields: " + ", ".join(where[:10]))
    return ValueError(type(exc).__name__ + ": " + str(exc)[:200])
