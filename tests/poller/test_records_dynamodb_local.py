"""The refund record's write rules (contract section 5) against AWS's own DynamoDB engine.

Every rule of `refund_core.poller.records` is a DynamoDB `ConditionExpression`, so the engine
that evaluates them is part of what is tested: each example runs on DynamoDB Local (AWS's engine,
from node_modules) and on moto (`mock_aws`), so a difference between the two shows up as a
failure of one parametrization. The table is `RefundRecordsTable` created from template.yaml.

Then property tests (hypothesis, on DynamoDB Local) check the rules on random observation
streams against a small pure reference model of the rules.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.aws.template import Table
from refund_core.model import Refund, RefundStatus
from refund_core.poller.records import (
    PUBLIC_RECORD_FIELDS,
    RECORD_RETENTION,
    PollingState,
    RefundRecords,
    WriteOutcome,
    WriteResult,
    public_record,
)
from refund_core.timestamps import format_rfc3339
from tests.dynamodb_local import create_table

PROVIDER = "gr4vy"
REFUND_ID = "rf_7c1e"
ARN_A = "arn:aws:states:us-east-1:123456789012:execution:refund-poller:gr4vy-rf_7c1e-0"
ARN_B = "arn:aws:states:us-east-1:123456789012:execution:refund-poller:gr4vy-rf_7c1e-1"
# When the provider answered (fetched_at) and when the answer was stored (checked_at).
T0 = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
# gr4vy's words for each status (contract section 4); unknown is anything unmapped.
PROVIDER_WORDS = {
    RefundStatus.PENDING: "processing",
    RefundStatus.SUCCEEDED: "succeeded",
    RefundStatus.FAILED: "declined",
    RefundStatus.CANCELED: "voided",
    RefundStatus.UNKNOWN: "on_hold",
}
TERMINAL = [RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED]
NON_TERMINAL = [RefundStatus.PENDING, RefundStatus.UNKNOWN]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def refund(
    status: RefundStatus,
    fetched_at: datetime,
    *,
    refund_id: str = REFUND_ID,
    amount: int = 1299,
    updated_at: datetime | None = None,
) -> Refund:
    return Refund(
        provider=PROVIDER,
        refund_id=refund_id,
        status=status,
        provider_status=PROVIDER_WORDS[status],
        amount=amount,
        currency="USD",
        reason="requested_by_customer",
        failure_reason="issuer_declined" if status is RefundStatus.FAILED else None,
        payment_id="0f1b7c1e-pay",
        created_at=T0 - timedelta(hours=1),
        updated_at=updated_at or fetched_at,
        completed_at=fetched_at if status.terminal else None,
        live_mode=False,
        fetched_at=fetched_at,
    )


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --------------------------------------------------------------------------- fixtures


class Feed:
    """Observations fed to `record_observation`, each stored `store_delay` after it was made."""

    def __init__(self, records: RefundRecords, refund_id: str = REFUND_ID) -> None:
        self.records = records
        self.refund_id = refund_id

    def observe(
        self,
        status: RefundStatus,
        seconds: float,
        *,
        checked: float | None = None,
        arn: str | None = ARN_A,
        **fields: Any,
    ) -> WriteOutcome:
        observed = refund(status, at(seconds), refund_id=self.refund_id, **fields)
        checked_at = at(seconds + 1 if checked is None else checked)
        return self.records.record_observation(
            observed, execution_arn=arn, checked_at=checked_at
        ).outcome

    def record(self) -> dict[str, Any]:
        stored = self.records.get(PROVIDER, self.refund_id)
        assert stored is not None
        return stored


@pytest.fixture
def feed(records: RefundRecords) -> Feed:
    return Feed(records)


def statuses(record: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in record.get("history", [])]


# --------------------------------------------------------------------------- the rules, by example


def test_the_first_observation_creates_the_record(feed: Feed) -> None:
    observed = refund(RefundStatus.PENDING, at(0))
    result = feed.records.record_observation(observed, execution_arn=ARN_A, checked_at=at(1))

    assert (result.outcome, result.checks, result.status) == (
        WriteOutcome.CREATED,
        1,
        RefundStatus.PENDING,
    )
    record = feed.record()
    assert record["provider"] == PROVIDER
    assert record["refund_id"] == REFUND_ID
    assert record["refund"] == observed.to_json_dict()
    assert record["status"] == "pending"
    assert record["polling_state"] == "polling"
    assert record["checks"] == 1
    assert record["first_checked_at"] == record["last_checked_at"] == format_rfc3339(at(1))
    assert "settled_at" not in record
    assert record["history"] == [
        {"status": "pending", "provider_status": "processing", "at": format_rfc3339(at(0))}
    ]
    assert record["execution_arn"] == ARN_A
    assert record["expires_at"] == int((at(1) + RECORD_RETENTION).timestamp())


@pytest.mark.parametrize("later", NON_TERMINAL)
@pytest.mark.parametrize("final", TERMINAL)
def test_a_terminal_status_is_never_replaced_by_a_non_terminal_one(
    feed: Feed, final: RefundStatus, later: RefundStatus
) -> None:
    feed.observe(RefundStatus.PENDING, 0)
    feed.observe(final, 10)
    settled = feed.record()

    assert feed.observe(later, 20, checked=21) is WriteOutcome.COUNTED

    record = feed.record()
    assert record["status"] == final.value
    assert record["refund"] == settled["refund"]
    assert record["history"] == settled["history"]
    assert record["polling_state"] == "settled"
    # Kept out, but still a check.
    assert record["checks"] == 3
    assert record["last_checked_at"] == format_rfc3339(at(21))


@pytest.mark.parametrize(
    ("final", "later"),
    [
        (RefundStatus.FAILED, RefundStatus.SUCCEEDED),
        (RefundStatus.CANCELED, RefundStatus.SUCCEEDED),
        (RefundStatus.CANCELED, RefundStatus.FAILED),
        (RefundStatus.SUCCEEDED, RefundStatus.CANCELED),
        (RefundStatus.FAILED, RefundStatus.CANCELED),
    ],
)
def test_a_newer_final_status_replaces_an_older_one(
    feed: Feed, final: RefundStatus, later: RefundStatus
) -> None:
    # The record's refund is the newest normalized refund (contract section 5); only
    # succeeded -> failed is a late failure.
    feed.observe(final, 0)
    result = feed.records.record_observation(
        refund(later, at(10)), execution_arn=ARN_A, checked_at=at(11)
    )
    assert (result.outcome, result.replaced_final) == (WriteOutcome.CHANGED, final)
    record = feed.record()
    assert record["status"] == record["refund"]["status"] == later.value
    assert statuses(record) == [final.value, later.value]
    assert "late_failure" not in record
    assert record["polling_state"] == "settled"
    assert record["checks"] == 2
    # ... but never an older one over it.
    assert feed.observe(final, 5, checked=12) is WriteOutcome.COUNTED
    assert feed.record()["status"] == later.value


def test_unknown_never_replaces_a_known_status_but_still_counts(feed: Feed) -> None:
    feed.observe(RefundStatus.PENDING, 0)
    assert feed.observe(RefundStatus.UNKNOWN, 10, checked=11) is WriteOutcome.COUNTED

    record = feed.record()
    assert record["status"] == "pending"
    assert record["refund"]["fetched_at"] == format_rfc3339(at(0))
    assert statuses(record) == ["pending"]
    assert record["checks"] == 2
    assert record["last_checked_at"] == format_rfc3339(at(11))


def test_unknown_is_stored_until_a_known_status_arrives(feed: Feed) -> None:
    assert feed.observe(RefundStatus.UNKNOWN, 0) is WriteOutcome.CREATED
    assert feed.observe(RefundStatus.UNKNOWN, 5) is WriteOutcome.REFRESHED
    assert feed.observe(RefundStatus.PENDING, 10) is WriteOutcome.CHANGED
    assert feed.observe(RefundStatus.UNKNOWN, 15) is WriteOutcome.COUNTED

    record = feed.record()
    assert record["status"] == "pending"
    assert statuses(record) == ["unknown", "pending"]
    assert record["checks"] == 4


def test_an_older_observation_never_overwrites_a_newer_one(feed: Feed) -> None:
    feed.observe(RefundStatus.PENDING, 20, amount=1500)
    # Late arrivals made earlier: a terminal status, and the same status with other data.
    assert feed.observe(RefundStatus.SUCCEEDED, 10, checked=30) is WriteOutcome.COUNTED
    assert feed.observe(RefundStatus.PENDING, 15, checked=31, amount=1) is WriteOutcome.COUNTED

    record = feed.record()
    assert record["status"] == "pending"
    assert record["refund"]["amount"] == 1500
    assert record["refund"]["fetched_at"] == format_rfc3339(at(20))
    assert statuses(record) == ["pending"]
    assert record["polling_state"] == "polling"
    assert record["checks"] == 3
    assert record["last_checked_at"] == format_rfc3339(at(31))


def test_the_same_observation_twice_is_stored_once_and_counted_twice(feed: Feed) -> None:
    assert feed.observe(RefundStatus.SUCCEEDED, 10) is WriteOutcome.CREATED
    assert feed.observe(RefundStatus.SUCCEEDED, 10, checked=12) is WriteOutcome.COUNTED

    record = feed.record()
    assert statuses(record) == ["succeeded"]
    assert record["checks"] == 2


def test_a_late_failure_after_success_is_kept_and_flagged(feed: Feed) -> None:
    feed.observe(RefundStatus.PENDING, 0)
    feed.observe(RefundStatus.SUCCEEDED, 10, checked=11)
    assert feed.observe(RefundStatus.FAILED, 20, checked=21) is WriteOutcome.LATE_FAILURE

    record = feed.record()
    assert record["status"] == "failed"
    assert record["late_failure"] is True
    assert record["refund"]["status"] == "failed"
    assert record["history"] == [
        {"status": "pending", "provider_status": "processing", "at": format_rfc3339(at(0))},
        {"status": "succeeded", "provider_status": "succeeded", "at": format_rfc3339(at(10))},
        {"status": "failed", "provider_status": "declined", "at": format_rfc3339(at(20))},
    ]
    assert record["polling_state"] == "settled"
    assert record["settled_at"] == format_rfc3339(at(11))  # when it first settled
    # ... and the flag stays once it happened, whatever comes later.
    assert feed.observe(RefundStatus.SUCCEEDED, 30) is WriteOutcome.CHANGED
    assert feed.record()["late_failure"] is True


def test_a_stale_failure_is_not_a_late_failure(feed: Feed) -> None:
    feed.observe(RefundStatus.SUCCEEDED, 10)
    assert feed.observe(RefundStatus.FAILED, 5, checked=20) is WriteOutcome.COUNTED

    record = feed.record()
    assert record["status"] == "succeeded"
    assert "late_failure" not in record
    assert public_record(record)["late_failure"] is False


def test_history_has_one_entry_per_status_change(feed: Feed) -> None:
    assert feed.observe(RefundStatus.PENDING, 0) is WriteOutcome.CREATED
    assert feed.observe(RefundStatus.PENDING, 10, amount=1000) is WriteOutcome.REFRESHED
    assert feed.observe(RefundStatus.UNKNOWN, 15) is WriteOutcome.COUNTED
    assert feed.observe(RefundStatus.PENDING, 20, amount=900) is WriteOutcome.REFRESHED
    assert feed.observe(RefundStatus.SUCCEEDED, 30, amount=900) is WriteOutcome.CHANGED
    assert feed.observe(RefundStatus.SUCCEEDED, 40, amount=900) is WriteOutcome.REFRESHED

    record = feed.record()
    assert record["history"] == [
        {"status": "pending", "provider_status": "processing", "at": format_rfc3339(at(0))},
        {"status": "succeeded", "provider_status": "succeeded", "at": format_rfc3339(at(30))},
    ]
    # A refresh replaces the stored refund with the newer answer of the same status.
    assert record["refund"]["fetched_at"] == format_rfc3339(at(40))
    assert record["refund"]["amount"] == 900


def test_every_observation_counts_and_moves_last_checked_at(feed: Feed) -> None:
    moves = [
        (RefundStatus.PENDING, 0),  # created
        (RefundStatus.PENDING, 10),  # refreshed
        (RefundStatus.UNKNOWN, 20),  # unknown over known: counted
        (RefundStatus.PENDING, 5),  # stale: counted
        (RefundStatus.SUCCEEDED, 30),  # changed
        (RefundStatus.PENDING, 40),  # terminal stays: counted
    ]
    for number, (status, seconds) in enumerate(moves, start=1):
        checked = 100 + number
        feed.observe(status, seconds, checked=checked)
        record = feed.record()
        assert record["checks"] == number
        assert record["last_checked_at"] == format_rfc3339(at(checked))
        assert record["first_checked_at"] == format_rfc3339(at(101))


def test_errors_count_as_checks_and_last_checked_at_never_moves_back(feed: Feed) -> None:
    feed.observe(RefundStatus.PENDING, 0, checked=10)
    checks = feed.records.count_check(
        PROVIDER, REFUND_ID, checked_at=at(20), error_code="provider_unavailable"
    )
    assert checks == 2
    # A check that ended earlier but is stored later (another worker): counted, no clock step back.
    checks = feed.records.count_check(
        PROVIDER, REFUND_ID, checked_at=at(15), error_code="provider_timeout"
    )
    assert checks == 3
    record = feed.record()
    assert record["status"] == "pending"
    assert record["last_checked_at"] == format_rfc3339(at(20))
    assert record["last_error"] == "provider_timeout"


def test_a_terminal_status_settles_the_record_once(feed: Feed) -> None:
    feed.observe(RefundStatus.PENDING, 0)
    record = feed.record()
    assert record["polling_state"] == "polling"
    assert "settled_at" not in record

    feed.observe(RefundStatus.CANCELED, 10, checked=12)
    feed.observe(RefundStatus.CANCELED, 20, checked=22)  # a refresh keeps the first settling
    record = feed.record()
    assert record["polling_state"] == "settled"
    assert record["settled_at"] == format_rfc3339(at(12))
    assert record["expires_at"] == int((at(22) + RECORD_RETENTION).timestamp())


@pytest.mark.parametrize(
    "state", [PollingState.TIMED_OUT, PollingState.NOT_FOUND, PollingState.AUTH_FAILED]
)
def test_mark_polling_state_never_moves_a_settled_record(feed: Feed, state: PollingState) -> None:
    feed.observe(RefundStatus.SUCCEEDED, 0)
    before = feed.record()

    feed.records.mark_polling_state(
        PROVIDER, REFUND_ID, state, at=at(50), execution_arn=ARN_B, error="late"
    )

    assert feed.record() == before


def test_mark_polling_state_moves_an_unsettled_record(feed: Feed) -> None:
    feed.observe(RefundStatus.PENDING, 0)
    feed.records.mark_polling_state(
        PROVIDER, REFUND_ID, PollingState.TIMED_OUT, at=at(50), execution_arn=ARN_A
    )
    record = feed.record()
    assert record["polling_state"] == "timed_out"
    assert record["expires_at"] == int((at(50) + RECORD_RETENTION).timestamp())
    # A later pending answer does not revive it; a final one settles it.
    feed.observe(RefundStatus.PENDING, 60)
    assert feed.record()["polling_state"] == "timed_out"
    feed.observe(RefundStatus.SUCCEEDED, 70)
    assert feed.record()["polling_state"] == "settled"


def test_mark_polling_state_on_a_missing_record_creates_it(feed: Feed) -> None:
    feed.records.mark_polling_state(
        PROVIDER, REFUND_ID, PollingState.NOT_FOUND, at=at(0), error="refund_not_found"
    )
    record = feed.record()
    assert (record["polling_state"], record["last_error"]) == ("not_found", "refund_not_found")
    assert (record["provider"], record["refund_id"]) == (PROVIDER, REFUND_ID)


def test_begin_check_counts_per_execution_and_restarts_for_a_new_one(feed: Feed) -> None:
    begin = feed.records.begin_check
    calls = [begin(PROVIDER, REFUND_ID, poll_id=ARN_A, execution_arn=ARN_A) for _ in range(3)]
    assert calls == [1, 2, 3]
    record = feed.record()
    assert (record["execution_arn"], record["polling_state"]) == (ARN_A, "polling")

    assert begin(PROVIDER, REFUND_ID, poll_id=ARN_B, execution_arn=ARN_B) == 1
    assert begin(PROVIDER, REFUND_ID, poll_id=ARN_B, execution_arn=ARN_B) == 2
    assert feed.record()["execution_arn"] == ARN_B


def test_a_poll_no_execution_owns_counts_its_calls_and_leaves_the_owner_alone(
    feed: Feed,
) -> None:
    """The fleet's polls have an id and no execution: they never write `execution_arn`."""
    begin = feed.records.begin_check
    assert begin(PROVIDER, REFUND_ID, poll_id=ARN_A, execution_arn=ARN_A) == 1
    assert begin(PROVIDER, REFUND_ID, poll_id="fleet-poll-1") == 1
    assert begin(PROVIDER, REFUND_ID, poll_id="fleet-poll-1") == 2
    record = feed.record()
    assert (record["execution_arn"], record["poll_checks"]) == (ARN_A, 2)


def test_begin_check_for_a_refresh_reopens_a_settled_record(feed: Feed) -> None:
    feed.observe(RefundStatus.SUCCEEDED, 0, arn=ARN_A)
    assert feed.records.begin_check(PROVIDER, REFUND_ID, poll_id=ARN_B, execution_arn=ARN_B) == 1
    record = feed.record()
    assert (record["execution_arn"], record["polling_state"]) == (ARN_B, "polling")
    # The refund itself keeps every rule: the refresh poll cannot regress it.
    assert feed.observe(RefundStatus.PENDING, 10, arn=ARN_B) is WriteOutcome.COUNTED
    assert feed.record()["status"] == "succeeded"


def test_public_record_has_the_contract_fields_only(feed: Feed) -> None:
    feed.records.begin_check(PROVIDER, REFUND_ID, poll_id=ARN_A, execution_arn=ARN_A)
    feed.observe(RefundStatus.PENDING, 0)
    feed.observe(RefundStatus.SUCCEEDED, 10)

    public = public_record(feed.record())

    assert list(public) == [*PUBLIC_RECORD_FIELDS, "next_check_at"]
    assert public["next_check_at"] is None  # not in the fleet
    assert public["status"] == public["refund"]["status"] == "succeeded"
    assert public["late_failure"] is False
    assert public["settled_at"] is not None


def test_a_missing_record_reads_as_none(records: RefundRecords) -> None:
    assert records.get(PROVIDER, "never-watched") is None


# --------------------------------------------------------------------------- the reference model


def allowed(current: Observation | None, new: Observation) -> WriteOutcome | None:
    """The write rules as a pure function: what `new` does to a record holding `current`."""
    if current is None:
        return WriteOutcome.CREATED
    if new.fetched_at <= current.fetched_at:  # older (or the same one again): kept out
        return None
    if new.status is current.status:
        return WriteOutcome.REFRESHED
    if (current.status, new.status) == (RefundStatus.SUCCEEDED, RefundStatus.FAILED):
        return WriteOutcome.LATE_FAILURE
    if new.status is RefundStatus.UNKNOWN or (current.status.terminal and not new.status.terminal):
        return None  # never terminal -> non-terminal; never known -> unknown
    return WriteOutcome.CHANGED  # to another known status (terminal -> terminal included)


@dataclass(frozen=True)
class Observation:
    status: RefundStatus
    fetched_at: datetime

    def refund(self, refund_id: str) -> Refund:
        return refund(self.status, self.fetched_at, refund_id=refund_id)


@dataclass
class Model:
    """The record the rules predict, after observations arrive in a given order."""

    current: Observation | None = None
    history: list[Observation] = field(default_factory=list)
    late_failure: bool = False
    settled_at: datetime | None = None
    applied: list[tuple[Observation, WriteOutcome]] = field(default_factory=list)

    def apply(self, new: Observation, checked_at: datetime) -> WriteOutcome:
        outcome = allowed(self.current, new)
        if outcome is None:
            return WriteOutcome.COUNTED
        self.current = new
        self.applied.append((new, outcome))
        if outcome is not WriteOutcome.REFRESHED:
            self.history.append(new)
        if outcome is WriteOutcome.LATE_FAILURE:
            self.late_failure = True
        if new.status.terminal and self.settled_at is None:
            self.settled_at = checked_at
        return outcome

    @classmethod
    def run(cls, arrivals: Sequence[tuple[Observation, datetime]]) -> Model:
        model = cls()
        for observation, checked_at in arrivals:
            model.apply(observation, checked_at)
        return model


def history_entry(observation: Observation) -> dict[str, str]:
    return {
        "status": observation.status.value,
        "provider_status": PROVIDER_WORDS[observation.status],
        "at": format_rfc3339(observation.fetched_at),
    }


def assert_record_matches(record: dict[str, Any], model: Model, refund_id: str) -> None:
    assert model.current is not None
    assert record["status"] == model.current.status.value
    assert record["refund"] == model.current.refund(refund_id).to_json_dict()
    assert record["history"] == [history_entry(o) for o in model.history]
    assert record.get("late_failure", False) is model.late_failure
    if model.settled_at is None:
        assert record["polling_state"] == "polling"
        assert "settled_at" not in record
    else:
        assert record["polling_state"] == "settled"
        assert record["settled_at"] == format_rfc3339(model.settled_at)


# --------------------------------------------------------------------------- properties

STATUSES = st.sampled_from(list(RefundStatus))
# Distinct observation times within ten days, to the microsecond (fetched_at carries them).
OFFSETS_US = st.lists(st.integers(0, 10 * 86_400 * 10**6), min_size=1, max_size=7, unique=True)
# checked_at is when a write happens (check.py passes now()): it grows with arrival order.
CLOCK = T0 + timedelta(days=30)
_refund_ids = itertools.count()

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    # One table for the whole test; each example uses a refund id of its own.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@st.composite
def observation_streams(
    draw: st.DrawFn, *, in_time_order: bool
) -> list[tuple[Observation, datetime]]:
    """Observations with distinct times and random statuses, each arriving once or more.

    `in_time_order`: arrivals sorted by observation time (redeliveries right after the
    original); otherwise any order at all.
    """
    offsets = draw(OFFSETS_US)
    observations = [
        Observation(draw(STATUSES), T0 + timedelta(microseconds=offset)) for offset in offsets
    ]
    redelivered = draw(st.lists(st.sampled_from(observations), max_size=len(observations)))
    arrivals = observations + redelivered
    if in_time_order:
        arrivals.sort(key=lambda o: o.fetched_at)
    else:
        arrivals = list(draw(st.permutations(arrivals)))
    return [(o, CLOCK + timedelta(seconds=n)) for n, o in enumerate(arrivals)]


def feed_all(
    records: RefundRecords, refund_id: str, arrivals: Sequence[tuple[Observation, datetime]]
) -> list[tuple[WriteOutcome, RefundStatus]]:
    results = []
    for observation, checked_at in arrivals:
        result = records.record_observation(
            observation.refund(refund_id), execution_arn=ARN_A, checked_at=checked_at
        )
        results.append((result.outcome, result.status))
    return results


@pytest.fixture
def local_records(dynamodb_local: Any, records_table_definition: Table) -> Iterator[RefundRecords]:
    """`RefundRecords` on a fresh template table in DynamoDB Local."""
    name = create_table(dynamodb_local, records_table_definition)
    yield RefundRecords(dynamodb_local, name)
    dynamodb_local.delete_table(TableName=name)


@PROPERTY_SETTINGS
@given(arrivals=observation_streams(in_time_order=True))
def test_in_time_order_the_record_is_the_newest_observation_the_rules_allow(
    local_records: RefundRecords, arrivals: list[tuple[Observation, datetime]]
) -> None:
    """Observations arriving in time order (each possibly several times in a row).

    The record is then exactly what the reference model predicts applying the rules in
    timestamp order: `status`/`refund` are those of the newest observation the rules let in
    (to another known status, a newer final one over a final one included; never terminal
    -> non-terminal, never known -> unknown); `history` holds one entry per applied status
    change, in order; `checks`
    counts every arrival; `settled_at` is the first terminal write; `late_failure` is set
    exactly when succeeded -> failed happened.
    """
    refund_id = f"ordered-{next(_refund_ids)}"
    outcomes = feed_all(local_records, refund_id, arrivals)
    model = Model()
    expected = [model.apply(o, checked_at) for o, checked_at in arrivals]

    record = local_records.get(PROVIDER, refund_id)
    assert record is not None
    assert [outcome for outcome, _ in outcomes] == expected
    assert_record_matches(record, model, refund_id)
    assert record["checks"] == len(arrivals)
    assert record["first_checked_at"] == format_rfc3339(arrivals[0][1])
    assert record["last_checked_at"] == format_rfc3339(arrivals[-1][1])


@PROPERTY_SETTINGS
@given(arrivals=observation_streams(in_time_order=False))
def test_in_any_arrival_order_the_rules_hold(
    local_records: RefundRecords, arrivals: list[tuple[Observation, datetime]]
) -> None:
    """Observations arriving in any order, some several times.

    The rules are order-sensitive for stale arrivals (pending@t2 then succeeded@t1 leaves
    `pending`, because the older answer is kept out, while time order would give
    `succeeded`), so the final status is NOT always that of the timestamp-order model over
    everything sent. What holds for ANY arrival order:

    1. the observations that were written form a chain with strictly increasing times, and
       the record is exactly the timestamp-order reference model run over that chain (so
       every status it went through was reachable by the rules, and nothing else);
    2. equivalently, it is the reference model run in arrival order (what each arrival did
       is what the rules say, given what was stored when it arrived);
    3. the status never moves from terminal to non-terminal, and never from known to
       unknown, at any step;
    4. `history` times are strictly increasing, consecutive entries differ in status and each
       step is a move the rules allow; no applied status change is ever missing from it and
       its last entry is the current status;
    5. `checks` counts every arrival; `first_checked_at`/`last_checked_at` are the first and
       last arrival's check times; the stored refund is the newest of those written.
    """
    refund_id = f"shuffled-{next(_refund_ids)}"
    outcomes = feed_all(local_records, refund_id, arrivals)
    record = local_records.get(PROVIDER, refund_id)
    assert record is not None

    # 1. The written chain, and the timestamp-order model over it.
    written = [
        (o, checked_at)
        for (o, checked_at), (outcome, _) in zip(arrivals, outcomes, strict=True)
        if outcome is not WriteOutcome.COUNTED
    ]
    times = [o.fetched_at for o, _ in written]
    assert times == sorted(set(times))
    chain = Model.run(sorted(written, key=lambda pair: pair[0].fetched_at))
    assert [outcome for _, outcome in chain.applied] == [
        outcome for outcome, _ in outcomes if outcome is not WriteOutcome.COUNTED
    ]
    assert_record_matches(record, chain, refund_id)

    # 2. The model in arrival order predicts every outcome.
    model = Model()
    assert [outcome for outcome, _ in outcomes] == [model.apply(o, c) for o, c in arrivals]
    assert_record_matches(record, model, refund_id)

    # 3. Status after each arrival: no forbidden move, ever.
    seen = [status for _, status in outcomes]
    for before, after in itertools.pairwise(seen):
        if before.terminal:
            assert after.terminal
        if before is not RefundStatus.UNKNOWN:
            assert after is not RefundStatus.UNKNOWN
    assert seen[-1].value == record["status"]

    # 4. History.
    history = record["history"]
    history_times = [parse(entry["at"]) for entry in history]
    assert history_times == sorted(set(history_times))
    steps = [Observation(RefundStatus(entry["status"]), parse(entry["at"])) for entry in history]
    assert steps[0] == written[0][0]
    for earlier, later in itertools.pairwise(steps):
        assert earlier.status is not later.status
        assert allowed(earlier, later) in (WriteOutcome.CHANGED, WriteOutcome.LATE_FAILURE)
    changes = [
        o
        for (o, _), (outcome, _) in zip(arrivals, outcomes, strict=True)
        if outcome not in (WriteOutcome.COUNTED, WriteOutcome.REFRESHED)
    ]
    assert steps == changes
    assert history[-1]["status"] == record["status"]

    # 5. Counters and the stored refund.
    assert record["checks"] == len(arrivals)
    assert record["first_checked_at"] == format_rfc3339(arrivals[0][1])
    assert record["last_checked_at"] == format_rfc3339(arrivals[-1][1])
    assert parse(record["refund"]["fetched_at"]) == max(times)


def test_racing_writers_cannot_break_the_rules(local_records: RefundRecords) -> None:
    """Eight writers storing 32 observations at once (DynamoDB Local only: moto's in-memory
    backend is not meant for concurrent use). Nothing reads then writes, so whatever the
    interleaving, the written observations form an increasing chain and the record is the
    reference model over that chain, with every observation counted once."""
    rng = random.Random(20261122)
    refund_id = "racing"
    observations = [
        Observation(rng.choice(list(RefundStatus)), T0 + timedelta(milliseconds=n))
        for n in rng.sample(range(100_000), 32)
    ]

    def store(observation: Observation) -> tuple[Observation, WriteResult]:
        checked_at = datetime.now(UTC)
        result = local_records.record_observation(
            observation.refund(refund_id), execution_arn=ARN_A, checked_at=checked_at
        )
        return observation, result

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(store, observations))

    record = local_records.get(PROVIDER, refund_id)
    assert record is not None
    assert record["checks"] == len(observations)
    written = sorted(
        (o for o, result in results if result.outcome is not WriteOutcome.COUNTED),
        key=lambda o: o.fetched_at,
    )
    model = Model()
    for observation in written:
        assert model.apply(observation, T0) is not WriteOutcome.COUNTED
    assert model.current is not None
    assert record["status"] == model.current.status.value
    assert record["refund"] == written[-1].refund(refund_id).to_json_dict()
    assert record["history"] == [history_entry(o) for o in model.history]
    assert record.get("late_failure", False) is model.late_failure
