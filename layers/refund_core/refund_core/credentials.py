"""Typed provider credentials: secret values are `SecretStr`, so they never print."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from refund_core.errors import ConfigurationError

ALLOW_INSECURE_CONTEXT_KEY = "allow_insecure_provider_url"
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def _visible_ascii(value: str) -> str:
    # A control character or a non-ASCII letter cannot go into an HTTP header: caught here,
    # it is the secret's fault (configuration_error); caught by httpx, it was a failed call
    # whose error message quoted the header, credential included.
    if not _VISIBLE_ASCII.fullmatch(value):
        raise ValueError("must be visible ASCII characters, without spaces")
    return value


def _visible_ascii_secret(value: SecretStr) -> SecretStr:
    _visible_ascii(value.get_secret_value())
    return value


# A credential sent in an HTTP header (tokens, keys): never printed, header-safe.
HeaderSecret = Annotated[
    SecretStr, Field(min_length=1, max_length=4096), AfterValidator(_visible_ascii_secret)
]
# A plain value sent in an HTTP header (an account id).
HeaderText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_visible_ascii)]


class ProviderCredentials(BaseModel):
    """Base of each provider's secret. Unknown keys are ignored (a secret may carry notes)."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    base_url: str | None = None

    @field_validator("base_url", mode="before")
    @classmethod
    def _empty_base_url_is_default(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("base_url")
    @classmethod
    def _safe_base_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        allow_insecure = bool((info.context or {}).get(ALLOW_INSECURE_CONTEXT_KEY))
        return validate_base_url(value, allow_insecure=allow_insecure)

    @classmethod
    def from_secret(cls, secret: dict[str, Any], *, allow_insecure_url: bool = False) -> Self:
        """Validate a secret's JSON. Errors name the keys at fault, never their values."""
        try:
            return cls.model_validate(
                secret, context={ALLOW_INSECURE_CONTEXT_KEY: allow_insecure_url}
            )
        except ValidationError as exc:
            # pydantic's own message quotes the input value, which is the secret: not that one.
            problems = sorted({f"{error['loc'][0]} ({error['type']})" for error in exc.errors()})
            raise ConfigurationError(
                "the provider secret is missing or has invalid keys: " + ", ".join(problems)
            ) from None


def validate_base_url(url: str, *, allow_insecure: bool) -> str:
    """`https://host[:port][/path]`, or `http://` on a loopback host; no trailing slash.

    The URL is checked here, whole, so that what reaches httpx is exactly what was meant: a
    tab or newline (which URL parsers drop), `?` or `#` (even empty: the refund path would
    land in the query), a backslash, or a host that is no DNS name or IP literal would
    otherwise send the credentials somewhere else, or fail later as a "timeout".
    """
    if not _VISIBLE_ASCII.fullmatch(url) or any(c in url for c in "?#\\"):
        raise ValueError("base_url must be a plain https URL of visible ASCII characters")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or parts.username or parts.password:
        raise ValueError("base_url must be a plain https URL")
    if not (is_host_name(host) or _ip_literal(host)):
        raise ValueError("base_url's host must be a DNS name or an IP address")
    try:
        port = parts.port  # ValueError when not a number from 0 to 65535
    except ValueError:
        raise ValueError("base_url has an invalid port") from None
    if port == 0:
        raise ValueError("base_url has an invalid port")
    if parts.scheme == "http" and not (allow_insecure or _is_loopback(host)):
        raise ValueError("base_url must use https (http is allowed on loopback only)")
    if parts.scheme not in ("https", "http"):
        raise ValueError("base_url must use https")
    return url.rstrip("/")


_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)


def is_host_name(host: str) -> bool:
    """A DNS host name in ASCII (RFC 1123 labels; a trailing dot allowed). Internationalized
    names are given in their `xn--` form."""
    name = host[:-1] if host.endswith(".") else host
    return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in name.split("."))


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):  # the second is the same name, fully qualified
        return True
    address = _ip_literal(host)
    return address is not None and address.is_loopback
