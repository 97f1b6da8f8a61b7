"""The fleet's queues (contract section 8): registering, the due order, conditional moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from refund_core.fleet.registry import FleetRegistry, Registration, epoch_ms
from refund_core.poller.records import PollingState, RefundRecords

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _register(
    registry: FleetRegistry, refund_id: str, *, at: datetime = NOW, account: str = "default"
) -> Registration:
    return registry.register(
        "surecart",
        refund_id,
        account=account,
        overrides={"first_check_seconds": 5},
        now=NOW,
        first_check_at=at,
    )


def test_a_refund_is_registered_once_while_it_is_polled(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    first = _register(registry, "re_1")
    again = _register(registry, "re_1", at=NOW + timedelta(hours=1))

    assert (first.registered, first.polling_state, first.next_check_at) == (True, "polling", NOW)
    # The second registration changes nothing and answers the poll that stands.
    assert (again.registered, again.polling_state, again.next_check_at) == (False, "polling", NOW)
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "polling"
    assert record["due_at_ms"] == epoch_ms(NOW)
    assert record["watch_overrides"] == {"first_check_seconds": 5}
    assert "execution_arn" not in record  # no execution owns a fleet poll
    assert registry.queues() == [("surecart", "default")]


def test_a_poll_that_ended_can_be_registered_again_with_a_fresh_poll(
    registry: FleetRegistry, records: RefundRecords
) -> None:
    _register(registry, "re_1")
    (due,), _ = registry.due("surecart", "default", now=NOW, limit=10)
    records.mark_polling_state(
        "surecart", "re_1", PollingState.NOT_FOUND, at=NOW, poll_id=due.poll_id, code="x"
    )
    registry.retire(due)

    again = _register(registry, "re_1", at=NOW + timedelta(minutes=1))

    assert again.registered
    (fresh,), _ = registry.due("surecart", "default", now=NOW + timedelta(minutes=1), limit=10)
    assert fresh.poll_id != due.poll_id
    assert fresh.refund_id == "re_1"


def test_due_refunds_come_oldest_due_first_and_only_once_due(registry: FleetRegistry) -> None:
    for minutes, refund_id in [(3, "re_c"), (1, "re_a"), (9, "re_late"), (2, "re_b")]:
        _register(registry, refund_id, at=NOW + timedelta(minutes=minutes))
    _register(registry, "re_other_account", account="store-b", at=NOW)

    due, more = registry.due("surecart", "default", now=NOW + timedelta(minutes=5), limit=10)

    assert [d.refund_id for d in due] == ["re_a", "re_b", "re_c"]
    assert more is None
    assert all(d.account == "default" for d in due)
    page, start = registry.due("surecart", "default", now=NOW + timedelta(minutes=5), limit=2)
    rest, _ = registry.due(
        "surecart", "default", now=NOW + timedelta(minutes=5), limit=2, start_key=start
    )
    assert [d.refund_id for d in page + rest] == ["re_a", "re_b", "re_c"]
    assert registry.queues() == [("surecart", "default"), ("surecart", "store-b")]


def test_a_stale_batch_can_neither_undo_a_newer_move_nor_revive_an_ended_poll(
    registry: FleetRegistry,
) -> None:
    _register(registry, "re_1")
    (due,), _ = registry.due("surecart", "default", now=NOW, limit=10)

    assert registry.reschedule(due, at=NOW + timedelta(minutes=10))
    # The same read, acted on again (a retried batch): its due time is not the stored one.
    assert not registry.reschedule(due, at=NOW + timedelta(minutes=1))
    (moved,), _ = registry.due("surecart", "default", now=NOW + timedelta(hours=1), limit=10)
    assert moved.due_at_ms == epoch_ms(NOW + timedelta(minutes=10))

    registry.retire(moved)
    assert not registry.reschedule(moved, at=NOW + timedelta(minutes=20))
    assert registry.due("surecart", "default", now=NOW + timedelta(days=1), limit=10) == ([], None)
