"""Fixtures: one sandbox per provider per module, a fresh function (cold start) per test.

Each test gets the provider's function as a new execution environment would see it: its module
reloaded (no cached provider client, so env vars such as PROVIDER_TIMEOUT_SECONDS apply), its
secret in a fresh moto Secrets Manager, and its Powertools log lines written, at DEBUG, to the
stdout that `capsys` captures, where the leak check reads them.
"""

from __future__ import annotations

import importlib
from collections.abc import Generator, Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
from moto import mock_aws

from devstack.sandboxes import Sandbox, start_sandbox
from tests.helpers import powertools_logs_to_current_stdout
from tests.integration.harness import PROVIDERS, Deployment

SERVICE_LOGGER = "refund-status-tests"  # POWERTOOLS_SERVICE_NAME of tests/conftest.py
CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="module", params=PROVIDERS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The provider's sandbox, shared by the module's tests for that provider."""
    started = start_sandbox(request.param)
    yield started
    started.stop()


@pytest.fixture
def provider(sandbox: Sandbox) -> str:
    return sandbox.name


@pytest.fixture(scope="module")
def secrets_manager() -> Iterator[Any]:
    """Moto's Secrets Manager, one per module (starting moto and a client costs ~0.1 s)."""
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def function(
    request: pytest.FixtureRequest,
    sandbox: Sandbox,
    secrets_manager: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Deployment]:
    """The provider's function, cold, with the sandbox's own credentials as its secret."""
    sandbox.clear_faults()
    importlib.reload(importlib.import_module(f"functions.{sandbox.name}.app"))
    # No cached secret value (tests/conftest.py cleared them), but Powertools' Secrets Manager
    # client is the module's: building a boto3 client per test would double the suite's time.
    DEFAULT_PROVIDERS["secrets"] = SecretsProvider(boto3_client=secrets_manager)
    deployment = Deployment(sandbox.name, sandbox, secrets_manager, monkeypatch)
    deployment.deploy()
    with powertools_logs_to_current_stdout(SERVICE_LOGGER):
        yield deployment
    sandbox.clear_faults()
    if not request.node.stash.get(CALL_FAILED, True):
        assert deployment.leak_checked, "an integration test skipped assert_nothing_secret_leaked"
