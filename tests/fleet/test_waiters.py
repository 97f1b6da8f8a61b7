"""Executions that wait on a refund (the refund poller, `startExecution.sync:2`): their tokens
on the record, taken once by the write that ends the poll, and each answered once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from refund_core.errors import InvalidRequest
from refund_core.fleet.batch import CheckResult, Outcome, run_batch
from refund_core.fleet.registry import DueRefund, FleetRegistry
from refund_core.fleet.waiters import MOST_WAITERS, Waiter, notify_waiters, parse_wait
from refund_core.poller.records import PollingState, RefundRecords

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:refund-status-refund-poller:"


def waiter(n: int) -> Waiter:
    return Waiter(f"token-{n}", f"{ARN}run-{n}")


def _wait(registry: FleetRegistry, refund_id: str, n: int) -> bool:
    """What the watch function does for a waiting execution: join, else register."""
    if registry.join("surecart", refund_id, account="default", waiter=waiter(n)):
        return False
    registration = registry.register(
        "surecart", refund_id, account="default", overrides={}, now=NOW, waiter=waiter(n)
    )
    assert registration.registered
    return True


def _due(registry: FleetRegistry) -> DueRefund:
    (due,), _ = registry.due("surecart", "default", now=NOW + timedelta(days=1), limit=10)
    return due


def test_waiters_join_one_poll_and_are_taken_once_when_it_ends(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    assert _wait(registry, "re_1", 1) is True  # registers the poll
    assert _wait(registry, "re_1", 2) is False  # joins it
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["execution_arn"] == f"{ARN}run-2"  # set while an execution waits
    assert [w["token"] for w in record["waiters"]] == ["token-1", "token-2"]

    due = _due(registry)
    assert registry.retire(due) == ["token-1", "token-2"]
    assert registry.retire(due) == []  # a second retire takes nothing: answered once
    record = records.get("surecart", "re_1")
    assert record is not None
    assert "waiters" not in record
    assert "execution_arn" not in record


def test_a_waiter_cannot_join_a_poll_that_ended_it_registers_a_new_one(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    _wait(registry, "re_1", 1)
    ended = _due(registry)
    records.mark_polling_state(
        "surecart", "re_1", PollingState.NOT_FOUND, at=NOW, poll_id=ended.poll_id, code="x"
    )
    assert registry.join("surecart", "re_1", account="default", waiter=waiter(2)) is False
    registry.retire(ended)
    assert _wait(registry, "re_1", 2) is True
    fresh = _due(registry)
    assert fresh.poll_id != ended.poll_id
    assert registry.retire(fresh) == ["token-2"]


def test_a_stale_retire_leaves_a_newer_polls_waiters(registry: FleetRegistry) -> None:
    _wait(registry, "re_1", 1)
    stale = _due(registry)
    assert registry.retire(stale) == ["token-1"]
    _wait(registry, "re_1", 2)
    assert registry.retire(stale) == []  # the old poll's batch, late
    assert registry.retire(_due(registry)) == ["token-2"]


def test_a_poll_takes_at_most_its_share_of_waiters(registry: FleetRegistry) -> None:
    _wait(registry, "re_1", 0)
    for n in range(1, MOST_WAITERS):
        assert _wait(registry, "re_1", n) is False
    with pytest.raises(InvalidRequest, match="wait on this refund already"):
        _wait(registry, "re_1", MOST_WAITERS)


class RecordingStepFunctions:
    """SendTaskSuccess/Failure as Step Functions answers them: a token it no longer waits
    on is refused by name; `broken` tokens fail as a throttled call would."""

    class exceptions:
        ClientError = ClientError

    def __init__(self, gone: set[str] = frozenset(), broken: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.gone, self.broken = gone, broken
        self.sent: list[tuple[str, str, dict[str, Any]]] = []

    def _answer(self, token: str, operation: str, **kwargs: Any) -> None:
        if token in self.gone:
            raise ClientError({"Error": {"Code": "TaskTimedOut"}}, operation)
        if token in self.broken:
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, operation)
        self.sent.append((operation, token, kwargs))

    def send_task_success(self, *, taskToken: str, output: str) -> None:
        self._answer(taskToken, "SendTaskSuccess", output=json.loads(output))

    def send_task_failure(self, *, taskToken: str, error: str, cause: str) -> None:
        self._answer(taskToken, "SendTaskFailure", error=error, cause=cause)


def _finished(outcome: Outcome, **fields: Any) -> CheckResult:
    due = DueRefund("surecart", "default", "re_1", "fleet:p", NOW, 0, {})
    return CheckResult(due, outcome, **fields)


def test_a_settled_poll_answers_its_waiters_with_the_refund() -> None:
    client = RecordingStepFunctions(gone={"t-stopped"}, broken={"t-throttled"})
    refund = {"provider": "surecart", "refund_id": "re_1", "status": "succeeded"}

    untold = notify_waiters(
        client,  # type: ignore[arg-type]
        _finished(Outcome.SETTLED, refund=refund),
        ["t-1", "t-stopped", "t-throttled", "t-2"],
    )

    assert client.sent == [
        ("SendTaskSuccess", "t-1", {"output": refund}),
        ("SendTaskSuccess", "t-2", {"output": refund}),
    ]
    # An execution that stopped waiting is nobody to tell; a throttled answer is counted.
    assert untold == 1


@pytest.mark.parametrize(
    ("error", "cause_words"),
    [
        ("RefundNotFound", "not-found grace period"),
        ("ProviderAuthFailed", "rejected the service's credentials"),
        ("RefundPollingTimedOut", "polling budget"),
        ("ConfigurationError", "A poll check failed with this error"),
    ],
)
def test_an_ended_poll_fails_its_waiters_with_the_named_error(error: str, cause_words: str) -> None:
    client = RecordingStepFunctions()
    result = _finished(Outcome.ENDED, error=error, message="secret-free detail")
    assert notify_waiters(client, result, ["t-1"]) == 0  # type: ignore[arg-type]
    ((operation, token, sent),) = client.sent
    assert (operation, token, sent["error"]) == ("SendTaskFailure", "t-1", error)
    assert cause_words in sent["cause"]
    assert "secret-free detail" not in sent["cause"]  # a fixed sentence, the record has more


def test_a_batch_tells_the_waiters_of_the_polls_it_ends(registry: FleetRegistry) -> None:
    _wait(registry, "re_done", 1)
    _wait(registry, "re_done", 2)
    _wait(registry, "re_pending", 3)
    told: list[tuple[str, list[str]]] = []

    def check(due: DueRefund) -> CheckResult:
        if due.refund_id == "re_done":
            return CheckResult(due, Outcome.SETTLED, refund={"status": "succeeded"})
        return CheckResult(due, Outcome.PENDING, NOW + timedelta(hours=1))

    def notify(result: CheckResult, tokens: Any) -> int:
        told.append((result.due.refund_id, list(tokens)))
        return 0

    report = run_batch(
        "surecart",
        "default",
        registry=registry,
        check=check,
        seconds=60,
        workers=2,
        notify=notify,
        now=lambda: NOW,
    )
    assert told == [("re_done", ["token-1", "token-2"])]
    assert (report.waiters_told, report.waiters_untold) == (2, 0)


@pytest.mark.parametrize(
    "event",
    [
        {"fleet_wait": None},
        {"fleet_wait": {"watch": {}, "task_token": "", "execution_arn": f"{ARN}x"}},
        {"fleet_wait": {"watch": {}, "task_token": "t", "execution_arn": "not-an-arn"}},
        {"fleet_wait": {"watch": [], "task_token": "t", "execution_arn": f"{ARN}x"}},
        {"fleet_wait": {"watch": {}, "task_token": "t" * 2049, "execution_arn": f"{ARN}x"}},
        {"fleet_wait": {"watch": {}, "task_token": "t", "execution_arn": f"{ARN}x", "x": 1}},
    ],
)
def test_a_malformed_wait_event_is_an_invalid_request(event: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest, match="invalid"):
        parse_wait(event)
