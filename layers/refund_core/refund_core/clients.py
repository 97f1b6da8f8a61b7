"""The provider client of this execution environment, rebuilt only when its secret changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from refund_core.errors import ProviderAuthFailed
from refund_core.model import Refund
from refund_core.providers.base import RefundProvider
from refund_core.providers.registry import provider_class
from refund_core.secrets import parse_secret_json, read_secret_text
from refund_core.settings import ProviderFunctionSettings, provider_function_settings
from refund_core.transport import shared_http_client

SecretReader = Callable[..., str]

# Time kept back from the function's own deadline for answering and flushing metrics.
DEADLINE_MARGIN_SECONDS = 1.0
MIN_PROVIDER_TIMEOUT_SECONDS = 0.5


class ProviderClients:
    """Hands out the provider client for one provider, built from its Secrets Manager secret.

    Building a client parses and validates the secret (and, for Gr4vy, loads an EC key), so it
    happens once per secret value, not per request. When the provider rejects our credentials,
    the secret is read again past the cache: if it was rotated, the call is retried once with
    the new value instead of failing until the cache expires.
    """

    def __init__(
        self,
        provider: str,
        *,
        settings: Callable[[], ProviderFunctionSettings] = provider_function_settings,
        http_client: Callable[[], httpx.Client] = shared_http_client,
        read_secret: SecretReader = read_secret_text,
    ) -> None:
        self.provider = provider
        self._settings = settings
        self._http_client = http_client
        self._read_secret = read_secret
        self._secret_text: str | None = None
        self._client: RefundProvider[Any, Any] | None = None

    def get(self, *, force_secret_refresh: bool = False) -> RefundProvider[Any, Any]:
        settings = self._settings()
        text = self._read_secret(
            settings.secret_id,
            max_age_seconds=settings.secret_max_age_seconds,
            force_fetch=force_secret_refresh,
        )
        if self._client is None or text != self._secret_text:
            self._client = self._build(text, settings)
            self._secret_text = text
        return self._client

    def fetch_refund(self, refund_id: str, *, time_left_seconds: float | None = None) -> Refund:
        """The refund, now, from the provider; retried once after a credentials rotation.

        The provider call gets `PROVIDER_TIMEOUT_SECONDS`, or less when the function itself
        has less time left (`time_left_seconds`), so a slow provider is our clean 504, never
        Lambda's own timeout.
        """
        client = self.get()
        timeout_seconds = client.timeout_seconds
        if time_left_seconds is not None:
            # The floor applies to what the function's deadline leaves, never to the
            # configured timeout: PROVIDER_TIMEOUT_SECONDS=0.2 means 0.2 s.
            timeout_seconds = min(
                timeout_seconds,
                max(time_left_seconds - DEADLINE_MARGIN_SECONDS, MIN_PROVIDER_TIMEOUT_SECONDS),
            )
        try:
            return client.get_refund(refund_id, timeout_seconds=timeout_seconds)
        except ProviderAuthFailed:
            refreshed = self.get(force_secret_refresh=True)
            if refreshed is client:
                raise
            return refreshed.get_refund(refund_id, timeout_seconds=timeout_seconds)

    def _build(self, text: str, settings: ProviderFunctionSettings) -> RefundProvider[Any, Any]:
        cls = provider_class(self.provider)
        credentials = cls.credentials_model.from_secret(
            parse_secret_json(text), allow_insecure_url=settings.allow_insecure_provider_url
        )
        return cls(
            credentials, client=self._http_client(), timeout_seconds=settings.timeout_seconds
        )
