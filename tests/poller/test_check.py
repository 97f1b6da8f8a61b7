"""One poller check: what it asks, what it stores, and which error name it gives Step Functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from refund_core.errors import (
    ConfigurationError,
    InvalidRequest,
    ProviderAuthFailed,
    ProviderUnavailable,
    RefundNotFound,
    RefundPollingTimedOut,
)
from refund_core.model import Refund, RefundStatus
from refund_core.poller.check import PollCheckEvent, run_check
from refund_core.poller.records import RefundRecords
from refund_core.poller.schedule import PollSchedule, RefundPending
from refund_core.watch import WatchOverrides
from tests.helpers import create_records_table

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:refund-poller:surecart-r1"


class FakeClients:
    """Stands in for ProviderClients: answers from a script, counts calls."""

    def __init__(self, *answers: RefundStatus | Exception) -> None:
        self.answers = list(answers)
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
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return Refund(
            provider="surecart",
            refund_id=refund_id,
            status=answer,
            provider_status=answer.value,
            amount=1450,
            currency="USD",
            fetched_at=START + timedelta(seconds=self.calls),
        )


@pytest.fixture
def records() -> Iterator[RefundRecords]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        yield RefundRecords(client, create_records_table(client))


def check_event(max_checks: int = 400, **watch: Any) -> PollCheckEvent:
    if "watch_max_checks" in watch:  # a caller trying to raise the template's call budget
        watch["max_checks"] = watch.pop("watch_max_checks")
    return PollCheckEvent.parse(
        {
            "watch": {"provider": "surecart", "refund_id": "re_1", **watch},
            "defaults": {"first_check_seconds": "60", "max_interval_seconds": "21600",
                         "budget_seconds": "2592000", "max_checks": str(max_checks),
                         "not_found_grace_seconds": "300"},
            "execution_arn": ARN,
            "execution_started_at": START.isoformat(),
        }
    )  # fmt: skip


def run(
    records: RefundRecords,
    clients: FakeClients,
    *,
    age: float,
    max_checks: int = 400,
    **watch: Any,
) -> dict[str, Any]:
    return run_check(
        check_event(max_checks, **watch),
        provider="surecart",
        clients=clients,  # type: ignore[arg-type]
        records=records,
        now=lambda: START + timedelta(seconds=age),
        uniform=lambda low, high: high,
    )


def test_pending_names_the_next_wait_and_stores_the_observation(records: RefundRecords) -> None:
    with pytest.raises(RefundPending) as caught:
        run(records, FakeClients(RefundStatus.PENDING), age=0)
    assert type(caught.value).__name__ == "RefundPendingWait60"
    record = records.get("surecart", "re_1")
    assert record is not None
    assert (record["status"], record["polling_state"], record["checks"]) == (
        "pending",
        "polling",
        1,
    )
    assert record["execution_arn"] == ARN
    assert [h["status"] for h in record["history"]] == ["pending"]


def test_final_status_is_the_output_and_settles_the_record(records: RefundRecords) -> None:
    clients = FakeClients(RefundStatus.PENDING, RefundStatus.SUCCEEDED)
    with pytest.raises(RefundPending):
        run(records, clients, age=0)
    output = run(records, clients, age=60)
    assert output["status"] == "succeeded"
    assert output["terminal"] is True
    assert list(output)[:4] == ["provider", "account", "refund_id", "status"]
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "settled"
    assert record["settled_at"] is not None
    assert [h["status"] for h in record["history"]] == ["pending", "succeeded"]
    assert record["checks"] == 2


def test_a_newer_final_status_replaces_the_stored_one_with_a_warning(
    records: RefundRecords, caplog: pytest.LogCaptureFixture
) -> None:
    clients = FakeClients(RefundStatus.CANCELED, RefundStatus.SUCCEEDED)
    assert run(records, clients, age=0)["status"] == "canceled"
    assert run(records, clients, age=60)["status"] == "succeeded"  # a refresh poll
    record = records.get("surecart", "re_1")
    assert record is not None
    assert (record["status"], record["refund"]["status"]) == ("succeeded", "succeeded")
    assert [h["status"] for h in record["history"]] == ["canceled", "succeeded"]
    assert not record.get("late_failure")
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [(w.from_status, w.to_status) for w in warnings] == [("canceled", "succeeded")]


def test_execution_overrides_beat_the_template_defaults(records: RefundRecords) -> None:
    with pytest.raises(RefundPending) as caught:
        run(records, FakeClients(RefundStatus.PENDING), age=0, first_check_seconds=2)
    assert type(caught.value).__name__ == "RefundPendingWait2"


def test_execution_input_cannot_loosen_the_schedule_bounds(records: RefundRecords) -> None:
    event = check_event(watch_max_checks=100_000, age_ratio=0.25, jitter=0.9, first_check_seconds=7)
    assert event.watch.age_ratio == PollSchedule().age_ratio
    assert event.watch.jitter == PollSchedule().jitter
    assert event.watch.max_checks == 400
    assert event.watch.first_check_seconds == 7


def test_a_new_refund_not_found_is_looked_for_again_then_fails(records: RefundRecords) -> None:
    clients = FakeClients(RefundNotFound("no such refund", provider="surecart"))
    with pytest.raises(RefundPending):
        run(records, clients, age=10)
    with pytest.raises(RefundNotFound):
        run(records, clients, age=301)
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "not_found"
    assert record["checks"] == 2
    assert record["last_error"] == "refund_not_found"


def test_a_shortened_run_also_shortens_the_not_found_grace() -> None:
    assert check_event(first_check_seconds=2).watch.not_found_grace_seconds == 6
    assert check_event().watch.not_found_grace_seconds == 300


def test_auth_failure_ends_the_poll_at_once(records: RefundRecords) -> None:
    clients = FakeClients(ProviderAuthFailed("rejected", provider="surecart"))
    with pytest.raises(ProviderAuthFailed):
        run(records, clients, age=0)
    assert clients.calls == 1
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "auth_failed"


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            ConfigurationError("the surecart secret is missing api_token", provider="surecart"),
            "configuration_error",
            "the surecart secret is missing api_token",
        ),
        (
            KeyError("sk_live_do_not_log"),
            "internal_error",
            "unexpected KeyError while checking the refund",
        ),
    ],
)
def test_an_unnamed_failure_marks_the_record_failed_and_still_fails_the_check(
    records: RefundRecords, error: Exception, code: str, message: str
) -> None:
    clients = FakeClients(RefundStatus.PENDING, error)
    with pytest.raises(RefundPending):
        run(records, clients, age=0)
    with pytest.raises(type(error)):
        run(records, clients, age=60)
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "failed"
    assert record["error"] == {
        "code": code,
        "message": message,
        "at": "2026-11-23T10:01:00Z",
    }
    assert record["last_error"] == code
    assert record["expires_at"] > int(START.timestamp())
    assert record["status"] == "pending", "the refund's status is still what was seen"
    assert "sk_live" not in str(record)


def test_a_new_poll_clears_the_previous_polls_failure(records: RefundRecords) -> None:
    with pytest.raises(ConfigurationError):
        run(records, FakeClients(ConfigurationError("no secret", provider="surecart")), age=0)
    new_poll = ARN + "-r1"
    event = check_event().model_copy(update={"execution_arn": new_poll, "poll_id": new_poll})
    with pytest.raises(RefundPending):
        run_check(
            event,
            provider="surecart",
            clients=FakeClients(RefundStatus.PENDING),  # type: ignore[arg-type]
            records=records,
            now=lambda: START,
            uniform=lambda low, high: high,
        )
    record = records.get("surecart", "re_1")
    assert record is not None
    assert (record["polling_state"], record.get("error")) == ("polling", None)


def test_provider_trouble_is_raised_as_is_and_never_changes_the_status(
    records: RefundRecords,
) -> None:
    clients = FakeClients(RefundStatus.PENDING, ProviderUnavailable("502", provider="surecart"))
    with pytest.raises(RefundPending):
        run(records, clients, age=0)
    with pytest.raises(ProviderUnavailable):
        run(records, clients, age=60)
    record = records.get("surecart", "re_1")
    assert record is not None
    assert (record["status"], record["checks"]) == ("pending", 2)
    assert record["last_error"] == "provider_unavailable"


def test_time_budget_ends_the_poll_without_a_provider_call(records: RefundRecords) -> None:
    clients = FakeClients(RefundStatus.PENDING)
    with pytest.raises(RefundPollingTimedOut):
        run(records, clients, age=101, budget_seconds=100)
    assert clients.calls == 0
    record = records.get("surecart", "re_1")
    assert record is not None
    assert record["polling_state"] == "timed_out"


def test_call_budget_allows_exactly_max_checks_calls(records: RefundRecords) -> None:
    clients = FakeClients(RefundStatus.PENDING)
    for second in range(3):
        with pytest.raises(RefundPending):
            run(records, clients, age=second, max_checks=3)
    with pytest.raises(RefundPollingTimedOut):
        run(records, clients, age=4, max_checks=3)
    assert clients.calls == 3


def test_a_wait_never_runs_past_the_budget(records: RefundRecords) -> None:
    with pytest.raises(RefundPending) as caught:
        run(records, FakeClients(RefundStatus.PENDING), age=95, budget_seconds=100)
    assert caught.value.wait_seconds <= 6  # type: ignore[attr-defined]


@pytest.mark.parametrize("found", [True, False])
def test_no_wait_ends_past_the_budget_by_more_than_a_second(
    records: RefundRecords, found: bool
) -> None:
    # Whatever the check saw (pending, or a refund not visible yet), the next check runs at
    # most 1 s after the budget is spent, and that check ends the poll by name.
    answer = RefundStatus.PENDING if found else RefundNotFound("x", provider="surecart")
    for budget in (1, 2, 5, 100, 299, 3_600, 86_400, 30 * 86_400, 360 * 86_400):
        for fraction in (0, 0.1, 0.5, 0.9, 0.99, 0.999_99):
            # (A refund not found is looked for again only within its 300 s grace.)
            age = (budget if found else min(budget, 300)) * fraction
            with pytest.raises(RefundPending) as caught:
                run(records, FakeClients(answer), age=age, budget_seconds=budget,
                    max_checks=100_000)  # fmt: skip
            wait = caught.value.wait_seconds  # type: ignore[attr-defined]
            assert age + wait <= budget + 1, (budget, age, wait)


def test_a_check_for_another_provider_is_refused(records: RefundRecords) -> None:
    event = check_event()
    with pytest.raises(InvalidRequest):
        run_check(event, provider="gr4vy", clients=FakeClients(), records=records)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"watch": "x", "execution_arn": ARN, "execution_started_at": START.isoformat()},
        {"watch": {"provider": "surecart"}, "execution_arn": ARN, "execution_started_at": "x"},
        {"watch": {"provider": "surecart", "refund_id": "r", "first_check_seconds": "soon"},
         "execution_arn": ARN, "execution_started_at": START.isoformat()},
        # A start time without its zone cannot be compared with now.
        {"watch": {"provider": "surecart", "refund_id": "r"}, "execution_arn": ARN,
         "execution_started_at": "2026-11-23T10:00:00"},
        {"watch": {"provider": "surecart", "refund_id": "r"}, "execution_arn": ARN,
         "execution_started_at": "2026-11-23"},
        # No item could hold it (and no ARN is this long or shaped so).
        {"watch": {"provider": "surecart", "refund_id": "r"}, "execution_arn": "a" * 500_000,
         "execution_started_at": START.isoformat()},
        {"watch": {"provider": "surecart", "refund_id": "r"}, "execution_arn": "not-an-arn",
         "execution_started_at": START.isoformat()},
        # Python's json reads Infinity; a shortened run's grace must not overflow on it.
        {"watch": {"provider": "surecart", "refund_id": "r", "first_check_seconds": 5},
         "defaults": {"not_found_grace_seconds": float("inf")},
         "execution_arn": ARN, "execution_started_at": START.isoformat()},
    ],
)  # fmt: skip
def test_malformed_check_events_are_invalid_requests(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        PollCheckEvent.parse(bad)


LAX_SECONDS = ["5", " 7 ", "1_0", True, 5.5, "soon", [5], {"s": 5}]


@pytest.mark.parametrize("value", LAX_SECONDS)
@pytest.mark.parametrize("field", ["first_check_seconds", "max_interval_seconds", "budget_seconds"])
def test_execution_input_overrides_follow_the_post_body_rules(field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest, match=f"watch.{field}"):
        check_event(**{field: value})
    # ... exactly the values the POST body refuses.
    with pytest.raises(ValidationError):
        WatchOverrides.model_validate_json(json.dumps({field: value}))


def test_execution_input_overrides_take_integers_and_null_is_absent() -> None:
    watch = check_event(first_check_seconds=5.0, max_interval_seconds=90, budget_seconds=None).watch
    assert (watch.first_check_seconds, watch.max_interval_seconds) == (5, 90)
    assert watch.budget_seconds == 2_592_000  # the template's default, given as a string
    assert check_event(first_check_seconds=None).watch.not_found_grace_seconds == 300


def test_moto_and_aws_start_time_formats_both_parse() -> None:
    for text in ("2026-11-23T10:00:00.038Z", "2026-11-23T10:00:00.038746+00:00"):
        event = PollCheckEvent.parse(
            {"watch": {"provider": "surecart", "refund_id": "r"}, "execution_arn": ARN,
             "execution_started_at": text}
        )  # fmt: skip
        assert event.execution_started_at.tzinfo is not None


def floored_event(**watch: Any) -> PollCheckEvent:
    return PollCheckEvent.parse(
        {
            "watch": {"provider": "surecart", "refund_id": "re_1", **watch},
            "defaults": {"first_check_seconds": "60", "max_interval_seconds": "21600",
                         "budget_seconds": "2592000", "max_checks": "400",
                         "not_found_grace_seconds": "300",
                         "first_check_floor_seconds": "10", "max_interval_floor_seconds": "60"},
            "execution_arn": ARN,
            "execution_started_at": START.isoformat(),
        }
    )  # fmt: skip


def test_execution_input_under_the_floors_fails_before_any_provider_call() -> None:
    with pytest.raises(InvalidRequest) as caught:
        floored_event(first_check_seconds=9, max_interval_seconds=59)
    assert str(caught.value) == (
        "invalid poll check: below its floor: watch.first_check_seconds (at least 10), "
        "watch.max_interval_seconds (at least 60)"
    )
    watch = floored_event(first_check_seconds=10, max_interval_seconds=60).watch
    assert (watch.first_check_seconds, watch.max_interval_seconds) == (10, 60)
