"""Contract section 7 at the table: every stored status change, and nothing else, reaches the
stream as one outbox write the template's Pipe carries, numbered and in order.

Each example runs on DynamoDB Local (AWS's engine) and on moto; the stream is read as the Pipe
reads it (its own FilterCriteria from template.yaml, the real enrichment code).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from devstack.aws.template import Table
from refund_core.events.model import POLLING_ENDED, STATUS_CHANGED
from refund_core.model import Refund, RefundStatus
from refund_core.poller.records import PollingState, RefundRecords
from tests.dynamodb_local import create_table
from tests.events.stream import events_of, stream_events
from tests.helpers import observed_refund

PROVIDER = "surecart"
ARN = "arn:aws:states:us-east-1:123456789012:execution:refund-poller:surecart-rf-0"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
_ids = itertools.count()


def observed(
    status: RefundStatus, seconds: float, refund_id: str, account: str = "default"
) -> Refund:
    at = T0 + timedelta(seconds=seconds)
    refund: Refund = observed_refund(PROVIDER, refund_id, status, at, account=account)
    return refund


def observe(records: RefundRecords, status: RefundStatus, seconds: float, refund_id: str) -> None:
    records.record_observation(
        observed(status, seconds, refund_id),
        execution_arn=ARN,
        checked_at=T0 + timedelta(seconds=seconds + 1),
    )


def fresh_id() -> str:
    return f"rf-{next(_ids)}"


def refund_events(records: RefundRecords, refund_id: str) -> list[tuple[str, dict[str, Any]]]:
    return events_of(stream_events(records._client, records._table), refund_id)


# --------------------------------------------------------------------------- by example


def test_each_status_change_is_one_event_in_history_order(records: RefundRecords) -> None:
    refund_id = fresh_id()
    observe(records, RefundStatus.PENDING, 0, refund_id)
    observe(records, RefundStatus.PENDING, 60, refund_id)  # a refresh: no event
    observe(records, RefundStatus.SUCCEEDED, 120, refund_id)

    events = refund_events(records, refund_id)
    assert [kind for kind, _ in events] == [STATUS_CHANGED, STATUS_CHANGED]
    first, second = (detail for _, detail in events)
    assert (first["status"], first["previous_status"], first["metadata"]["sequence"]) == (
        "pending",
        None,
        1,
    )
    assert (second["status"], second["previous_status"], second["metadata"]["sequence"]) == (
        "succeeded",
        "pending",
        2,
    )
    assert second["terminal"] is True
    assert second["late_failure"] is False
    assert second["observed_at"] == "2026-12-07T09:02:00Z"
    assert second["refund"]["status"] == "succeeded"
    assert second["refund"]["amount"] == 100
    history = (records.get(PROVIDER, refund_id) or {})["history"]
    assert [h["status"] for h in history] == ["pending", "succeeded"]
    assert [h["at"] for h in history] == [first["observed_at"], second["observed_at"]]


def test_a_refused_write_publishes_nothing(records: RefundRecords) -> None:
    refund_id = fresh_id()
    observe(records, RefundStatus.SUCCEEDED, 100, refund_id)
    observe(records, RefundStatus.PENDING, 50, refund_id)  # older: refused
    observe(records, RefundStatus.PENDING, 200, refund_id)  # final never goes back: refused
    observe(records, RefundStatus.UNKNOWN, 300, refund_id)  # unknown never replaces: refused

    events = refund_events(records, refund_id)
    assert [(d["status"], d["metadata"]["sequence"]) for _, d in events] == [("succeeded", 1)]


def test_a_late_failure_is_an_event_that_says_so(records: RefundRecords) -> None:
    refund_id = fresh_id()
    observe(records, RefundStatus.SUCCEEDED, 0, refund_id)
    observe(records, RefundStatus.FAILED, 3600, refund_id)

    (_, late) = refund_events(records, refund_id)[-1]
    assert (late["status"], late["previous_status"], late["late_failure"]) == (
        "failed",
        "succeeded",
        True,
    )
    assert late["metadata"]["sequence"] == 2


def test_a_poll_ending_without_a_final_status_is_one_polling_ended(records: RefundRecords) -> None:
    refund_id = fresh_id()
    observe(records, RefundStatus.PENDING, 0, refund_id)
    for _ in range(2):  # a retried check ends the same poll twice: one event
        records.mark_polling_state(
            PROVIDER,
            refund_id,
            PollingState.TIMED_OUT,
            at=T0 + timedelta(days=30),
            execution_arn=ARN,
            code="refund_polling_timed_out",
        )

    events = refund_events(records, refund_id)
    assert [kind for kind, _ in events] == [STATUS_CHANGED, POLLING_ENDED]
    ended = events[1][1]
    assert ended["polling_state"] == "timed_out"
    assert ended["code"] == "refund_polling_timed_out"
    assert ended["status"] == "pending"
    assert ended["metadata"]["sequence"] == 1  # after the one status change
    assert ended["execution_arn"] == ARN


def test_a_settled_record_publishes_no_polling_ended(records: RefundRecords) -> None:
    refund_id = fresh_id()
    observe(records, RefundStatus.CANCELED, 0, refund_id)
    records.mark_polling_state(
        PROVIDER, refund_id, PollingState.AUTH_FAILED, at=T0 + timedelta(hours=1), code="x"
    )

    assert [d["status"] for _, d in refund_events(records, refund_id)] == ["canceled"]


def test_a_refund_never_seen_ends_with_status_null(records: RefundRecords) -> None:
    refund_id = fresh_id()
    records.mark_polling_state(
        PROVIDER,
        refund_id,
        PollingState.NOT_FOUND,
        at=T0,
        execution_arn=ARN,
        code="refund_not_found",
    )
    ((kind, ended),) = refund_events(records, refund_id)
    assert kind == POLLING_ENDED
    assert (ended["status"], ended["metadata"]["sequence"], ended["code"]) == (
        None,
        0,
        "refund_not_found",
    )


def test_event_ids_are_stable_and_distinct(records: RefundRecords) -> None:
    """The same change always has the same id (a retry, a replay); two changes never share one,
    not even the same status of the same refund id at another account."""
    refund_id = fresh_id()
    observe(records, RefundStatus.PENDING, 0, refund_id)
    observe(records, RefundStatus.SUCCEEDED, 10, refund_id)
    records.record_observation(
        observed(RefundStatus.PENDING, 0, refund_id, account="store-b"),
        execution_arn=ARN,
        checked_at=T0,
    )
    ids = [d["metadata"]["event_id"] for _, d in refund_events(records, refund_id)]
    assert len(ids) == len(set(ids)) == 3

    from refund_core.events.model import status_changed

    again = status_changed(
        observed(RefundStatus.PENDING, 0, refund_id),
        sequence=1,
        previous_status=None,
        late_failure=False,
    )
    assert again.metadata.event_id == ids[0]


def test_the_outbox_item_stays_out_of_the_listing(records: RefundRecords) -> None:
    refund_id = fresh_id()
    observe(records, RefundStatus.PENDING, 0, refund_id)
    listed, _ = records.list_records("default", limit=100)
    assert [r["refund_id"] for r in listed] == [refund_id]


# --------------------------------------------------------------------------- any interleaving

STATUSES = [
    RefundStatus.PENDING,
    RefundStatus.UNKNOWN,
    *sorted((s for s in RefundStatus if s.terminal), key=lambda s: s.value),
]


@pytest.fixture(scope="module")
def moto_records(records_table_definition: Table) -> Any:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        yield RefundRecords(client, create_table(client, records_table_definition))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    checks=st.lists(
        st.tuples(st.sampled_from(STATUSES), st.integers(min_value=0, max_value=10_000)),
        min_size=1,
        max_size=12,
    ),
    end_after=st.one_of(st.none(), st.integers(min_value=0, max_value=12)),
)
def test_in_any_interleaving_a_consumer_in_arrival_order_never_moves_a_refund_back(
    moto_records: RefundRecords,
    checks: list[tuple[RefundStatus, int]],
    end_after: int | None,
) -> None:
    """Checks of one refund arrive in any order (slow pollers, retries), possibly with a poll
    ending among them. Applying the events in the order the stream holds them, a consumer sees
    sequences 1..n with no gap, each event's previous_status is what it last applied, it never
    goes from a final status to a non-final one, and it ends where the record ends."""
    refund_id = fresh_id()
    for position, (status, second) in enumerate(checks):
        if position == end_after:
            moto_records.mark_polling_state(
                PROVIDER, refund_id, PollingState.FAILED, at=T0, execution_arn=ARN, code="x"
            )
        observe(moto_records, status, second, refund_id)

    consumer: RefundStatus | None = None
    applied = 0
    for kind, detail in refund_events(moto_records, refund_id):
        if kind == POLLING_ENDED:
            assert detail["metadata"]["sequence"] == applied
            assert detail["status"] == (consumer.value if consumer else None)
            continue
        new = RefundStatus(detail["status"])
        assert detail["metadata"]["sequence"] == applied + 1
        assert detail["previous_status"] == (consumer.value if consumer else None)
        assert not (consumer is not None and consumer.terminal and not new.terminal)
        assert new is not RefundStatus.UNKNOWN or consumer is None
        consumer, applied = new, applied + 1

    record = moto_records.get(PROVIDER, refund_id) or {}
    assert applied == len(record.get("history", []))
    assert (consumer.value if consumer else None) == record.get("status")
