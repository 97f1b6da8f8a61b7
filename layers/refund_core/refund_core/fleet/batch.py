"""One account's batch: its due refunds, oldest first, checked concurrently at its rate.

Each check is the poller's own (`run_check`): the same schedule, budgets, write rules and
named failures as a poller execution's. What its outcome does to the refund's place:

- final status, or a poll-ending failure (not found, auth failed, timed out, failed): out of
  the queue, and the refund's waiter (a `.sync:2` execution) is told;
- still pending: due again after the schedule's wait;
- provider trouble (5xx, timeouts, garbage): due again on the short schedule the ASL used
  (5 s doubling to 5 min, full jitter), never ending the poll;
- the account's budget spent (ours, or the provider's 429): the batch stops taking that
  account's refunds. The refund keeps its due time, so it is first in line next time: oldest
  first, none starved. How far behind the account is, is the batch's `behind_seconds`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from refund_core.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderRateLimited,
    RefundNotFound,
    RefundPollingTimedOut,
    RefundServiceError,
)
from refund_core.fleet.registry import DueRefund, FleetRegistry
from refund_core.poller.check import PollCheckEvent, run_check
from refund_core.poller.schedule import RefundPending
from refund_core.timestamps import utc_now

if TYPE_CHECKING:
    from refund_core.clients import ProviderClients
    from refund_core.model import Refund
    from refund_core.poller.records import RefundRecords

# The short schedule for provider trouble (what the poller's ASL retried with).
TRANSIENT_FIRST_SECONDS: Final = 5.0
TRANSIENT_BACKOFF: Final = 2.0
TRANSIENT_MAX_SECONDS: Final = 300.0
TRANSIENT_ATTEMPTS: Final = 15  # then the ladder starts again: an outage never ends a poll
# How long one check may wait for its account's turn: the batch's workers queue on the
# account's budget instead of giving up at an API caller's half second.
RATE_WAIT_SECONDS: Final = 5.0
# How far ahead a batch reserves its account's turns (one write each time): a quarter second
# of turns, so the API's GETs, one turn each, never wait behind more than that.
RATE_AHEAD_SECONDS: Final = 0.25
ENDING_ERRORS: Final = (RefundNotFound, ProviderAuthFailed, RefundPollingTimedOut)


class Outcome(StrEnum):
    SETTLED = "settled"
    ENDED = "ended"
    PENDING = "pending"
    TRANSIENT = "transient"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class CheckResult:
    """One due refund's check and what it means for its place in the queue."""

    due: DueRefund
    outcome: Outcome
    next_check_at: datetime | None = None
    # SETTLED: the normalized refund (the waiter's output).
    refund: Mapping[str, Any] | None = None
    # ENDED: the named failure (the waiter's error) and a message that is safe to show.
    error: str | None = None
    message: str | None = None
    # The contract's error code of a check that failed (any outcome but SETTLED/PENDING).
    code: str | None = None
    # PENDING: the check's own write moved the refund already (FleetRegistry.refresh).
    moved: bool = False


def check_due(
    due: DueRefund,
    *,
    defaults: Mapping[str, Any],
    clients: ProviderClients,
    records: RefundRecords,
    now: Callable[[], datetime] = utc_now,
    uniform: Callable[[float, float], float] = random.uniform,
    rate_wait_seconds: float = RATE_WAIT_SECONDS,
    registry: FleetRegistry | None = None,
) -> CheckResult:
    """Check one due refund with the poller's check (`defaults`: the provider's schedule).

    With `registry`, a check that sees the status the record holds writes once: the refresh
    and the refund's next place together (most checks; a change takes the record's own
    writes, then the reschedule)."""
    moved: list[datetime] = []

    def refresh(refund: Refund, wait: int) -> bool:
        if registry is None or refund.status.value != due.status:
            return False
        checked_at = now()
        at = checked_at + timedelta(seconds=wait)
        if registry.refresh(due, refund, checked_at=checked_at, at=at):
            moved.append(at)
            return True
        return False

    event = PollCheckEvent.parse(
        {
            "watch": {
                "provider": due.provider,
                "refund_id": due.refund_id,
                "account": due.account,
                **due.overrides,
            },
            "defaults": dict(defaults),
            "poll_id": due.poll_id,
            "execution_started_at": due.poll_started_at.isoformat(),
        }
    )
    try:
        refund = run_check(
            event,
            provider=due.provider,
            clients=clients,
            records=records,
            now=now,
            uniform=uniform,
            rate_wait_seconds=rate_wait_seconds,
            rate_ahead_seconds=RATE_AHEAD_SECONDS,
            # The poll's calls so far came with the refund (the due index): the count moves
            # with the reschedule, one write fewer a check.
            calls=due.poll_checks + 1,
            refresh=refresh,
        )
    except RefundPending as pending:
        if moved:
            return CheckResult(due, Outcome.PENDING, moved[0], moved=True)
        wait = float(getattr(pending, "wait_seconds", event.watch.first_check_seconds))
        return CheckResult(due, Outcome.PENDING, now() + timedelta(seconds=wait))
    except ProviderRateLimited as limited:
        # (No call was made: the budget refused it. The refund's place and count stand.)
        return CheckResult(due, Outcome.DEFERRED, code=limited.code)
    except ENDING_ERRORS as ended:
        return CheckResult(
            due, Outcome.ENDED, error=type(ended).__name__, message=ended.message, code=ended.code
        )
    except ProviderError as trouble:
        ceiling = min(
            TRANSIENT_MAX_SECONDS,
            TRANSIENT_FIRST_SECONDS
            * TRANSIENT_BACKOFF ** (due.transient_failures % TRANSIENT_ATTEMPTS),
        )
        wait = max(1.0, uniform(0.0, ceiling))
        return CheckResult(
            due, Outcome.TRANSIENT, now() + timedelta(seconds=wait), code=trouble.code
        )
    except Exception as error:  # run_check marked the record failed already
        name = type(error).__name__ if isinstance(error, RefundServiceError) else "CheckFailed"
        message = (
            error.message
            if isinstance(error, RefundServiceError)
            else (f"unexpected {type(error).__name__} while checking the refund")
        )
        code = error.code if isinstance(error, RefundServiceError) else RefundServiceError.code
        return CheckResult(due, Outcome.ENDED, error=name, message=message, code=code)
    return CheckResult(due, Outcome.SETTLED, refund=refund)


@dataclass
class BatchReport:
    """What one account's batch did."""

    provider: str
    account: str
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    # Seconds the account's oldest due refund was overdue when the batch ended (0: none due).
    behind_seconds: float = 0.0
    finished: list[CheckResult] = field(default_factory=list)
    # Failed checks by the contract's error code (the Error_<code> metrics).
    errors: Counter[str] = field(default_factory=Counter)
    # When each refund still pending after its check started its poll (StuckPendingChecks).
    pending_since: list[datetime] = field(default_factory=list)
    # Executions waiting on a poll that ended: answered, and not (a Step Functions error).
    waiters_told: int = 0
    waiters_untold: int = 0

    @property
    def checked(self) -> int:
        return sum(n for outcome, n in self.outcomes.items() if outcome is not Outcome.DEFERRED)


def run_batch(
    provider: str,
    account: str,
    *,
    registry: FleetRegistry,
    check: Callable[[DueRefund], CheckResult],
    seconds: float,
    workers: int,
    notify: Callable[[CheckResult, Sequence[str]], int] | None = None,
    lookahead_seconds: float = 0.0,
    page_size: int = 100,
    now: Callable[[], datetime] = utc_now,
    monotonic: Callable[[], float] = time.monotonic,
) -> BatchReport:
    """Check the account's due refunds, oldest first, for up to `seconds` (then the rest wait
    for the next batch where they stand), `workers` at a time. `notify` answers the
    executions waiting on a poll that ended (refund_core.fleet.waiters.notify_waiters).
    `lookahead_seconds` (the tick's period): refunds due before the next tick are taken now,
    so a check is at most that early and never a tick late."""
    report = BatchReport(provider, account)
    stop = threading.Event()
    ends = monotonic() + seconds

    def guarded(due: DueRefund) -> CheckResult | None:
        if stop.is_set() or monotonic() >= ends:
            return None  # not checked: it keeps its place
        result = check(due)
        if result.outcome is Outcome.DEFERRED:
            stop.set()
        return result

    start_key: Mapping[str, Any] | None = None
    # Due before the next tick, as of this batch's start: a batch that runs long does not
    # reach further ahead (that would only check the same young refunds sooner, and more).
    horizon = now() + timedelta(seconds=lookahead_seconds)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        while not stop.is_set() and monotonic() < ends:
            page, start_key = registry.due(
                provider,
                account,
                now=horizon,
                limit=page_size,
                start_key=start_key,
            )
            for result in pool.map(guarded, page):
                if result is not None:
                    _apply(registry, result, report, notify)
            if start_key is None:
                break
    oldest, _ = registry.due(provider, account, now=now(), limit=1)
    if oldest:
        overdue_ms = now().timestamp() * 1000 - oldest[0].due_at_ms
        report.behind_seconds = max(0.0, math.floor(overdue_ms) / 1000)
    return report


def _apply(
    registry: FleetRegistry,
    result: CheckResult,
    report: BatchReport,
    notify: Callable[[CheckResult, Sequence[str]], int] | None,
) -> None:
    report.outcomes[result.outcome] += 1
    due = result.due
    if result.code is not None:
        report.errors[result.code] += 1
    if result.outcome is Outcome.PENDING:
        report.pending_since.append(due.poll_started_at)
    if result.outcome in (Outcome.SETTLED, Outcome.ENDED):
        waiters = registry.retire(due)
        report.finished.append(result)
        if waiters and notify is not None:
            report.waiters_told += len(waiters)
            report.waiters_untold += notify(result, waiters)
    elif result.outcome is Outcome.PENDING and result.next_check_at is not None:
        if not result.moved:
            registry.reschedule(due, at=result.next_check_at)
    elif result.outcome is Outcome.TRANSIENT and result.next_check_at is not None:
        registry.reschedule(
            due, at=result.next_check_at, transient_failures=due.transient_failures + 1
        )


def workers_for(rate_per_second: float, provider_seconds: float = 1.0, most: int = 32) -> int:
    """Enough concurrent checks to use the account's rate when each takes `provider_seconds`."""
    if rate_per_second <= 0:
        return most
    return max(1, min(most, math.ceil(rate_per_second * provider_seconds)))
