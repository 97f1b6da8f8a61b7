"""The provider clients of this execution environment: one per merchant account, each rebuilt
only when its secret changes, at most `ACCOUNT_CACHE_SIZE` of them kept."""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx

from refund_core.accounts import DEFAULT_ACCOUNT, account_not_found, account_secret_id
from refund_core.errors import (
    ConfigurationError,
    ProviderAuthFailed,
    RefundServiceError,
    SecretNotFound,
)
from refund_core.model import Refund
from refund_core.providers.base import RefundProvider
from refund_core.providers.registry import provider_class
from refund_core.rate_limit import AccountRateLimit
from refund_core.secrets import parse_secret_json, read_secret_text
from refund_core.settings import ProviderFunctionSettings, provider_function_settings
from refund_core.transport import shared_http_client

SecretReader = Callable[..., str]
Clock = Callable[[], float]

# Time kept back from the function's own deadline for answering and flushing metrics.
DEADLINE_MARGIN_SECONDS = 1.0
MIN_PROVIDER_TIMEOUT_SECONDS = 0.5


@cache
def _dynamodb_client() -> Any:
    """One DynamoDB client per execution environment, built on the first limited call."""
    from refund_core.aws_clients import aws_client

    return aws_client("dynamodb")


def clear_caches() -> None:
    """Forget every cached account of every `ProviderClients` in this process (as Powertools'
    `parameters.clear_caches()` does for its own): a test's fresh execution environment."""
    for clients in list(_EVERY_CACHE):
        clients.clear()
        clients._rate_limit = None
    _dynamodb_client.cache_clear()


@dataclass
class _Cached:
    secret_text: str
    read_at: float
    client: RefundProvider[Any, Any]


_EVERY_CACHE: weakref.WeakSet[ProviderClients] = weakref.WeakSet()


class ProviderClients:
    """Hands out the provider client of each account, built from that account's secret.

    Building a client parses and validates the secret (and, for Gr4vy, loads an EC key), so it
    happens once per secret value, not per request. Each secret is read at most once per
    `SECRET_CACHE_SECONDS` (this cache, not Powertools': its store has no size cap, and a
    platform's thousands of accounts must not grow a warm function without bound). Every
    client shares the one HTTP client, so connections are pooled per host, not per account.
    When the provider rejects our credentials, the secret is read again past the cache: if it
    was rotated, the call is retried once with the new value instead of failing until the
    cache expires.
    """

    def __init__(
        self,
        provider: str,
        *,
        settings: Callable[[], ProviderFunctionSettings] = provider_function_settings,
        http_client: Callable[[], httpx.Client] = shared_http_client,
        read_secret: SecretReader = read_secret_text,
        clock: Clock = time.monotonic,
    ) -> None:
        self.provider = provider
        self._settings = settings
        self._http_client = http_client
        self._read_secret = read_secret
        self._clock = clock
        self._cached: OrderedDict[str, _Cached] = OrderedDict()
        # A poller batch or a threaded test may ask from several threads at once.
        self._lock = threading.Lock()
        self._rate_limit: AccountRateLimit | None = None
        _EVERY_CACHE.add(self)

    def clear(self) -> None:
        """Forget every account: the next call of each reads its secret again."""
        with self._lock:
            self._cached.clear()

    def __len__(self) -> int:
        """Accounts held now (at most ACCOUNT_CACHE_SIZE)."""
        return len(self._cached)

    def get(
        self, account: str = DEFAULT_ACCOUNT, *, force_secret_refresh: bool = False
    ) -> RefundProvider[Any, Any]:
        settings = self._settings()
        now = self._clock()
        with self._lock:
            cached = self._cached.get(account)
            if (
                cached is not None
                and not force_secret_refresh
                and now - cached.read_at < settings.secret_max_age_seconds
            ):
                self._cached.move_to_end(account)
                return cached.client
        text = self._read_account_secret(account, settings)
        with self._lock:
            cached = self._cached.get(account)
            if cached is not None and cached.secret_text == text:
                cached.read_at = now
            else:
                cached = _Cached(text, now, self._build(text, account, settings))
                self._cached[account] = cached
            self._cached.move_to_end(account)
            while len(self._cached) > settings.account_cache_size:
                self._cached.popitem(last=False)
            return cached.client

    def fetch_refund(
        self,
        refund_id: str,
        *,
        account: str = DEFAULT_ACCOUNT,
        time_left_seconds: float | None = None,
        rate_wait_seconds: float | None = None,
        rate_ahead_seconds: float = 0.0,
    ) -> Refund:
        """The refund, now, from the provider; retried once after a credentials rotation.

        Each provider call waits at most `rate_wait_seconds` (default: the rate limit's own)
        for the account's turn: a batch paces itself by waiting longer than an API caller,
        and reserves `rate_ahead_seconds` of turns at a time (AccountRateLimit).

        The provider call gets `PROVIDER_TIMEOUT_SECONDS`, or less when the function itself
        has less time left (`time_left_seconds`), so a slow provider is our clean 504, never
        Lambda's own timeout. Every error raised names the account.
        """
        try:
            client = self.get(account)
            limit = self.rate_limit()
            timeout_seconds = client.timeout_seconds
            if time_left_seconds is not None:
                # The floor applies to what the function's deadline leaves, never to the
                # configured timeout: PROVIDER_TIMEOUT_SECONDS=0.2 means 0.2 s.
                timeout_seconds = min(
                    timeout_seconds,
                    max(time_left_seconds - DEADLINE_MARGIN_SECONDS, MIN_PROVIDER_TIMEOUT_SECONDS),
                )
            # Every provider call takes its own turn of the account's budget, the retry after
            # a rotation included.
            try:
                if limit is not None:
                    limit.acquire(
                        account,
                        time_left_seconds=time_left_seconds,
                        max_wait_seconds=rate_wait_seconds,
                        ahead_seconds=rate_ahead_seconds,
                    )
                return client.get_refund(refund_id, timeout_seconds=timeout_seconds)
            except ProviderAuthFailed:
                refreshed = self.get(account, force_secret_refresh=True)
                if refreshed is client:
                    raise
                if limit is not None:
                    limit.acquire(
                        account,
                        time_left_seconds=time_left_seconds,
                        max_wait_seconds=rate_wait_seconds,
                        ahead_seconds=rate_ahead_seconds,
                    )
                return refreshed.get_refund(refund_id, timeout_seconds=timeout_seconds)
        except RefundServiceError as error:
            error.account = error.account or account
            raise

    def rate_limit(self) -> AccountRateLimit | None:
        """The accounts' shared rate limit (ACCOUNT_RATE_PER_SECOND), None without one."""
        settings = self._settings()
        if settings.account_rate_per_second <= 0:
            return None
        if self._rate_limit is None:
            if not settings.records_table:
                raise ConfigurationError(
                    "environment variable missing or invalid: RECORDS_TABLE_NAME"
                )
            self._rate_limit = AccountRateLimit(
                _dynamodb_client,
                settings.records_table,
                self.provider,
                settings.account_rate_per_second,
            )
        return self._rate_limit

    def _read_account_secret(self, account: str, settings: ProviderFunctionSettings) -> str:
        secret_id = account_secret_id(
            account, default_secret_id=settings.secret_id, prefix=settings.account_secret_prefix
        )
        if secret_id is None:
            raise ConfigurationError(
                "environment variable missing or invalid: ACCOUNT_SECRET_PREFIX",
                provider=self.provider,
            )
        try:
            # max_age 0: Powertools fetches and keeps nothing; the cache is ours (bounded).
            return self._read_secret(secret_id, max_age_seconds=0, force_fetch=True)
        except SecretNotFound:
            if account == DEFAULT_ACCOUNT:
                raise  # the deployment's own secret: a 500 configuration_error
            # Not the secret's name, nor any other account's: only that this one has none.
            raise account_not_found(account, provider=self.provider) from None

    def _build(
        self, text: str, account: str, settings: ProviderFunctionSettings
    ) -> RefundProvider[Any, Any]:
        cls = provider_class(self.provider)
        credentials = cls.credentials_model.from_secret(
            parse_secret_json(text), allow_insecure_url=settings.allow_insecure_provider_url
        )
        return cls(
            credentials,
            client=self._http_client(),
            timeout_seconds=settings.timeout_seconds,
            account=account,
        )
