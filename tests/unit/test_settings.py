"""A provider function's settings from its environment (contract section 3)."""

from __future__ import annotations

import pytest

from refund_core.errors import ConfigurationError
from refund_core.settings import DEFAULT_PROVIDER_TIMEOUT_SECONDS, ProviderFunctionSettings

SECRET = {"PROVIDER_SECRET_ID": "refund-status/surecart"}


def test_defaults() -> None:
    settings = ProviderFunctionSettings.from_environ(SECRET)
    assert settings.timeout_seconds == DEFAULT_PROVIDER_TIMEOUT_SECONDS
    assert settings.secret_max_age_seconds == 300
    assert settings.allow_insecure_provider_url is False


def test_an_empty_optional_variable_is_an_unset_one() -> None:
    settings = ProviderFunctionSettings.from_environ(
        SECRET | {"PROVIDER_TIMEOUT_SECONDS": "", "PROVIDER_SECRET_MAX_AGE_SECONDS": ""}
    )
    assert settings.timeout_seconds == DEFAULT_PROVIDER_TIMEOUT_SECONDS
    assert settings.secret_max_age_seconds == 300


@pytest.mark.parametrize("value", ["0.15", "2", "60"])
def test_the_timeout_is_taken_as_given(value: str) -> None:
    settings = ProviderFunctionSettings.from_environ(SECRET | {"PROVIDER_TIMEOUT_SECONDS": value})
    assert settings.timeout_seconds == float(value)


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"PROVIDER_SECRET_ID": ""},
        SECRET | {"PROVIDER_TIMEOUT_SECONDS": "abc"},
        SECRET | {"PROVIDER_TIMEOUT_SECONDS": "0"},
        SECRET | {"PROVIDER_TIMEOUT_SECONDS": "-1"},
        SECRET | {"PROVIDER_TIMEOUT_SECONDS": "61"},
        SECRET | {"PROVIDER_TIMEOUT_SECONDS": "nan"},
        SECRET | {"PROVIDER_TIMEOUT_SECONDS": "10s"},
    ],
)
def test_a_bad_or_missing_setting_is_a_configuration_error_naming_it(
    environ: dict[str, str],
) -> None:
    with pytest.raises(ConfigurationError, match="PROVIDER_"):
        ProviderFunctionSettings.from_environ(environ)
