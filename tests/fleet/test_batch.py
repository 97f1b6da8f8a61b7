"""One account's batch (contract section 8): the poller's own check per due refund, what each
outcome does to the refund's place, and the order a short budget leaves them in."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from refund_core.errors import (
    ProviderRateLimited,
    ProviderUnavailable,
    RefundNotFound,
)
from refund_core.fleet.batch import CheckResult, Outcome, check_due, run_batch, workers_for
from refund_core.fleet.registry import DueRefund, FleetRegistry, epoch_ms
from refund_core.model import RefundStatus
from refund_core.poller.records import RefundRecords
from tests.poller.test_check import FakeClients

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DEFAULTS = {
    "first_check_seconds": "60",
    "max_interval_seconds": "21600",
    "budget_seconds": "2592000",
    "max_checks": "400",
    "not_found_grace_seconds": "300",
}


def _register(registry: FleetRegistry, refund_id: str, *, minutes: float = 0) -> None:
    registry.register(
        "surecart",
        refund_id,
        account="default",
        overrides={},
        now=NOW,
        first_check_at=NOW + timedelta(minutes=minutes),
    )


def _only_due(registry: FleetRegistry, at: datetime = NOW) -> DueRefund:
    (due,), _ = registry.due("surecart", "default", now=at, limit=10)
    return due


def _check(
    registry: FleetRegistry,
    records: RefundRecords,
    clients: FakeClients,
    *,
    at: datetime = NOW,
) -> CheckResult:
    return check_due(
        _only_due(registry, at),
        defaults=DEFAULTS,
        clients=clients,  # type: ignore[arg-type]
        records=records,
        now=lambda: at,
        uniform=lambda low, high: high,
    )


def test_a_pending_refund_is_due_again_after_the_schedules_wait(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    _register(registry, "re_1")
    result = _check(registry, records, FakeClients(RefundStatus.PENDING))

    assert result.outcome is Outcome.PENDING
    assert result.next_check_at == NOW + timedelta(seconds=60)  # the first rung
    record = records.get("surecart", "re_1")
    assert record is not None
    assert (record["status"], record["checks"], record["polling_state"]) == (
        "pending",
        1,
        "polling",
    )


def test_a_final_refund_settles_and_answers_the_normalized_refund(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    _register(registry, "re_1")
    result = _check(registry, records, FakeClients(RefundStatus.SUCCEEDED))

    assert result.outcome is Outcome.SETTLED
    assert result.refund is not None
    assert result.refund["status"] == "succeeded"
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "settled"


def test_not_found_past_the_grace_ends_the_poll_with_its_named_failure(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    _register(registry, "re_1")
    missing = RefundNotFound("no such refund", provider="surecart")
    result = _check(registry, records, FakeClients(missing), at=NOW + timedelta(minutes=6))

    assert (result.outcome, result.error) == (Outcome.ENDED, "RefundNotFound")
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "not_found"


def test_provider_trouble_is_retried_on_the_short_schedule_never_ending_the_poll(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    _register(registry, "re_1")
    down = ProviderUnavailable("502 from the provider", provider="surecart")
    result = _check(registry, records, FakeClients(down))

    assert result.outcome is Outcome.TRANSIENT
    assert result.next_check_at == NOW + timedelta(seconds=5)  # 5 s, the first attempt's ceiling
    record = records.get("surecart", "re_1")
    assert record is not None
    assert (record["polling_state"], record["last_error"]) == ("polling", "provider_unavailable")


def test_a_spent_budget_defers_the_check_without_counting_a_failure_as_final(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    _register(registry, "re_1")
    spent = ProviderRateLimited("budget spent", provider="surecart", retry_after=1)
    result = _check(registry, records, FakeClients(spent))

    assert result.outcome is Outcome.DEFERRED
    assert result.next_check_at is None


def _scripted(outcomes: dict[str, Outcome], seen: list[str]) -> Callable[[DueRefund], CheckResult]:
    def check(due: DueRefund) -> CheckResult:
        seen.append(due.refund_id)
        outcome = outcomes.get(due.refund_id, Outcome.PENDING)
        later = (
            NOW + timedelta(hours=1) if outcome in (Outcome.PENDING, Outcome.TRANSIENT) else None
        )
        return CheckResult(due, outcome, next_check_at=later)

    return check


def test_a_batch_moves_each_refund_by_its_outcome(registry: FleetRegistry) -> None:
    for index, refund_id in enumerate(["re_pending", "re_settled", "re_flaky"]):
        _register(registry, refund_id, minutes=-index)
    seen: list[str] = []
    outcomes = {"re_settled": Outcome.SETTLED, "re_flaky": Outcome.TRANSIENT}

    report = run_batch(
        "surecart",
        "default",
        registry=registry,
        check=_scripted(outcomes, seen),
        seconds=60,
        workers=1,
        now=lambda: NOW,
    )

    assert seen == ["re_flaky", "re_settled", "re_pending"]  # oldest due first
    assert report.outcomes == {Outcome.PENDING: 1, Outcome.SETTLED: 1, Outcome.TRANSIENT: 1}
    assert [r.due.refund_id for r in report.finished] == ["re_settled"]
    assert report.behind_seconds == 0
    later, _ = registry.due("surecart", "default", now=NOW + timedelta(hours=2), limit=10)
    assert {d.refund_id: d.transient_failures for d in later} == {"re_flaky": 1, "re_pending": 0}


def test_a_throttled_account_is_served_oldest_first_and_none_starves(
    registry: FleetRegistry,
) -> None:
    """Each batch gets budget for 3 checks; the rest are deferred where they stand. Twelve
    refunds due at once are each checked exactly once in 4 batches, in the order they fell
    due, and the report says how far behind the account is meanwhile."""
    for index in range(12):
        _register(registry, f"re_{index:02d}", minutes=-60 + index)
    seen: list[str] = []
    budget = itertools.count()

    def check(due: DueRefund) -> CheckResult:
        if next(budget) % 4 == 3:  # the fourth ask of each batch finds the budget spent
            return CheckResult(due, Outcome.DEFERRED)
        seen.append(due.refund_id)
        return CheckResult(due, Outcome.PENDING, next_check_at=NOW + timedelta(days=1))

    behind = []
    for _ in range(4):
        report = run_batch(
            "surecart",
            "default",
            registry=registry,
            check=check,
            seconds=60,
            workers=1,
            now=lambda: NOW,
        )
        behind.append(report.behind_seconds)

    assert seen == [f"re_{index:02d}" for index in range(12)]
    # Overdue: the oldest still waiting fell due 57, 54, 51 minutes ago; then none is left.
    assert behind == [57 * 60, 54 * 60, 51 * 60, 0]


@pytest.mark.parametrize(
    ("rate", "expected"), [(1, 1), (7, 7), (20, 20), (200, 32), (0, 32), (0.5, 1)]
)
def test_workers_use_the_rate_and_no_more(rate: float, expected: int) -> None:
    assert workers_for(rate) == expected


def test_a_batch_stops_at_its_time_and_leaves_the_rest_where_they_stand(
    registry: FleetRegistry,
) -> None:
    for index in range(5):
        _register(registry, f"re_{index}", minutes=-10 + index)
    clock = itertools.count()
    seen: list[str] = []

    report = run_batch(
        "surecart",
        "default",
        registry=registry,
        check=_scripted({}, seen),
        seconds=3.5,
        workers=1,
        now=lambda: NOW,
        monotonic=lambda: float(next(clock)),  # one "second" per look at the clock
    )

    assert 0 < len(seen) < 5
    assert seen == [f"re_{index}" for index in range(len(seen))]
    left, _ = registry.due("surecart", "default", now=NOW, limit=10)
    assert [d.refund_id for d in left] == [f"re_{index}" for index in range(len(seen), 5)]
    assert report.behind_seconds == (10 - len(seen)) * 60
    assert epoch_ms(NOW) > left[0].due_at_ms


def test_the_polls_call_budget_is_counted_in_its_queue_and_ends_the_poll(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    """max_checks as section 5 says: the count travels with the refund's place (the due
    index), so a check writes no counter of its own; the call over the budget ends the poll."""
    from functools import partial

    _register(registry, "re_1")
    clients = FakeClients(RefundStatus.PENDING)
    clock = [NOW]
    check = partial(
        check_due,
        defaults={**DEFAULTS, "max_checks": "2"},
        clients=clients,
        records=records,
        now=lambda: clock[0],
        uniform=lambda low, high: high,
    )
    outcomes = []
    for _ in range(3):
        report = run_batch(
            "surecart",
            "default",
            registry=registry,
            check=check,  # type: ignore[arg-type]
            seconds=60,
            workers=1,
            now=lambda: clock[0],
        )
        outcomes += list(report.outcomes.elements())
        clock[0] += timedelta(hours=1)
        if outcomes[-1] is Outcome.PENDING:
            assert _only_due(registry, clock[0]).poll_checks == len(outcomes)
    assert outcomes == [Outcome.PENDING, Outcome.PENDING, Outcome.ENDED]
    assert clients.calls == 2  # the third check ended the poll before calling
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "timed_out"


def test_a_check_that_sees_nothing_new_writes_once_and_a_stale_one_keeps_its_observation(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    """The fleet's one write (FleetRegistry.refresh): the refresh and the next place together,
    under both conditions; when the place moved meanwhile, the observation still counts."""
    _register(registry, "re_1")
    clients = FakeClients(RefundStatus.PENDING)  # each answer newer than the last

    def check(at: datetime, due: DueRefund | None = None) -> CheckResult:
        return check_due(
            due or _only_due(registry, at),
            defaults=DEFAULTS,
            clients=clients,  # type: ignore[arg-type]
            records=records,
            now=lambda: at,
            uniform=lambda low, high: high,
            registry=registry,
        )

    first = check(NOW)  # no status stored yet: the record's own write, then the reschedule
    assert (first.outcome, first.moved) == (Outcome.PENDING, False)
    registry.reschedule(_only_due(registry), at=first.next_check_at)  # type: ignore[arg-type]
    later = NOW + timedelta(minutes=2)
    due = _only_due(registry, later)
    assert (due.status, due.poll_checks) == ("pending", 1)
    second = check(later, due)
    assert (second.outcome, second.moved) == (Outcome.PENDING, True)
    moved = _only_due(registry, later + timedelta(hours=1))
    assert moved.due_at_ms == epoch_ms(second.next_check_at)  # type: ignore[arg-type]
    assert moved.poll_checks == 2
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["checks"] == 2
    assert record["last_checked_at"].startswith("2026-12-01T12:02")
    # A batch holding the old place (it moved since): no move, but the check is stored.
    stale = check(later + timedelta(minutes=1), due)
    assert stale.moved is False
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["checks"] == 3
