"""Helpers shared by the tests: fake credentials, clients on a mock transport, payload files."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from refund_core.providers.base import RefundProvider
from refund_core.providers.registry import provider_class
from refund_core.transport import build_http_client

PAYLOADS = Path(__file__).parent / "payloads"
EVENTS = Path(__file__).parent.parent / "events"
TEMPLATE = Path(__file__).parent.parent / "template.yaml"

# Distinctive values: a test that finds one of these in a log or response has found a leak.
CONVERGEGATE_SECRET_KEY = "sk_test_LEAKCHECK_cg_5b1f0e"
SURECART_API_TOKEN = "st_LEAKCHECK_surecart_91c2"
SHOPLAZZA_ACCESS_TOKEN = "sl_LEAKCHECK_shoplazza_77aa"
SECRET_VALUES = (CONVERGEGATE_SECRET_KEY, SURECART_API_TOKEN, SHOPLAZZA_ACCESS_TOKEN)


@cache
def gr4vy_private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP521R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def pem_body_marker() -> str:
    """A run of the Gr4vy private key's base64 body, to look for in logs and responses."""
    return gr4vy_private_key_pem().splitlines()[2]


def secret_for(provider: str, base_url: str | None = None) -> dict[str, Any]:
    """A valid secret of contract section 3 for `provider`, optionally pointed at `base_url`."""
    secrets: dict[str, dict[str, Any]] = {
        "convergegate": {
            "secret_key": CONVERGEGATE_SECRET_KEY,
            "base_url": "https://checkout.example-merchant.test",
        },
        "surecart": {"api_token": SURECART_API_TOKEN},
        "gr4vy": {
            "instance_id": "acme",
            "private_key": gr4vy_private_key_pem(),
            "environment": "sandbox",
        },
        "shoplazza": {
            "store_domain": "acme.myshoplaza.com",
            "access_token": SHOPLAZZA_ACCESS_TOKEN,
        },
    }
    secret = dict(secrets[provider])
    if base_url is not None:
        secret["base_url"] = base_url
    return secret


def provider_on(
    provider: str,
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    secret: dict[str, Any] | None = None,
    timeout_seconds: float = 5.0,
) -> RefundProvider[Any, Any]:
    """The real client for `provider`, its HTTP answered by `handler` (httpx.MockTransport)."""
    cls = provider_class(provider)
    credentials = cls.credentials_model.from_secret(secret or secret_for(provider))
    client = build_http_client(httpx.MockTransport(handler))
    return cls(credentials, client=client, timeout_seconds=timeout_seconds)


def payload(provider: str, name: str) -> Any:
    return json.loads((PAYLOADS / provider / f"{name}.json").read_text())


def payload_names(provider: str, prefix: str = "") -> list[str]:
    return sorted(p.stem for p in (PAYLOADS / provider).glob(f"{prefix}*.json"))


def load_event(provider: str, name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / provider / f"{name}.json").read_text())
    return event


class FakeLambdaContext:
    """The parts of a Lambda context Powertools reads."""

    function_name = "refund-status-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:refund-status-test"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/refund-status-test"
    log_stream_name = "2026/11/23/[$LATEST]0000"

    def __init__(self, remaining_ms: int = 20_000) -> None:
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


class RecordingHandler:
    """An `httpx.MockTransport` handler that answers with `respond` and keeps every request."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.respond = respond
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)


def answer_json(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering every request with `body` as JSON."""

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    return respond


def payload_refund_id(provider: str, body: Any) -> str:
    """The refund id a recorded success payload describes (Shoplazza wraps it in an envelope)."""
    if provider == "shoplazza":
        return str(body["data"]["refund_order"]["id"])
    return str(body["id"])


def create_records_table(client: Any, name: str = "refund-records") -> str:
    """Create the records table in `client` (moto or DynamoDB Local) as template.yaml declares
    it (read by the local stack's own template loader, never a hand-kept copy)."""
    from devstack.aws.template import load_template
    from tests.dynamodb_local import create_table

    template = load_template(Path(__file__).parent.parent / "template.yaml")
    return create_table(client, template.tables["RefundRecordsTable"], name=name)


@contextlib.contextmanager
def powertools_logs_to_current_stdout(service: str) -> Iterator[None]:
    """Point the Powertools handlers at whatever `sys.stdout` is when they write, at DEBUG.

    Powertools binds its handler to the `sys.stdout` of the moment the logger was first built,
    which under pytest is some earlier phase's or test's capture: without this, log lines would
    be checked nowhere (or fail writing to a closed stream).
    """
    logger = logging.getLogger(service)
    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    assert handlers, "Powertools' handler not found: the leak check would miss the logs"
    streams = [h.stream for h in handlers]
    level = logger.level
    for handler in handlers:
        handler.stream = _CurrentStdout()  # not setStream(): it flushes the old, maybe closed, one
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.setLevel(level)
        for handler, stream in zip(handlers, streams, strict=True):
            # The stream it had may be a finished test's capture by now.
            handler.stream = sys.__stdout__ if getattr(stream, "closed", False) else stream


class _CurrentStdout:
    """A stream that writes to the `sys.stdout` of the moment: `capsys`'s during a test."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


def transformed_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml through SAM's own transform (devstack.sam)."""
    from devstack.sam import transformed_template as transform

    return transform(path)


def role_statements(function: str, path: Path = TEMPLATE) -> list[dict[str, Any]]:
    """The inline policy statements of `function`'s execution role, every intrinsic resolved as
    the stack `refund-status` in us-east-1 of account 123456789012 with default parameters."""
    from devstack import sam

    template = sam.transformed_template(path)
    return sam.role_statements(template, f"{function}Role", sam.resolver(template))


def observed_refund(
    provider: str, refund_id: str, status: Any, at: Any, *, account: str = "default"
) -> Any:
    """A normalized refund as a check at `at` saw it (`status` a RefundStatus): what the
    record tests store."""
    from refund_core.model import Refund

    return Refund(
        provider=provider,
        account=account,
        refund_id=refund_id,
        status=status,
        terminal=status.terminal,
        provider_status=status.value,
        amount=100,
        currency="USD",
        fetched_at=at,
    )


@contextlib.contextmanager
def powertools_secrets_from(client: Any) -> Iterator[None]:
    """Inside the block Powertools' `get_secret` (what the functions read secrets with) goes
    through `client` (moto's); its own default provider is put back after."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    saved = DEFAULT_PROVIDERS.get("secrets")
    DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=client)
    try:
        yield
    finally:
        if saved is None:
            DEFAULT_PROVIDERS.pop("secrets", None)
        else:
            DEFAULT_PROVIDERS["secrets"] = saved
