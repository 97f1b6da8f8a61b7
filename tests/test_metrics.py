"""What a provider function publishes to CloudWatch (EMF on stdout), per kind of invocation.

Every invocation publishes at least one metric: an empty flush makes Powertools print a
UserWarning into the function's logs and carry the invocation's dimensions over to the next
one. Each error answer is counted exactly once, as `Error_<code>`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refund_core.errors import RefundNotFound
from refund_core.handler import build_lambda_handler
from refund_core.model import Refund, RefundStatus
from refund_core.poller.check import shared_records
from tests.helpers import FakeLambdaContext, create_records_table, load_event

PROVIDER = "surecart"
REFUND_ID = "86d3873a-3d4f-47fb-a541-0d8ac61684fe"


class ScriptedClients:
    """Stands in for ProviderClients: one answer (a status or an error) for every call."""

    def __init__(self, answer: RefundStatus | Exception) -> None:
        self.answer = answer
        self.calls = 0

    def fetch_refund(
        self,
        refund_id: str,
        *,
        account: str = "default",
        time_left_seconds: float | None = None,
        rate_wait_seconds: float | None = None,
        rate_ahead_seconds: float = 0.0,
    ) -> Refund:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return Refund(
            provider=PROVIDER,
            refund_id=refund_id,
            status=self.answer,
            provider_status=self.answer.value,
            fetched_at=datetime.now(UTC),
        )


def published(stdout: str) -> list[dict[str, Any]]:
    """The EMF documents among the lines a function printed."""
    blobs = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            blobs.append(json.loads(line))
    return blobs


def metric_values(blob: dict[str, Any]) -> dict[str, list[float]]:
    """Each metric's values: EMF sends a list, and CloudWatch sums a count's entries."""
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    values = {metric["Name"]: blob[metric["Name"]] for metric in directive["Metrics"]}
    return {name: value if isinstance(value, list) else [value] for name, value in values.items()}


def invoke(
    clients: ScriptedClients, event: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> tuple[Any, dict[str, Any], list[warnings.WarningMessage]]:
    """One invocation of a fresh handler: its result (or error), its one EMF blob, warnings."""
    handler = build_lambda_handler(PROVIDER, clients=clients)  # type: ignore[arg-type]
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result: Any = handler(event, FakeLambdaContext())
        except Exception as error:
            result = error
    blobs = published(capsys.readouterr().out)
    assert len(blobs) == 1, blobs
    return result, blobs[0], list(caught)


def test_an_answered_refund_publishes_latency_and_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result, blob, caught = invoke(
        ScriptedClients(RefundStatus.PENDING), load_event(PROVIDER, "get_refund"), capsys
    )
    assert result["statusCode"] == 200
    values = metric_values(blob)
    assert set(values) == {"ProviderLatency", "Status_pending"}
    assert values["Status_pending"] == [1]
    assert blob["provider"] == PROVIDER
    assert caught == []


@pytest.mark.parametrize(
    ("event_name", "code"),
    [("invalid_refund_id", "invalid_refund_id"), ("method_not_allowed", "method_not_allowed")],
)
def test_an_error_answered_before_any_provider_call_is_counted(
    capsys: pytest.CaptureFixture[str], event_name: str, code: str
) -> None:
    clients = ScriptedClients(RefundStatus.PENDING)
    result, blob, caught = invoke(clients, load_event(PROVIDER, event_name), capsys)
    assert clients.calls == 0
    assert json.loads(result["body"])["error"]["code"] == code
    assert metric_values(blob) == {f"Error_{code}": [1]}
    assert caught == []


def test_a_provider_error_is_counted_once_not_twice(capsys: pytest.CaptureFixture[str]) -> None:
    result, blob, caught = invoke(
        ScriptedClients(RefundNotFound("gone", provider=PROVIDER)),
        load_event(PROVIDER, "get_refund"),
        capsys,
    )
    assert result["statusCode"] == 404
    values = metric_values(blob)
    # [1, 1] here would be summed by CloudWatch: one 404 counted as two.
    assert values["Error_refund_not_found"] == [1]
    assert "ProviderLatency" in values
    assert caught == []


def test_an_event_that_is_neither_api_nor_poll_is_counted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error, blob, caught = invoke(ScriptedClients(RefundStatus.PENDING), {"hello": 1}, capsys)
    assert type(error).__name__ == "InvalidRequest"
    assert metric_values(blob) == {"Error_invalid_request": [1]}
    assert caught == []


@pytest.fixture
def records_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        monkeypatch.setenv("RECORDS_TABLE_NAME", create_records_table(client))
        # A poll check reads the function's settings (its stuck-pending threshold), as the
        # deployed function has them; the scripted clients never read the secret itself.
        monkeypatch.setenv("PROVIDER_SECRET_ID", f"refund-status/{PROVIDER}")
        shared_records.cache_clear()
        yield
        shared_records.cache_clear()


@pytest.mark.usefixtures("records_table")
@pytest.mark.parametrize("status", [RefundStatus.PENDING, RefundStatus.SUCCEEDED])
def test_every_fleet_batch_publishes_its_checks_and_no_warning(
    capsys: pytest.CaptureFixture[str], status: RefundStatus
) -> None:
    import os

    from refund_core.fleet.registry import FleetRegistry

    registry = FleetRegistry(
        boto3.client("dynamodb", region_name="us-east-1"), os.environ["RECORDS_TABLE_NAME"]
    )
    registry.register(PROVIDER, REFUND_ID, account="default", overrides={}, now=datetime.now(UTC))
    handler = build_lambda_handler(PROVIDER, clients=ScriptedClients(status))  # type: ignore[arg-type]
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = handler({"fleet_batch": {"account": "default"}}, FakeLambdaContext())
    assert answer["checked"] == 1
    behind, batch = published(capsys.readouterr().out)
    outcome = "pending" if status is RefundStatus.PENDING else "settled"
    assert metric_values(batch) == {"PollChecks": [1], f"Fleet_{outcome}": [1]}
    assert batch["provider"] == PROVIDER
    # How far behind, per account: its own blob, with the account as a dimension.
    assert metric_values(behind) == {"FleetBehindSeconds": [0.0]}
    assert (behind["provider"], behind["account"]) == (PROVIDER, "default")
    assert caught == []


def test_the_watch_function_counts_a_refused_event_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from refund_core.watch import build_watch_handler

    def unused() -> Any:
        raise AssertionError("a refused event needs no table and no fleet")

    handler = build_watch_handler(records=unused, fleet=unused)
    capsys.readouterr()
    with pytest.raises(Exception, match="REST proxy event") as refused:
        handler({"hello": 1}, FakeLambdaContext())
    assert type(refused.value).__name__ == "InvalidRequest"
    (blob,) = published(capsys.readouterr().out)
    assert metric_values(blob) == {"WatchRequests": [1], "Error_invalid_request": [1]}
