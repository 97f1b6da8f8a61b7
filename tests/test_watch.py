"""The watch endpoints: one poller per refund, the record, refresh, and the error shapes."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from refund_core.poller.records import PollingState, RefundRecords
from refund_core.providers.registry import PROVIDER_NAMES
from refund_core.watch import Poller, build_watch_handler, execution_name
from tests.helpers import FakeLambdaContext, create_records_table, load_event

ASL = '{"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": true}}}'


@dataclass
class Stack:
    handler: Any
    records: RefundRecords
    sfn: Any
    state_machine_arn: str


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        records = RefundRecords(dynamodb, create_records_table(dynamodb))
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="refund-poller",
            definition=ASL,
            roleArn="arn:aws:iam::123456789012:role/poller",
        )["stateMachineArn"]
        handler = build_watch_handler(records=lambda: records, poller=lambda: Poller(sfn, arn))
        yield Stack(handler, records, sfn, arn)


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


def executions(stack: Stack) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = stack.sfn.list_executions(
        stateMachineArn=stack.state_machine_arn
    )["executions"]
    return listed


def test_post_starts_one_poller_under_a_deterministic_name(stack: Stack) -> None:
    status, body = call(stack, "POST")
    assert status == 202
    assert body["polling_state"] == "polling"
    assert body["execution_arn"].endswith(":surecart-re_1")
    started = executions(stack)
    assert [e["name"] for e in started] == ["surecart-re_1"]
    execution = stack.sfn.describe_execution(executionArn=body["execution_arn"])
    assert json.loads(execution["input"]) == {
        "provider": "surecart",
        "account": "default",
        "refund_id": "re_1",
    }


def test_a_second_post_while_running_starts_nothing(stack: Stack) -> None:
    first = call(stack, "POST")
    second = call(stack, "POST", body=json.dumps({"first_check_seconds": 5}))
    assert first == second
    assert len(executions(stack)) == 1


def test_a_post_while_a_workflow_started_poller_runs_starts_nothing(stack: Stack) -> None:
    # A caller's workflow started the poller under its own name (startExecution.sync:2), and
    # that execution's first check took the record.
    theirs = stack.sfn.start_execution(
        stateMachineArn=stack.state_machine_arn,
        name="order-42-refund",
        input=json.dumps({"provider": "surecart", "refund_id": "re_1"}),
    )["executionArn"]
    stack.records.begin_check("surecart", "re_1", poll_id=theirs, execution_arn=theirs)
    status, body = call(stack, "POST")
    assert (status, body) == (202, {"execution_arn": theirs, "polling_state": "polling"})
    assert [e["name"] for e in executions(stack)] == ["order-42-refund"]
    assert stack.records.get("surecart", "re_1")["execution_arn"] == theirs  # type: ignore[index]


def test_a_post_after_the_owning_execution_ended_starts_a_poller(stack: Stack) -> None:
    theirs = stack.sfn.start_execution(
        stateMachineArn=stack.state_machine_arn, name="order-43-refund", input="{}"
    )["executionArn"]
    stack.records.begin_check("surecart", "re_1", poll_id=theirs, execution_arn=theirs)
    stack.sfn.stop_execution(executionArn=theirs)
    # (moto aborts an execution it runs a moment after the call.)
    deadline = time.monotonic() + 10
    while stack.sfn.describe_execution(executionArn=theirs)["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, body = call(stack, "POST")
    assert status == 202
    assert body["execution_arn"].endswith(":surecart-re_1")
    assert len(executions(stack)) == 2


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
    assert "pk" not in body


def _settle(stack: Stack) -> None:
    from datetime import UTC, datetime

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
    assert len(executions(stack)) == 1


def test_refresh_starts_a_new_poll_under_the_next_name(stack: Stack) -> None:
    call(stack, "POST")
    _settle(stack)
    status, body = call(stack, "POST", query={"refresh": "true"})
    assert status == 202
    assert body["execution_arn"].endswith(":surecart_r1-re_1")
    assert sorted(e["name"] for e in executions(stack)) == ["surecart-re_1", "surecart_r1-re_1"]


def test_a_refreshed_refund_and_an_id_spelled_like_its_new_poll_get_two_pollers(
    stack: Stack,
) -> None:
    # Refund ids may hold `-` and letters: `re_1-r1` must not land on re_1's second poll.
    call(stack, "POST")
    _settle(stack)
    _, refreshed = call(stack, "POST", query={"refresh": "true"})
    status, other = call(stack, "POST", refund_id="re_1-r1")
    assert status == 202
    assert other["execution_arn"] != refreshed["execution_arn"]
    execution = stack.sfn.describe_execution(executionArn=other["execution_arn"])
    assert json.loads(execution["input"])["refund_id"] == "re_1-r1"
    assert len(executions(stack)) == 3


def test_a_poll_that_ended_unsettled_is_restarted_by_a_plain_post(stack: Stack) -> None:
    from datetime import UTC, datetime

    call(stack, "POST")
    stack.sfn.stop_execution(executionArn=executions(stack)[0]["executionArn"])
    stack.records.mark_polling_state(
        "surecart", "re_1", PollingState.TIMED_OUT, at=datetime.now(UTC)
    )
    status, body = call(stack, "POST")
    assert status == 202
    assert body["execution_arn"].endswith(":surecart_r1-re_1")


def test_a_poll_that_failed_is_restarted_by_a_plain_post(stack: Stack) -> None:
    from datetime import UTC, datetime

    _, first = call(stack, "POST")
    stack.sfn.stop_execution(executionArn=first["execution_arn"])
    stack.records.mark_polling_state(
        "surecart",
        "re_1",
        PollingState.FAILED,
        at=datetime.now(UTC),
        execution_arn=first["execution_arn"],
        error="configuration_error",
        message="the surecart secret is missing",
    )
    status, record = call(stack, "GET")
    assert (status, record["polling_state"]) == (200, "failed")
    assert record["error"]["code"] == "configuration_error"
    status, body = call(stack, "POST")
    assert status == 202
    assert body["execution_arn"].endswith(":surecart_r1-re_1")


def test_overrides_in_the_body_reach_the_execution_input(stack: Stack) -> None:
    overrides = {"first_check_seconds": 1, "max_interval_seconds": 2, "budget_seconds": 60}
    # 60.0 is an integer to JSON Schema, and arrives as one.
    _, body = call(stack, "POST", body=json.dumps(overrides | {"budget_seconds": 60.0}))
    execution = stack.sfn.describe_execution(executionArn=body["execution_arn"])
    assert json.loads(execution["input"]) == {
        "provider": "surecart",
        "account": "default",
        "refund_id": "re_1",
        **overrides,
    }


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"first_check_seconds": 9}, "first_check_seconds (at least 10)"),
        ({"max_interval_seconds": 1}, "max_interval_seconds (at least 60)"),
    ],
)
def test_overrides_under_the_floors_are_400_and_start_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, int], named: str
) -> None:
    monkeypatch.setenv("POLL_MIN_FIRST_CHECK_SECONDS", "10")
    monkeypatch.setenv("POLL_MIN_INTERVAL_SECONDS", "60")
    status, answer = call(stack, "POST", body=json.dumps(overrides))
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
    assert answer["error"]["message"] == f"invalid watch body: below its floor: {named}"
    assert executions(stack) == []
    # At the floor is allowed.
    status, _ = call(stack, "POST", body='{"first_check_seconds": 10, "max_interval_seconds": 60}')
    assert status == 202


def test_a_malformed_floor_is_a_configuration_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLL_MIN_INTERVAL_SECONDS", "soon")
    status, answer = call(stack, "POST", body='{"max_interval_seconds": 120}')
    assert (status, answer["error"]["code"]) == (500, "configuration_error")
    assert executions(stack) == []


def test_a_base64_body_is_read_as_api_gateway_marks_it(stack: Stack) -> None:
    overrides = {"first_check_seconds": 5}
    encoded = base64.b64encode(json.dumps(overrides).encode()).decode()
    status, body = call(stack, "POST", body=encoded, base64_body=True)
    assert status == 202
    execution = stack.sfn.describe_execution(executionArn=body["execution_arn"])
    assert json.loads(execution["input"])["first_check_seconds"] == 5


@pytest.mark.parametrize("encoded", ["abc", base64.b64encode(b"\xff\xfe").decode()])
def test_a_body_marked_base64_that_is_not_is_400(stack: Stack, encoded: str) -> None:
    status, answer = call(stack, "POST", body=encoded, base64_body=True)
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
    assert executions(stack) == []


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
def test_a_bad_body_is_400_and_starts_nothing(stack: Stack, body: str) -> None:
    status, answer = call(stack, "POST", body=body)
    assert (status, answer["error"]["code"]) == (400, "invalid_request")
    assert executions(stack) == []


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
    assert executions(stack) == []


def test_wrong_method_is_405(stack: Stack) -> None:
    status, body = call(stack, "DELETE")
    assert (status, body["error"]["code"]) == (405, "method_not_allowed")


REFUND_IDS = st.text(
    alphabet="abcdefABCDEF0123456789_-r", min_size=1, max_size=128
)  # the id alphabet, weighted towards what the name forms themselves use


# Account ids (contract section 6), weighted towards `default` and the name forms' own letters.
ACCOUNTS = st.one_of(
    st.just("default"),
    st.sampled_from(["a", "r0", "h", "store-42", "default-2"]),
    st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", fullmatch=True),
)
POLLS = st.tuples(st.sampled_from(PROVIDER_NAMES), REFUND_IDS, st.integers(0, 12), ACCOUNTS)


@settings(max_examples=600, deadline=None)
@given(first=POLLS, second=POLLS)
def test_two_different_polls_never_share_an_execution_name(
    first: tuple[str, str, int, str], second: tuple[str, str, int, str]
) -> None:
    names = execution_name(*first), execution_name(*second)
    for name in names:
        # Step Functions' limit, and the alphabet that keeps the execution's CloudWatch logs on.
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", name), name
    assert (names[0] == names[1]) == (first == second)


# What a 128-character id is named by, as an id of its own.
LONG_ID_DIGEST = hashlib.sha256(b"gr4vy:" + b"x" * 128).hexdigest()[:40]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("surecart", "re_1", 1), ("surecart", "re_1-r1", 0)),
        (("surecart", "r1-re_1", 0), ("surecart", "re_1", 1)),
        (
            ("gr4vy", "x" * 128, 0),
            ("gr4vy", hashlib.sha256(b"gr4vy:" + b"x" * 128).hexdigest()[:40], 0),
        ),
        (("shoplazza", "y" * 100, 2), ("shoplazza", "y" * 100, 12)),
        # An account's refund, and the default account's refund named like it.
        (("surecart", "re_1", 0, "store-42"), ("surecart", "_astore-42_r0-re_1", 0)),
        (("surecart", "re_1", 0, "store-42"), ("surecart", "re_1", 0, "default")),
        (("gr4vy", "x" * 128, 0, "a"), ("gr4vy", "x" * 128, 0)),
    ],
)
def test_names_that_once_could_meet_are_apart(
    first: tuple[Any, ...], second: tuple[Any, ...]
) -> None:
    assert execution_name(*first) != execution_name(*second)


def test_long_ids_still_get_a_valid_deterministic_name() -> None:
    name = execution_name("shoplazza", "x" * 128, 3)
    assert len(name) <= 80
    assert name == execution_name("shoplazza", "x" * 128, 3)
    assert name != execution_name("shoplazza", "x" * 127 + "y", 3)
