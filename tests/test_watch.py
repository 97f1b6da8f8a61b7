"""The watch endpoints (contract sections 5 and 8): one fleet registration per poll, the
record, refresh, and the error shapes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refund_core.fleet.registry import DueRefund, FleetRegistry
from refund_core.poller.records import PollingState, RefundRecords
from refund_core.watch import build_watch_handler
from tests.helpers import FakeLambdaContext, create_records_table, load_event


@dataclass
class Stack:
    handler: Any
    records: RefundRecords
    fleet: FleetRegistry


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        records = RefundRecords(dynamodb, create_records_table(dynamodb))
        fleet = FleetRegistry(dynamodb, records.table_name)
        handler = build_watch_handler(records=lambda: records, fleet=lambda: fleet)
        yield Stack(handler, records, fleet)


def call(
    stack: Stack,
    method: str,
    provider: str = "surecart",
    refund_id: str = "re_1",
    *,
    query: dict[str, str] | None = None,
    body: str | None = None,
    base64_body: bool = False,
) -> tuple[int, dict[str, Any]]:
    event = load_event("surecart", "get_refund") | {
        "isBase64Encoded": base64_body,
        "httpMethod": method,
        "resource": "/refunds/{provider}/{refund_id}/watch",
        "path": f"/refunds/{provider}/{refund_id}/watch",
        "pathParameters": {"provider": provider, "refund_id": refund_id},
        "queryStringParameters": query,
        "body": body,
    }
    result = stack.handler(event, FakeLambdaContext())
    return result["statusCode"], json.loads(result["body"])


def queued(stack: Stack, provider: str = "surecart") -> list[DueRefund]:
    """What the default account's fleet queue holds (due any time today)."""
    later = datetime.now(UTC) + timedelta(days=1)
    due, _ = stack.fleet.due(provider, "default", now=later, limit=100)
    return due


def test_post_registers_the_refund_with_the_fleet_due_now(stack: Stack) -> None:
    before = datetime.now(UTC)
    status, body = call(stack, "POST")

    assert status == 202
    assert set(body) == {"polling_state", "next_check_at"}  # no execution: there is none
    assert body["polling_state"] == "polling"
    due_at = datetime.fromisoformat(body["next_check_at"])
    assert before - timedelta(seconds=1) <= due_at <= datetime.now(UTC)
    (due,) = queued(stack)
    assert (due.refund_id, due.account, dict(due.overrides)) == ("re_1", "default", {})
    record = stack.records.get("surecart", "re_1")
    assert record is not None
    assert record.get("execution_arn") is None  # nobody's execution waits on it


def test_a_second_post_while_polled_registers_nothing_and_answers_the_same(
    stack: Stack,
) -> None:
    first = call(stack, "POST")
    second = call(stack, "POST", body=json.dumps({"first_check_seconds": 5}))
    assert first == second
    (due,) = queued(stack)
    assert dict(due.overrides) == {}  # the standing poll's, not the second caller's


def test_get_answers_the_record_and_404_before_any_watch(stack: Stack) -> None:
    status, body = call(stack, "GET")
    assert status == 404
    assert body["error"]["code"] == "watch_not_found"
    call(stack, "POST")
    status, body = call(stack, "GET")
    assert status == 200
    assert body["provider"] == "surecart"
    assert body["refund_id"] == "re_1"
    assert body["polling_state"] == "polling"
    assert body["checks"] == 0
    assert body["history"] == []
    assert body["next_check_at"] is not None
    assert "pk" not in body
    assert "due_queue" not in body


def _settle(stack: Stack) -> None:
    from refund_core.model import Refund

    refund = Refund(
        provider="surecart",
        refund_id="re_1",
        status="succeeded",
        provider_status="succeeded",
        fetched_at=datetime.now(UTC),
    )
    stack.records.record_observation(refund, execution_arn=None, checked_at=datetime.now(UTC))


def test_a_settled_refund_answers_200_and_polls_nothing(stack: Stack) -> None:
    call(stack, "POST")
    _settle(stack)
    status, body = call(stack, "POST")
    assert status == 200
    assert body["status"] == "succeeded"
    assert body["polling_state"] == "settled"
    assert len(queued(stack)) == 1  # still the one registration (no batch ran here)


def _retire(stack: Stack, state: PollingState | None = None) -> DueRefund:
    """What a batch does once a poll ends: the poll's state on the record, out of the queue."""
    (due,) = queued(stack)
    if state is not None:
        stack.records.mark_polling_state(
            "surecart", "re_1", state, at=datetime.now(UTC), poll_id=due.poll_id, code="x"
        )
    stack.fleet.retire(due)
    return due


def test_refresh_registers_a_new_poll(stack: Stack) -> None:
    call(stack, "POST")
    _settle(stack)
    first = _retire(stack)
    status, body = call(stack, "POST", query={"refresh": "true"})
    assert (status, body["polling_state"]) == (202, "polling")
    (again,) = queued(stack)
    assert again.poll_id != first.poll_id


@pytest.mark.parametrize("state", [PollingState.TIMED_OUT, PollingState.NOT_FOUND])
def test_a_poll_that_ended_unsettled_is_registered_again_by_a_plain_post(
    stack: Stack, state: PollingState
) -> None:
    call(stack, "POST")
    first = _retire(stack, state)
    status, body = call(stack, "POST")
    assert (status, body["polling_state"]) == (202, "polling")
    (again,) = queued(stack)
    assert again.poll_id != first.poll_id


def test_a_poll_that_failed_is_registered_again_by_a_plain_post(stack: Stack) -> None:
    call(stack, "POST")
    (due,) = queued(stack)
    stack.records.mark_polling_state(
        "surecart",
        "re_1",
        PollingState.FAILED,
        at=datetime.now(UTC),
        poll_id=due.poll_id,
        error="configuration_error",
        message="the surecart secret is missing",
    )
    stack.fleet.retire(due)
    status, record = call(stack, "GET")
    assert (status, record["polling_state"]) == (200, "failed")
    assert record["error"]["code"] == "configuration_error"
    assert record["next_check_at"] is None
    status, body = call(stack, "POST")
    assert (status, body["polling_state"]) == (202, "polling")
    status, record = call(stack, "GET")
    assert record["error"] is None  # the new poll's record starts without the old failure


def test_a_record_an_older_poller_execution_left_polling_is_taken_over(stack: Stack) -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:refund-poller:surecart-re_1"
    stack.records.begin_check("surecart", "re_1", poll_id=arn, execution_arn=arn)
    status, body = call(stack, "POST")
    assert (status, body["polling_state"]) == (202, "polling")
    assert [d.refund_id for d in queued(stack)] == ["re_1"]


def test_overrides_in_the_body_reach_the_fleets_checks(stack: Stack) -> None:
    overrides = {"first_check_seconds": 1, "max_interval_seconds": 2, "budget_seconds": 60}
    # 60.0 is an integer to JSON Schema, and arrives as one.
    call(stack, "POST", body=json.dumps(overrides | {"budget_seconds": 60.0}))
    (due,) = queued(stack)
    assert dict(due.overrides) == overrides


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"first_check_seconds": 9}, "first_check_seconds (at least 10)"),
        ({"max_interval_seconds": 1}, "max_interval_seconds (at least 60)"),
    ],
)
def test_overrides_under_the_floors_are_400_and_register_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, int], named: str
) -> None:
    monkeypatch.setenv("POLL_MIN_FIRST_CHECK_SECONDS", "10")
    monkeypatch.setenv("POLL_MIN_INTERVAL_SECONDS", "60")
    status, answer = call(stack, "POST", body=json.dumps(overrides))
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
    assert answer["error"]["message"] == f"invalid watch body: below its floor: {named}"
    assert queued(stack) == []
    # At the floor is allowed.
    status, _ = call(stack, "POST", body='{"first_check_seconds": 10, "max_interval_seconds": 60}')
    assert status == 202


def test_a_malformed_floor_is_a_configuration_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_MIN_INTERVAL_SECONDS", "soon")
    status, answer = call(stack, "POST", body='{"max_interval_seconds": 120}')
    assert (status, answer["error"]["code"]) == (500, "configuration_error")
    assert queued(stack) == []


def test_a_base64_body_is_read_as_api_gateway_marks_it(stack: Stack) -> None:
    overrides = {"first_check_seconds": 5}
    encoded = base64.b64encode(json.dumps(overrides).encode()).decode()
    status, _ = call(stack, "POST", body=encoded, base64_body=True)
    assert status == 202
    (due,) = queued(stack)
    assert dict(due.overrides) == {"first_check_seconds": 5}


@pytest.mark.parametrize("encoded", ["abc", base64.b64encode(b"\xff\xfe").decode()])
def test_a_body_marked_base64_that_is_not_is_400(stack: Stack, encoded: str) -> None:
    status, answer = call(stack, "POST", body=encoded, base64_body=True)
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
    assert queued(stack) == []


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"first_check_seconds": 0}',
        '{"unknown": 1}',
        '{"budget_seconds": 31536000}',  # a year: Step Functions would end it as TIMED_OUT
        '{"budget_seconds": 31104001}',
    ],
)
def test_a_bad_body_is_400_and_registers_nothing(stack: Stack, body: str) -> None:
    status, answer = call(stack, "POST", body=body)
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
    assert queued(stack) == []


@pytest.mark.parametrize(
    ("provider", "refund_id", "status", "code"),
    [
        ("stripe", "re_1", 404, "route_not_found"),
        ("surecart", "../x", 400, "invalid_refund_id"),
        ("surecart", "a" * 129, 400, "invalid_refund_id"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_providers_and_ids_get_the_section_4_errors(
    stack: Stack, method: str, provider: str, refund_id: str, status: int, code: str
) -> None:
    answer_status, answer = call(stack, method, provider, refund_id)
    assert (answer_status, answer["error"]["code"]) == (status, code)
    assert queued(stack) == []


def test_wrong_method_is_405(stack: Stack) -> None:
    status, body = call(stack, "DELETE")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")


# --- the refund poller's wait (startExecution.sync:2): the same function, another event ----

ARN = "arn:aws:states:us-east-1:123456789012:execution:refund-status-refund-poller:run-1"


def wait(stack: Stack, watch: Any, token: str = "token-1") -> dict[str, Any]:  # noqa: S107
    event = {"fleet_wait": {"watch": watch, "task_token": token, "execution_arn": ARN}}
    answer: dict[str, Any] = stack.handler(event, FakeLambdaContext())
    return answer


def test_a_waiting_execution_registers_the_refund_with_its_token(stack: Stack) -> None:
    given = {"provider": "surecart", "refund_id": "re_1", "first_check_seconds": 15, "x": "caller"}
    assert wait(stack, given) == {"waiting": True, "registered": True}
    (due,) = queued(stack)
    assert dict(due.overrides) == {"first_check_seconds": 15}  # the caller's own keys: ignored
    record = stack.records.get("surecart", "re_1")
    assert record is not None
    assert record["execution_arn"] == ARN
    assert [w["token"] for w in record["waiters"]] == ["token-1"]
    # A POST now answers the same poll; a second execution joins it.
    status, body = call(stack, "POST")
    assert (status, body["polling_state"]) == (202, "polling")
    assert wait(stack, given, "token-2") == {"waiting": True, "registered": False}
    assert len(queued(stack)) == 1


def test_a_waiting_execution_joins_a_poll_a_post_registered(stack: Stack) -> None:
    call(stack, "POST")
    assert wait(stack, {"provider": "surecart", "refund_id": "re_1"}) == {
        "waiting": True,
        "registered": False,
    }


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({"provider": "stripe", "refund_id": "re_1"}, "InvalidRequest"),
        ({"refund_id": "re_1"}, "InvalidRequest"),
        ("not an object", "InvalidRequest"),
        ({"provider": "surecart", "refund_id": "re_1", "budget_seconds": True}, "InvalidRequest"),
        ({"provider": "surecart", "refund_id": "a" * 129}, "InvalidRefundId"),
        ({"provider": "surecart", "refund_id": "re_1", "account": "A B"}, "InvalidAccountId"),
    ],
)
def test_a_bad_poller_input_is_refused_by_name_and_registers_nothing(
    stack: Stack, given: Any, error: str
) -> None:
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the class name is the point
        wait(stack, given)
    assert type(refused.value).__name__ == error
    assert queued(stack) == []


def test_a_poller_input_under_the_floors_is_refused(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_MIN_FIRST_CHECK_SECONDS", "10")
    with pytest.raises(Exception, match="below its floor: first_check_seconds") as refused:
        wait(stack, {"provider": "surecart", "refund_id": "re_1", "first_check_seconds": 1})
    assert type(refused.value).__name__ == "InvalidRequest"
    assert queued(stack) == []
