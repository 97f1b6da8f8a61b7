"""In-memory stand-ins for the fleet's stores, behind the interfaces the real code calls.

`bench.fleet_sim` runs the real batch (`refund_core.fleet.batch`), check
(`refund_core.poller.check.run_check`), schedule and rate limit
(`refund_core.rate_limit.AccountRateLimit`) over 100,000 refunds; DynamoDB Local would take
hours for that, so the two stores are these:

- `MemRecords`: the `RefundRecords` methods a fleet check calls (`record_observation`,
  `count_check`, `mark_polling_state`), with the section 5 write rules that matter to a
  simulated refund (a final status is never replaced by a pending one; an unchanged status
  is a refresh);
- `MemRegistry`: `FleetRegistry`'s (`register`, `due` oldest first in pages, a conditional
  `reschedule` and `retire`);
- `MemRateClient`: the one conditional `UpdateItem` `AccountRateLimit` makes, so the real
  limiter decides every turn.

The small run of `bench.fleet_sim` runs the same scenario on both these and the real classes
on DynamoDB Local, and checks that every method is called the same number of times, with the
same outcomes: that is what makes the 100,000-refund counts the real code's.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from refund_core.fleet.registry import DueRefund, Registration, epoch_ms, queue_name
from refund_core.fleet.waiters import Waiter
from refund_core.model import Refund, RefundStatus
from refund_core.poller.records import PollingState, WriteOutcome, WriteResult


@dataclass
class MemRecord:
    provider: str
    account: str
    refund_id: str
    status: RefundStatus | None = None
    observed: datetime | None = None
    polling_state: str | None = None
    checks: int = 0
    poll_id: str = ""
    poll_started_at: datetime | None = None
    poll_checks: int = 0
    overrides: Mapping[str, Any] = field(default_factory=dict)
    due_ms: int | None = None
    transient_failures: int = 0
    history: int = 0
    waiters: list[str] = field(default_factory=list)


class MemStore:
    """The records table: one MemRecord per refund, and each account's queue sorted by due
    time (a list of (due_ms, refund_id), bisected). A batch applies one check's outcome on its
    own thread while its worker runs the next check, as on AWS: `lock` keeps the queues whole
    (DynamoDB's items are each written atomically)."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str, str], MemRecord] = {}
        self.queues: dict[str, list[tuple[int, str]]] = {}
        self.lock = threading.RLock()

    def record(self, provider: str, refund_id: str, account: str) -> MemRecord:
        key = (provider, account, refund_id)
        if key not in self.records:
            self.records[key] = MemRecord(provider, account, refund_id)
        return self.records[key]

    def enqueue(self, record: MemRecord, due_ms: int) -> None:
        self.dequeue(record)
        record.due_ms = due_ms
        bisect.insort(
            self.queues.setdefault(queue_name(record.provider, record.account), []),
            (due_ms, record.refund_id),
        )

    def dequeue(self, record: MemRecord) -> None:
        if record.due_ms is None:
            return
        queue = self.queues[queue_name(record.provider, record.account)]
        index = bisect.bisect_left(queue, (record.due_ms, record.refund_id))
        if index < len(queue) and queue[index] == (record.due_ms, record.refund_id):
            del queue[index]
        record.due_ms = None

    def earliest_due_ms(self, provider: str, account: str) -> int | None:
        queue = self.queues.get(queue_name(provider, account))
        return queue[0][0] if queue else None


def _locked(method: Any) -> Any:
    """One store call at a time, as DynamoDB applies each write whole."""

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._store.lock:
            return method(self, *args, **kwargs)

    return call


class MemRecords:
    """`RefundRecords` as a fleet check uses it."""

    def __init__(self, store: MemStore) -> None:
        self._store = store
        self.events = 0  # status changes and polls ended: one event each (section 7)

    @_locked
    def record_observation(
        self, refund: Refund, *, execution_arn: str | None, checked_at: datetime
    ) -> WriteResult:
        record = self._store.record(refund.provider, refund.refund_id, refund.account)
        record.checks += 1
        stored, new = record.status, refund.status
        if stored is None:
            outcome = WriteOutcome.CREATED
        elif stored is new:
            outcome = WriteOutcome.REFRESHED
        elif stored is RefundStatus.SUCCEEDED and new is RefundStatus.FAILED:
            outcome = WriteOutcome.LATE_FAILURE
        elif new is RefundStatus.UNKNOWN or (stored.terminal and not new.terminal):
            return WriteResult(WriteOutcome.COUNTED, record.checks, stored)
        else:
            outcome = WriteOutcome.CHANGED
        if outcome is not WriteOutcome.REFRESHED:
            record.history += 1
            self.events += 1
        record.status, record.observed = new, refund.fetched_at
        if new.terminal:
            record.polling_state = PollingState.SETTLED.value
        return WriteResult(outcome, record.checks, new)

    @_locked
    def count_check(
        self,
        provider: str,
        refund_id: str,
        *,
        checked_at: datetime,
        error_code: str | None,
        execution_arn: str | None = None,
        account: str = "default",
    ) -> int:
        record = self._store.record(provider, refund_id, account)
        record.checks += 1
        return record.checks

    @_locked
    def mark_polling_state(
        self,
        provider: str,
        refund_id: str,
        state: PollingState,
        *,
        at: datetime,
        execution_arn: str | None = None,
        poll_id: str | None = None,
        error: str | None = None,
        message: str | None = None,
        code: str | None = None,
        account: str = "default",
    ) -> None:
        record = self._store.record(provider, refund_id, account)
        if record.polling_state == PollingState.SETTLED.value:
            return
        if record.polling_state != state.value:
            self.events += 1  # Refund Polling Ended
        record.polling_state = state.value


class MemRegistry:
    """`FleetRegistry` on the in-memory table."""

    def __init__(self, store: MemStore) -> None:
        self._store = store

    @_locked
    def register(
        self,
        provider: str,
        refund_id: str,
        *,
        account: str,
        overrides: Mapping[str, Any],
        now: datetime,
        first_check_at: datetime | None = None,
        waiter: Waiter | None = None,
    ) -> Registration:
        record = self._store.record(provider, refund_id, account)
        if record.polling_state == PollingState.POLLING.value and record.due_ms is not None:
            due = datetime.fromtimestamp(record.due_ms / 1000, tz=UTC)
            return Registration(False, record.polling_state, due)
        record.polling_state = PollingState.POLLING.value
        record.poll_id = f"fleet:{uuid.uuid4()}"
        record.poll_started_at = now
        record.poll_checks = record.transient_failures = 0
        record.overrides = dict(overrides)
        if waiter is not None:
            record.waiters.append(waiter.token)
        due_ms = epoch_ms(first_check_at or now)
        self._store.enqueue(record, due_ms)
        return Registration(True, record.polling_state, datetime.fromtimestamp(due_ms / 1000, UTC))

    @_locked
    def due(
        self,
        provider: str,
        account: str,
        *,
        now: datetime,
        limit: int,
        start_key: Mapping[str, Any] | None = None,
    ) -> tuple[list[DueRefund], Mapping[str, Any] | None]:
        queue = self._store.queues.get(queue_name(provider, account), [])
        start = 0 if not start_key else bisect.bisect_right(queue, tuple(start_key["at"]))
        until = epoch_ms(now)
        found: list[DueRefund] = []
        for due_ms, refund_id in queue[start : start + limit]:
            if due_ms > until:
                break
            record = self._store.records[(provider, account, refund_id)]
            found.append(
                DueRefund(
                    provider=provider,
                    account=account,
                    refund_id=refund_id,
                    poll_id=record.poll_id,
                    poll_started_at=record.poll_started_at or datetime.now(UTC),
                    due_at_ms=due_ms,
                    overrides=record.overrides,
                    transient_failures=record.transient_failures,
                    poll_checks=record.poll_checks,
                    status=None if record.status is None else record.status.value,
                )
            )
        # As DynamoDB: a full page says where it stopped, even when nothing follows.
        last = {"at": [found[-1].due_at_ms, found[-1].refund_id]} if len(found) == limit else None
        return found, last

    @_locked
    def reschedule(
        self, due: DueRefund, *, at: datetime, transient_failures: int = 0, calls: int = 1
    ) -> bool:
        record = self._store.records[(due.provider, due.account, due.refund_id)]
        if record.poll_id != due.poll_id or record.due_ms != due.due_at_ms:
            return False
        record.transient_failures = transient_failures
        record.poll_checks = due.poll_checks + calls
        self._store.enqueue(record, epoch_ms(at))
        return True

    @_locked
    def refresh(
        self, due: DueRefund, refund: Refund, *, checked_at: datetime, at: datetime
    ) -> bool:
        record = self._store.records[(due.provider, due.account, due.refund_id)]
        newer = record.observed is None or record.observed < refund.fetched_at
        if (
            record.poll_id != due.poll_id
            or record.due_ms != due.due_at_ms
            or record.status is not refund.status
            or not newer
        ):
            return False
        record.checks += 1
        record.observed = refund.fetched_at
        record.transient_failures = 0
        record.poll_checks = due.poll_checks + 1
        self._store.enqueue(record, epoch_ms(at))
        return True

    @_locked
    def retire(self, due: DueRefund) -> list[str]:
        record = self._store.records[(due.provider, due.account, due.refund_id)]
        if record.poll_id != due.poll_id:
            return []
        self._store.dequeue(record)
        record.transient_failures = 0
        waiters, record.waiters = record.waiters, []
        return waiters


class ConditionalCheckFailedError(Exception):
    """What boto3 raises for a refused condition, with the item it saw."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        super().__init__("ConditionalCheckFailed")
        self.response = {"Item": dict(item)}


class MemRateClient:
    """The DynamoDB client `AccountRateLimit` needs: its turns' conditional write on the
    account's `tat` (`SET tat = :next ... IF attribute_not_exists(tat) OR tat <= :start`)."""

    class exceptions:
        ConditionalCheckFailedException = ConditionalCheckFailedError

    def __init__(self) -> None:
        self._tat: dict[str, int] = {}
        self.granted = self.refused = 0

    def update_item(self, **request: Any) -> dict[str, Any]:
        key = request["Key"]["pk"]["S"]
        values = request["ExpressionAttributeValues"]
        stored = self._tat.get(key)
        if stored is not None and stored > int(values[":start"]["N"]):
            self.refused += 1
            raise ConditionalCheckFailedError({"tat": {"N": str(stored)}})
        self._tat[key] = int(values[":next"]["N"])
        self.granted += 1
        return {}
