"""End to end over real HTTP: the local gateway, the real handlers in their own processes,
moto's Step Functions and DynamoDB, the provider sandboxes."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devstack.gateway import LocalApiGateway
from devstack.stack import PROVIDERS, LocalStack

LIVES = {
    "convergegate": ("pending", "succeeded", "failed", "canceled"),
    "surecart": ("pending", "succeeded", "failed", "canceled"),
    "gr4vy": ("processing", "succeeded", "declined", "voided"),
    "shoplazza": ("processing", "succeeded", "failed"),
}
EXPECTED = {
    "pending": "pending", "processing": "pending", "succeeded": "succeeded",
    "failed": "failed", "declined": "failed", "canceled": "canceled", "voided": "canceled",
}  # fmt: skip
FAST = {"first_check_seconds": 1, "max_interval_seconds": 1, "budget_seconds": 30}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_status_through_the_gateway(
    stack: LocalStack, api: httpx.Client, provider: str
) -> None:
    for word in LIVES[provider]:
        refund_id = stack.sandboxes[provider].create_refund(amount=1000, life=word)
        answer = api.get(f"/refunds/{provider}/{refund_id}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/json"
        body = answer.json()
        assert (body["provider_status"], body["status"]) == (word, EXPECTED[word])
        assert body["refund_id"] == refund_id


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("not_found", 404, "refund_not_found"),
        ("unauthorized", 502, "provider_auth_failed"),
        ("rate_limited", 503, "provider_rate_limited"),
        ("service_unavailable", 502, "provider_unavailable"),
        ("drop_connection", 504, "provider_timeout"),
        ("html", 502, "provider_bad_response"),
    ],
)
def test_the_error_table_through_the_gateway(
    stack: LocalStack, api: httpx.Client, fault: str, status: int, code: str
) -> None:
    sandbox = stack.sandboxes["surecart"]
    refund_id = sandbox.create_refund(life="pending")
    sandbox.add_fault(fault, refund_id=refund_id, retry_after=3)
    answer = api.get(f"/refunds/surecart/{refund_id}")
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert answer.headers["content-type"] == "application/json"
    if status == 503:
        assert answer.headers["retry-after"] == "3"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/refunds/gr4vy/bad.id", 400, "invalid_refund_id"),
        ("GET", "/refunds/gr4vy/" + "a" * 129, 400, "invalid_refund_id"),
        ("DELETE", "/refunds/gr4vy/abc", 405, "method_not_allowed"),
        ("GET", "/refunds/stripe/abc", 404, "route_not_found"),
        ("GET", "/refunds/gr4vy/", 404, "route_not_found"),
        ("GET", "/refunds/gr4vy/a/b", 404, "route_not_found"),
        ("GET", "/nothing-here", 404, "route_not_found"),
        ("GET", "/refunds/stripe/abc/watch", 404, "route_not_found"),
    ],
)
def test_bad_requests_get_the_error_shape(
    api: httpx.Client, method: str, path: str, status: int, code: str
) -> None:
    answer = api.request(method, path)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == code


def test_a_watched_refund_reaches_succeeded_in_dynamodb(
    stack: LocalStack, api: httpx.Client
) -> None:
    refund_id = stack.sandboxes["gr4vy"].create_refund(
        amount=1299, life=["processing", "processing", "succeeded"]
    )
    started = api.post(f"/refunds/gr4vy/{refund_id}/watch", json=FAST)
    assert started.status_code == 202
    assert started.json()["polling_state"] == "polling"
    # A second POST registers nothing: it answers the poll that stands (or, if the fleet
    # was quicker, the settled record).
    again = api.post(f"/refunds/gr4vy/{refund_id}/watch", json=FAST)
    if again.status_code == 202:
        assert again.json()["polling_state"] == "polling"
        assert again.json()["next_check_at"] >= started.json()["next_check_at"]
    record = _wait_for(api, "gr4vy", refund_id)
    assert record["status"] == "succeeded"
    assert record["refund"]["amount"] == 1299
    assert [h["status"] for h in record["history"]] == ["pending", "succeeded"]
    # The table itself, as another service would read it.
    assert stack.aws is not None
    table = stack.aws.template.tables["RefundRecordsTable"].name
    item = stack.aws.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": f"gr4vy#{refund_id}"}}
    )["Item"]
    assert item["status"]["S"] == "succeeded"
    assert item["polling_state"]["S"] == "settled"
    settled = api.post(f"/refunds/gr4vy/{refund_id}/watch")
    assert settled.status_code == 200
    assert settled.json()["status"] == "succeeded"
    # The listing finds it by its filters (the index), with its whole record (read by key).
    listed = api.get("/refunds", params={"provider": "gr4vy", "status": "succeeded"}).json()
    (found,) = [r for r in listed["records"] if r["refund_id"] == refund_id]
    assert found == api.get(f"/refunds/gr4vy/{refund_id}/watch").json()


def test_a_workflow_waits_on_the_poller_with_start_execution_sync(stack: LocalStack) -> None:
    assert stack.aws is not None
    refund_id = stack.sandboxes["shoplazza"].create_refund(
        amount=5000, currency="JPY", life=["processing", "succeeded"]
    )
    poller = stack.aws.template.state_machines["RefundPoller"].arn
    sfn = stack.aws.client("stepfunctions")
    parent = sfn.create_state_machine(
        name="ship-after-refund",
        roleArn="arn:aws:iam::123456789012:role/ship-after-refund",
        definition=json.dumps(
            {
                "StartAt": "WaitForRefund",
                "States": {
                    "WaitForRefund": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::states:startExecution.sync:2",
                        "Parameters": {
                            "StateMachineArn": poller,
                            "Name.$": "States.Format('shoplazza-{}', $.refund_id)",
                            "Input": {
                                "provider": "shoplazza",
                                "refund_id.$": "$.refund_id",
                                **FAST,
                            },
                        },
                        "OutputPath": "$.Output",
                        "End": True,
                    }
                },
            }
        ),
    )["stateMachineArn"]
    described = stack.aws.run_execution(
        parent, {"refund_id": refund_id}, name=f"ship-{refund_id}", timeout=60
    )
    assert described["status"] == "SUCCEEDED", described
    refund = json.loads(described["output"])
    assert (refund["status"], refund["amount"], refund["currency"]) == ("succeeded", 5000, "JPY")
    # The poller's own execution: a few transitions, whatever the refund's duration.
    (child,) = [
        e
        for e in sfn.list_executions(stateMachineArn=poller)["executions"]
        if e["name"] == f"shoplazza-{refund_id}"
    ]
    history = sfn.get_execution_history(executionArn=child["executionArn"])["events"]
    entered = [e for e in history if e["type"].endswith("StateEntered")]
    assert 1 <= len(entered) <= 8, [e["type"] for e in history]


def _poller_run(stack: LocalStack, execution_input: dict[str, Any]) -> Any:
    assert stack.aws is not None
    # (Named: moto names every unnamed execution "None", and a second one is refused.)
    name = f"poll-{uuid.uuid4()}"
    return stack.aws.run_execution("RefundPoller", execution_input, name=name, timeout=60)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_providers_batch_answers_a_waiting_execution(stack: LocalStack, provider: str) -> None:
    """Every provider function's batch tells the executions waiting on the polls it ends:
    the refund when final (SendTaskSuccess), the named error when not (SendTaskFailure)."""
    refund_id = stack.sandboxes[provider].create_refund(amount=900, life="succeeded")
    described = _poller_run(stack, {"provider": provider, "refund_id": refund_id, **FAST})
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["refund_id"] == refund_id
    missing = _poller_run(
        stack, {"provider": provider, "refund_id": f"no-such-refund-sync-{provider}", **FAST}
    )
    assert (missing["status"], missing.get("error")) == ("FAILED", "RefundNotFound"), missing


def test_the_poller_fails_with_the_polls_named_error(stack: LocalStack) -> None:
    described = _poller_run(
        stack, {"provider": "gr4vy", "refund_id": "no-such-refund-sync", **FAST}
    )
    assert described["status"] == "FAILED", described
    assert described["error"] == "RefundNotFound"
    assert "not-found grace period" in described.get("cause", ""), sorted(described.items())


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({"provider": "stripe", "refund_id": "r1"}, "InvalidRequest"),
        ({"refund_id": "r1"}, "InvalidRequest"),
        ({"provider": "gr4vy", "refund_id": "r1", "first_check_seconds": "5"}, "InvalidRequest"),
        ({"provider": "gr4vy", "refund_id": "has/slash"}, "InvalidRefundId"),
        ({"provider": "gr4vy", "refund_id": "r1", "account": "store_a"}, "InvalidAccountId"),
        ({"provider": "gr4vy", "refund_id": "r1", "account": "store-zz"}, "AccountNotFound"),
    ],
)
def test_a_bad_poller_input_fails_by_name_before_any_poll(
    stack: LocalStack, api: httpx.Client, given: dict[str, Any], error: str
) -> None:
    described = _poller_run(stack, given)
    assert described["status"] == "FAILED", described
    assert described["error"] == error, described
    account = given.get("account", "default")
    if given.get("provider") == "gr4vy" and error != "InvalidAccountId":
        # Nothing was registered: no record.
        path = f"/accounts/{account}/refunds/gr4vy/{given['refund_id']}/watch"
        assert api.get(path).status_code in (400, 404)


def test_two_executions_wait_on_one_poll(stack: LocalStack, api: httpx.Client) -> None:
    """A second execution joins the poll the first registered: one poll, both told."""
    assert stack.aws is not None
    refund_id = stack.sandboxes["surecart"].create_refund(
        amount=700, life=["pending", "pending", "pending", "succeeded"]
    )
    sfn = stack.aws.client("stepfunctions")
    poller = stack.aws.template.state_machines["RefundPoller"].arn
    given = json.dumps({"provider": "surecart", "refund_id": refund_id, **FAST})
    arns = [sfn.start_execution(stateMachineArn=poller, input=given)["executionArn"]]
    time.sleep(0.5)
    arns.append(sfn.start_execution(stateMachineArn=poller, input=given)["executionArn"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described = [sfn.describe_execution(executionArn=arn) for arn in arns]
        if all(d["status"] != "RUNNING" for d in described):
            break
        time.sleep(0.3)
    assert [d["status"] for d in described] == ["SUCCEEDED", "SUCCEEDED"], described
    assert all(json.loads(d["output"])["status"] == "succeeded" for d in described)
    record = api.get(f"/refunds/surecart/{refund_id}/watch").json()
    # One poll: the sandbox's life took four checks, not eight; nobody waits any more.
    assert record["checks"] == 4, record
    assert (record["execution_arn"], record["next_check_at"]) == (None, None)


def test_an_oversized_body_is_refused_and_the_stack_keeps_serving(
    stack: LocalStack, api: httpx.Client
) -> None:
    answer = api.post("/refunds/gr4vy/abc/watch", content=b"x" * (10 * 1024 * 1024 + 1))
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/json"
    # The gateway closes after a refused body, and says so: a keep-alive client must not send
    # its next request into that socket.
    assert answer.headers["connection"] == "close"
    huge_header = {"X-Filler": "y" * 20_000}
    assert api.get("/refunds/gr4vy/abc", headers=huge_header).status_code in (431, 400)
    assert api.get("/nothing-here").status_code == 404


def test_the_gateways_own_refusals_use_the_error_shape(
    stack: LocalStack, api: httpx.Client
) -> None:
    many_headers = {f"X-H{i}": "v" for i in range(120)}  # over http.server's 100
    too_many = api.get("/refunds/gr4vy/abc", headers=many_headers)
    assert too_many.status_code == 431, too_many.text
    assert too_many.headers["content-type"] == "application/json"
    assert set(too_many.json()) == {"error"}, too_many.text
    # A request line over http.server's 64 KiB (httpx refuses to send one: a raw socket).
    host, port = httpx.URL(stack.url).host, httpx.URL(stack.url).port
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(b"GET /refunds/gr4vy/" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414"), head
    assert set(json.loads(body)) == {"error"}, body
    assert api.get("/nothing-here").status_code == 404  # and the gateway still serves


def test_a_chunked_body_reaches_the_function(stack: LocalStack, api: httpx.Client) -> None:
    def chunks(body: bytes) -> Iterator[bytes]:
        yield body[:7]
        yield body[7:]

    bad = json.dumps({"first_check_seconds": "not-a-number"}).encode()
    answer = api.post("/refunds/surecart/re_chunked/watch", content=chunks(bad))
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "invalid_request")


def test_a_port_in_use_is_a_one_line_error(stack: LocalStack) -> None:
    assert stack.aws is not None
    assert stack.aws.template.api is not None
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} .*already in use") as caught:
            LocalApiGateway(stack.aws.template.api, lambda *_: None, port=port)  # type: ignore[arg-type,return-value]
    assert "\n" not in str(caught.value)


def _wait_for(api: httpx.Client, provider: str, refund_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.get(f"/refunds/{provider}/{refund_id}/watch").json()
        if record.get("polling_state") != "polling":
            return record
        time.sleep(0.3)
    raise AssertionError(f"{provider}/{refund_id} still polling")
