"""One local stack for the end-to-end tests: what `make up` runs, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from devstack.stack import LocalStack, StackPorts


@pytest.fixture(scope="package")
def stack() -> Iterator[LocalStack]:
    # Package scope: one emulator per process, stopped before other packages start their own.
    with LocalStack(ports=StackPorts(gateway=0, aws=0, sandbox=0), quiet=True) as running:
        yield running


@pytest.fixture
def api(stack: LocalStack) -> httpx.Client:
    """An HTTP client on the local gateway."""
    return httpx.Client(base_url=stack.url, timeout=30)
