"""Fixtures for the provider sandbox tests: sandboxes are real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from devstack.sandboxes import PROVIDERS, Sandbox, start_sandbox

PROVIDER_NAMES = list(PROVIDERS)
Start = Callable[..., Sandbox]


@pytest.fixture
def start() -> Iterator[Start]:
    """Start sandboxes by name; every one started is stopped after the test."""
    started: list[Sandbox] = []

    def _start(name: str, **options: Any) -> Sandbox:
        sandbox = start_sandbox(name, 0, **options)
        started.append(sandbox)
        return sandbox

    yield _start
    for sandbox in started:
        sandbox.stop()


@pytest.fixture(params=PROVIDER_NAMES)
def sandbox(request: pytest.FixtureRequest, start: Start) -> Sandbox:
    """One sandbox per provider (the test runs four times)."""
    return start(request.param)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as http:
        yield http


def unwrap(provider: str, body: Any) -> dict[str, Any]:
    """The refund object inside a provider's success body."""
    if provider == "shoplazza":
        assert body["code"] == "Success"
        return dict(body["data"]["refund_order"])
    return dict(body)


@pytest.fixture
def get_refund(client: httpx.Client) -> Callable[[Sandbox, str], dict[str, Any]]:
    """GET a refund with valid credentials, assert 200, return the refund object."""

    def _get(sandbox: Sandbox, refund_id: str) -> dict[str, Any]:
        response = client.get(sandbox.refund_url(refund_id), headers=sandbox.auth_headers())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return unwrap(sandbox.name, response.json())

    return _get
