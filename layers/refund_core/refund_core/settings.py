"""Function settings from environment variables, validated once per execution environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from refund_core.errors import ConfigurationError

DEFAULT_PROVIDER_TIMEOUT_SECONDS = 8.0
# Minutes, not Powertools' 5 s default: a secret changes rarely, and every fetch costs a
# Secrets Manager call (latency and money) on the hot path.
DEFAULT_SECRET_MAX_AGE_SECONDS = 300
# Accounts whose client (secret, parsed credentials) a warm function keeps: past this, the
# least recently used is dropped and read again when next asked for.
DEFAULT_ACCOUNT_CACHE_SIZE = 2048
DEFAULT_STUCK_PENDING_SECONDS = 7 * 86_400


class ProviderFunctionSettings(BaseModel):
    """What a provider function reads from its environment (contract section 3)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    secret_id: str = Field(alias="PROVIDER_SECRET_ID", min_length=1)
    timeout_seconds: float = Field(
        default=DEFAULT_PROVIDER_TIMEOUT_SECONDS, alias="PROVIDER_TIMEOUT_SECONDS", gt=0, le=60
    )
    secret_max_age_seconds: int = Field(
        default=DEFAULT_SECRET_MAX_AGE_SECONDS,
        # Contract section 6's name; the older one still works.
        validation_alias=AliasChoices("SECRET_CACHE_SECONDS", "PROVIDER_SECRET_MAX_AGE_SECONDS"),
        ge=0,
        le=86_400,
    )
    # `{AccountSecretPrefix}/{provider}/`: account `A`'s secret is `{prefix}A` (section 6).
    account_secret_prefix: str | None = Field(default=None, alias="ACCOUNT_SECRET_PREFIX")
    account_cache_size: int = Field(
        default=DEFAULT_ACCOUNT_CACHE_SIZE, alias="ACCOUNT_CACHE_SIZE", ge=1, le=100_000
    )
    # A poll check of a refund still pending after this long counts `StuckPendingChecks`
    # (template parameter StuckPendingSeconds, default 7 days; its alarm is StuckRefunds).
    stuck_pending_seconds: int = Field(
        default=DEFAULT_STUCK_PENDING_SECONDS, alias="STUCK_PENDING_SECONDS", ge=60
    )
    # Requests per second each account may send the provider, across every worker and the API
    # (template parameter <Provider>AccountRatePerSecond; 0: no limit). Its turns are kept
    # in the records table (refund_core.rate_limit).
    account_rate_per_second: float = Field(default=0.0, alias="ACCOUNT_RATE_PER_SECOND", ge=0)
    records_table: str | None = Field(default=None, alias="RECORDS_TABLE_NAME")
    # Only `sam local`'s env.json sets this: its Docker containers reach host sandboxes over http.
    allow_insecure_provider_url: bool = Field(default=False, alias="ALLOW_INSECURE_PROVIDER_URL")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProviderFunctionSettings:
        # An empty variable is an unset one (a blank template parameter gives ""): defaults apply.
        given = {name: value for name, value in environ.items() if value != ""}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            names = sorted({str(error["loc"][0]) for error in exc.errors()})
            raise ConfigurationError(
                "environment variable missing or invalid: " + ", ".join(names)
            ) from None


@cache
def provider_function_settings() -> ProviderFunctionSettings:
    """The settings of this execution environment, read on first use (not at import)."""
    return ProviderFunctionSettings.from_environ(os.environ)


def required_env(name: str) -> str:
    """An environment variable the function cannot work without, or `ConfigurationError`."""
    value = os.environ.get(name, "")
    if not value:
        raise ConfigurationError(f"environment variable missing or invalid: {name}")
    return value
