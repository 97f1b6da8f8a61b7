"""The refund poller (contract sections 5 and 8) as a workflow uses it: executions of the real
ASL in moto's Step Functions, which register with the fleet and wait for its callback; the
fleet's scheduled tick (fired every second), the real watch and provider functions (each in
its own worker process), the provider sandboxes over HTTP and the records in moto's DynamoDB.
The resources all come from template.yaml (devstack.aws.LocalAws).

Waits are shortened through the execution input overrides of contract section 5, as a user
would; nothing in the ASL is edited.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.aws.emulator import LocalAws
from devstack.sandboxes import Sandbox, start_sandbox
from devstack.stack import FAST_POLL_FLOORS, FLEET_TICK_SECONDS

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
FAST = {"first_check_seconds": 1, "max_interval_seconds": 1}
POLLER = "RefundPoller"


@dataclass
class Stack:
    aws: LocalAws
    sandboxes: dict[str, Sandbox]

    def record(self, provider: str, refund_id: str) -> dict[str, Any]:
        from refund_core.poller.records import RefundRecords

        table = next(iter(self.aws.template.tables.values())).name
        found = RefundRecords(self.aws.client("dynamodb"), table).get(provider, refund_id)
        assert found is not None, f"no record for {provider}/{refund_id}"
        return found

    def poll(self, provider: str, refund_id: str, **overrides: Any) -> dict[str, Any]:
        execution_input = {"provider": provider, "refund_id": refund_id, **FAST, **overrides}
        # Named as the watch function would (moto names an unnamed execution "None").
        name = f"{provider}-{refund_id}-{uuid.uuid4().hex[:8]}"
        described = self.aws.run_execution(POLLER, execution_input, name=name, timeout=90)
        return dict(described)


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    providers = ("surecart", "gr4vy", "convergegate")
    sandboxes = {p: start_sandbox(p) for p in providers}
    try:
        with LocalAws(
            TEMPLATE,
            parameter_overrides=FAST_POLL_FLOORS,
            schedule_period_seconds=FLEET_TICK_SECONDS,
        ) as aws:
            for provider, sandbox in sandboxes.items():
                title = {"surecart": "SureCart", "gr4vy": "Gr4vy", "convergegate": "ConvergeGate"}
                aws.put_secret(f"{title[provider]}Secret", sandbox.credentials)
            yield Stack(aws, sandboxes)
    finally:
        for sandbox in sandboxes.values():
            sandbox.stop()


def statuses(record: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in record["history"]]


def assert_clean_cause(described: dict[str, Any]) -> None:
    """A failed execution's cause (what a caller's .sync:2 task receives) is a message for a
    person: no Python stack trace, no file path, no Lambda error JSON."""
    cause = described.get("cause") or ""
    assert cause, described
    for leak in ("stackTrace", "Traceback", ".py", "errorMessage", "/var/task", "/opt/"):
        assert leak not in cause, cause


def test_pending_then_succeeded_ends_with_the_refund_as_output(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(amount=1450, life=["pending", "pending", "succeeded"])
    described = stack.poll("surecart", refund_id)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert (output["status"], output["terminal"], output["amount"]) == ("succeeded", True, 1450)
    assert output["refund_id"] == refund_id
    record = stack.record("surecart", refund_id)
    assert statuses(record) == ["pending", "succeeded"]
    assert record["status"] == "succeeded"
    assert record["polling_state"] == "settled"
    assert record["checks"] == 3
    assert record["settled_at"] is not None
    # Set while the execution waited; gone with the poll (nobody waits any more).
    assert "execution_arn" not in record
    assert "waiters" not in record
    assert sandbox.requests_for(refund_id) == 3


def test_gr4vy_through_the_whole_loop_with_its_signed_tokens(stack: Stack) -> None:
    sandbox = stack.sandboxes["gr4vy"]
    refund_id = sandbox.create_refund(amount=1299, currency="USD", life=["processing", "declined"])
    described = stack.poll("gr4vy", refund_id)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert (output["status"], output["provider_status"]) == ("failed", "declined")
    assert statuses(stack.record("gr4vy", refund_id)) == ["pending", "failed"]


def test_late_failure_is_kept_and_flagged_by_a_refresh_poll(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life=["succeeded", "failed"])
    first = stack.poll("surecart", refund_id)
    assert json.loads(first["output"])["status"] == "succeeded"
    second = stack.poll("surecart", refund_id)
    assert second["status"] == "SUCCEEDED", second
    assert json.loads(second["output"])["status"] == "failed"
    record = stack.record("surecart", refund_id)
    assert record["late_failure"] is True
    assert record["status"] == "failed"
    assert statuses(record) == ["succeeded", "failed"]


def test_a_refresh_poll_stores_a_newer_final_status(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life=["canceled", "succeeded"])
    assert json.loads(stack.poll("surecart", refund_id)["output"])["status"] == "canceled"
    second = stack.poll("surecart", refund_id)
    assert json.loads(second["output"])["status"] == "succeeded"
    record = stack.record("surecart", refund_id)
    assert (record["status"], record["refund"]["status"]) == ("succeeded", "succeeded")
    assert statuses(record) == ["canceled", "succeeded"]
    assert "late_failure" not in record


def test_not_found_fails_after_the_grace_period(stack: Stack) -> None:
    refund_id = f"missing-{uuid.uuid4().hex[:8]}"
    described = stack.poll("surecart", refund_id)
    assert described["status"] == "FAILED"
    assert described["error"] == "RefundNotFound"
    assert_clean_cause(described)
    record = stack.record("surecart", refund_id)
    assert record["polling_state"] == "not_found"
    assert record["checks"] >= 2, "a new refund is looked for more than once"
    assert stack.sandboxes["surecart"].requests_for(refund_id) == record["checks"]


def poll_with_convergegate_secret(
    stack: Stack, refund_id: str, secret: dict[str, Any]
) -> dict[str, Any]:
    """Poll under another ConvergeGate secret, cold functions (as after a deploy), then put
    the sandbox's own secret back."""
    stack.aws.put_secret("ConvergeGateSecret", secret)
    stack.aws.lambdas.stop()
    try:
        return stack.poll("convergegate", refund_id)
    finally:
        stack.aws.put_secret("ConvergeGateSecret", stack.sandboxes["convergegate"].credentials)
        stack.aws.lambdas.stop()


def test_auth_failure_fails_fast(stack: Stack) -> None:
    sandbox = stack.sandboxes["convergegate"]
    refund_id = sandbox.create_refund(life=["pending", "succeeded"])
    before = sandbox.request_count
    described = poll_with_convergegate_secret(
        stack, refund_id, {**sandbox.credentials, "secret_key": "sk_test_wrong"}
    )
    assert described["status"] == "FAILED"
    assert described["error"] == "ProviderAuthFailed"
    assert_clean_cause(described)
    assert sandbox.request_count - before <= 3
    assert stack.record("convergegate", refund_id)["polling_state"] == "auth_failed"


def test_a_malformed_secret_fails_with_its_own_error_name_and_a_clean_cause(
    stack: Stack,
) -> None:
    sandbox = stack.sandboxes["convergegate"]
    refund_id = sandbox.create_refund(life=["pending", "succeeded"])
    described = poll_with_convergegate_secret(stack, refund_id, {"unexpected": "shape"})
    assert described["status"] == "FAILED"
    assert described["error"] == "ConfigurationError"
    assert_clean_cause(described)
    record = stack.record("convergegate", refund_id)
    assert record["polling_state"] == "failed"
    assert record["error"]["code"] == "configuration_error"
    assert record["expires_at"] is not None


def test_a_failed_poll_is_kept_where_a_person_looks_and_can_be_redriven(stack: Stack) -> None:
    """Contract section 9: an asynchronous failure ends in a failed execution (listed by
    status, with its input, error and cause: what `redrive-execution` continues) and in the
    record, which the listing finds; never only in a log line."""
    from refund_core.poller.records import RefundRecords

    sandbox = stack.sandboxes["convergegate"]
    refund_id = sandbox.create_refund(life=["pending", "succeeded"])
    described = poll_with_convergegate_secret(stack, refund_id, {"secret_key": ""})
    sfn = stack.aws.client("stepfunctions")
    machine = stack.aws.template.state_machines[POLLER].arn
    failed = sfn.list_executions(stateMachineArn=machine, statusFilter="FAILED")["executions"]
    assert described["executionArn"] in {e["executionArn"] for e in failed}
    kept = sfn.describe_execution(executionArn=described["executionArn"])
    assert json.loads(kept["input"])["refund_id"] == refund_id
    assert kept["error"] == "ConfigurationError"
    table = next(iter(stack.aws.template.tables.values())).name
    listed, _ = RefundRecords(stack.aws.client("dynamodb"), table).list_records(
        "default", limit=100, polling_state="failed", provider="convergegate"
    )
    assert refund_id in {record["refund_id"] for record in listed}


def test_a_loose_override_in_the_execution_input_fails_the_execution(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life=["pending", "succeeded"])
    described = stack.poll("surecart", refund_id, first_check_seconds="1")
    assert described["status"] == "FAILED"
    assert described["error"] == "InvalidRequest"
    assert sandbox.requests_for(refund_id) == 0
    # null is absent, as in the POST body: the template's default applies.
    described = stack.poll("surecart", refund_id, max_interval_seconds=None)
    assert described["status"] == "SUCCEEDED", described


def test_rate_limits_and_5xx_in_the_middle_never_end_the_poll(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life=["pending", "pending", "succeeded"])
    sandbox.add_fault("rate_limited", refund_id=refund_id, times=1, retry_after=1)
    sandbox.add_fault("service_unavailable", refund_id=refund_id, times=1)
    described = stack.poll("surecart", refund_id)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["status"] == "succeeded"
    record = stack.record("surecart", refund_id)
    assert statuses(record) == ["pending", "succeeded"], "errors never change the status"
    assert record["checks"] == 5
    assert record["last_error"] in ("provider_rate_limited", "provider_unavailable")


def test_the_time_budget_running_out_is_a_named_failure(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life=["pending"])
    described = stack.poll("surecart", refund_id, budget_seconds=3)
    assert described["status"] == "FAILED"
    assert described["error"] == "RefundPollingTimedOut"
    assert_clean_cause(described)
    record = stack.record("surecart", refund_id)
    assert record["polling_state"] == "timed_out"
    assert record["status"] == "pending"


def test_two_starts_at_once_run_one_poller(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life=["pending", "pending", "succeeded"])
    sfn = stack.aws.client("stepfunctions")
    poller_arn = stack.aws.template.state_machines[POLLER].arn
    execution_input = json.dumps({"provider": "surecart", "refund_id": refund_id, **FAST})
    arns: list[str] = []

    def start() -> None:
        answer = sfn.start_execution(
            stateMachineArn=poller_arn, name=f"surecart-{refund_id}", input=execution_input
        )
        arns.append(answer["executionArn"])

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(arns) == 2
    assert arns[0] == arns[1]
    named = [
        e
        for e in sfn.list_executions(stateMachineArn=poller_arn)["executions"]
        if e["name"] == f"surecart-{refund_id}"
    ]
    assert len(named) == 1
    import time

    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arns[0])["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert stack.record("surecart", refund_id)["checks"] == 3
    assert sandbox.requests_for(refund_id) == 3


def test_a_workflow_waits_on_the_poller_with_start_execution_sync(stack: Stack) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life=["pending", "succeeded"])
    sfn = stack.aws.client("stepfunctions")
    poller_arn = stack.aws.template.state_machines[POLLER].arn
    parent = {
        "StartAt": "WaitForRefund",
        "States": {
            "WaitForRefund": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {
                    "StateMachineArn": poller_arn,
                    "Name.$": "States.Format('surecart-{}', $.refund_id)",
                    "Input": {"provider": "surecart", "refund_id.$": "$.refund_id", **FAST},
                },
                "ResultSelector": {"refund.$": "$.Output", "status.$": "$.Status"},
                "End": True,
            }
        },
    }
    parent_arn = sfn.create_state_machine(
        name=f"order-workflow-{uuid.uuid4().hex[:6]}",
        definition=json.dumps(parent),
        roleArn="arn:aws:iam::123456789012:role/order-workflow",
    )["stateMachineArn"]
    described = stack.aws.run_execution(
        parent_arn, {"refund_id": refund_id}, name=f"order-{refund_id}", timeout=90
    )
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["status"] == "SUCCEEDED"
    assert output["refund"]["status"] == "succeeded"
    assert output["refund"]["refund_id"] == refund_id
