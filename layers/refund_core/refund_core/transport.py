"""HTTP to providers: one shared `httpx.Client`, a whole-call deadline, a bounded body."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

import httpx

from refund_core.errors import ConfigurationError, ProviderBadResponse, ProviderTimeout
from refund_core.http_deadline import call_deadline, deadline_transport

# A refund is a few hundred bytes; anything near this is not a refund answer.
MAX_RESPONSE_BYTES = 256 * 1024
USER_AGENT = "refund-status/1.0 (+https://github.com/refund-status)"
LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=4)


@dataclass(frozen=True, slots=True)
class ProviderResponse:
    status_code: int
    headers: httpx.Headers
    content: bytes


@cache
def shared_http_client() -> httpx.Client:
    """One client per execution environment, so warm calls reuse TLS connections."""
    return build_http_client()


def build_http_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A client as the functions use it; tests pass a transport (mock or loopback)."""
    return httpx.Client(
        transport=transport or deadline_transport(LIMITS),
        # Per-request timeouts are set from the call's deadline; this is only the fallback.
        timeout=httpx.Timeout(10.0),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        trust_env=False,
    )


def send(
    client: httpx.Client, request: httpx.Request, *, timeout_seconds: float, provider: str
) -> ProviderResponse:
    """Send `request` and read at most MAX_RESPONSE_BYTES within `timeout_seconds` in all
    (every connect, write and read of the call ends by one deadline: `http_deadline`).

    Every failure before a full answer (refused, reset, DNS, a timeout, a dropped connection
    mid-body) is `ProviderTimeout`; an oversized body is `ProviderBadResponse`.
    """
    deadline = time.monotonic() + timeout_seconds
    request.extensions["timeout"] = httpx.Timeout(timeout_seconds).as_dict()
    try:
        with call_deadline(deadline):
            response = client.send(request, stream=True)
            try:
                content = _read_bounded(response, deadline=deadline, provider=provider)
            finally:
                response.close()
    except httpx.LocalProtocolError:
        # Our own request could not be written (a header value httpx refuses): the secret's
        # fault. `from None`: httpx's message quotes the header, credential included.
        raise ConfigurationError(
            f"the request to {provider} could not be built from the secret", provider=provider
        ) from None
    except httpx.TimeoutException as exc:
        raise ProviderTimeout(
            f"{provider} did not answer within {timeout_seconds:g} s", provider=provider
        ) from exc
    except httpx.TransportError as exc:
        raise ProviderTimeout(
            f"the connection to {provider} failed before an answer arrived", provider=provider
        ) from exc
    return ProviderResponse(response.status_code, response.headers, content)


def _read_bounded(response: httpx.Response, *, deadline: float, provider: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
        raise ProviderBadResponse(f"{provider} sent an oversized answer", provider=provider)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ProviderBadResponse(f"{provider} sent an oversized answer", provider=provider)
        if time.monotonic() > deadline:
            # A body trickling in byte by byte must not outlive the caller's deadline.
            raise httpx.ReadTimeout("deadline passed while reading the body")
        chunks.append(chunk)
    return b"".join(chunks)
