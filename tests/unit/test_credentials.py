"""Provider secrets: validated with clear errors that never repeat a secret value."""

from __future__ import annotations

from typing import Any

import pytest

from refund_core.credentials import validate_base_url
from refund_core.errors import ConfigurationError
from refund_core.providers.registry import PROVIDER_NAMES, provider_class
from refund_core.secrets import parse_secret_json
from tests.helpers import SECRET_VALUES, secret_for


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_the_documented_secret_is_accepted_and_its_values_never_print(provider: str) -> None:
    credentials = provider_class(provider).credentials_model.from_secret(secret_for(provider))
    shown = repr(credentials) + str(credentials) + str(credentials.model_dump())
    for value in SECRET_VALUES:
        assert value not in shown
    assert "PRIVATE KEY" not in shown


@pytest.mark.parametrize(
    ("provider", "drop", "key"),
    [
        ("convergegate", "secret_key", "secret_key"),
        ("convergegate", "base_url", "base_url"),
        ("surecart", "api_token", "api_token"),
        ("gr4vy", "instance_id", "instance_id"),
        ("gr4vy", "private_key", "private_key"),
        ("shoplazza", "store_domain", "store_domain"),
        ("shoplazza", "access_token", "access_token"),
    ],
)
def test_a_missing_key_is_named(provider: str, drop: str, key: str) -> None:
    secret = secret_for(provider)
    del secret[drop]
    with pytest.raises(ConfigurationError, match=key):
        provider_class(provider).credentials_model.from_secret(secret)


@pytest.mark.parametrize(
    ("provider", "bad"),
    [
        ("surecart", {"api_token": 12345}),
        ("shoplazza", {"store_domain": "https://acme.myshoplaza.com"}),
        ("shoplazza", {"store_domain": "acme.myshoplaza.com/evil"}),
        ("shoplazza", {"api_version": "latest"}),
        ("gr4vy", {"environment": "staging"}),
        ("convergegate", {"base_url": "http://checkout.example-merchant.test"}),
    ],
)
def test_invalid_values_are_refused_without_quoting_any_secret(
    provider: str, bad: dict[str, Any]
) -> None:
    secret = secret_for(provider) | bad
    with pytest.raises(ConfigurationError) as caught:
        provider_class(provider).credentials_model.from_secret(secret)
    text = str(caught.value)
    assert next(iter(bad)) in text
    for value in [*SECRET_VALUES, str(next(iter(bad.values())))]:
        assert value not in text
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.test",
        "https://api.example.test:8443/prefix",
        "http://127.0.0.1:8101",
        "http://127.9.9.9",
        "http://localhost:3000",
        "http://localhost.:3000",
        "http://LOCALHOST:3000",
        "http://[::1]:8101",
        "https://xn--bcher-kva.example",
        "https://api.example.test.",
        "https://" + "a" * 63 + ".example",
    ],
)
def test_https_anywhere_and_http_on_loopback_are_allowed(url: str) -> None:
    assert validate_base_url(url + "/", allow_insecure=False) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.test",
        "http://10.0.0.1",
        "http://host.docker.internal:8101",
        "ftp://api.example.test",
        "https://user:pass@api.example.test",
        "https://api.example.test/?token=x",
        "https://",
        "api.example.test",
        "https://api.example.test:abc",
        "https://api.example.test:99999",
        "https://api.example.test:0",
        "http://127.0.0.1:65536",
        # Characters URL parsers drop or misread: the request would go somewhere else.
        "https://api.sure\ncart.com",
        "https://api.sure\tcart.com",
        "https://api.surecart.com\r",
        "https://api.sure\x00cart.com",
        "https://api.sure\x7fcart.com",
        "https://api. surecart.com",
        "https://api.surecart.com?",
        "https://api.surecart.com#",
        "https://api.surecart.com/v1?",
        "https://h.example\\evil",
        # Hosts that are no DNS name: give an internationalized name in its xn-- form.
        "https://☃.example",
        "https://\uff48.example",  # a full-width h
        "https://h%2eexample",
        "https://h..example",
        "https://-h.example",
        "https://" + "a" * 64 + ".example",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        validate_base_url(url, allow_insecure=False)


def test_the_sam_local_switch_allows_plain_http_to_the_docker_host() -> None:
    url = "http://host.docker.internal:8101"
    assert validate_base_url(url, allow_insecure=True) == url


@pytest.mark.parametrize("text", ["", "nope", "[1, 2]", '"sk_live_x"', "null"])
def test_a_secret_that_is_not_a_json_object_is_refused_without_echo(text: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_secret_json(text)
    assert caught.value.__cause__ is None
    if text:
        assert text not in caught.value.message


@pytest.mark.parametrize(
    "override",
    [
        {"store_domain": "a..b"},
        {"store_domain": "a.-b"},
        {"store_domain": "acme.myshoplaza.com."},
        {"store_domain": "x" * 64 + ".myshoplaza.com"},
        {"store_domain": "acme.myshoplaza.com/path"},
        {"api_version": "\u0662\u0660\u0662\u0664-\u0660\u0667"},  # Arabic-Indic digits
        {"api_version": "\uff12\uff10\uff12\uff14-\uff10\uff17"},  # full-width digits
        {"api_version": "2024-13"},
        {"api_version": "0000-00"},
    ],
)
def test_shoplazza_host_and_version_are_checked(override: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match=next(iter(override))):
        provider_class("shoplazza").credentials_model.from_secret(
            secret_for("shoplazza") | override
        )
