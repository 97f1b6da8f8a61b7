"""The IAM check of the local calls (devstack.aws.iam_calls, devstack.iam_check): a request is
read as IAM reads it, and a call its role does not allow is denied, by iam-simulate, on the
roles of SAM's own transform."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from devstack import sam
from devstack.aws.iam_calls import Call, CallRecorder, caller_key
from devstack.iam_check import evaluate

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/refund-status-RefundRecordsTable"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:refund-status"


def request(caller: str, target: str, body: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(body).encode()
    return {
        "HTTP_AUTHORIZATION": (
            f"AWS4-HMAC-SHA256 Credential={caller_key(caller)}/20261207/us-east-1/x/aws4_request"
        ),
        "HTTP_X_AMZ_TARGET": target,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "PATH_INFO": "/",
    }


def recorded(environ: dict[str, Any]) -> list[Call]:
    seen: list[bytes] = []

    def app(env: dict[str, Any], start: Any) -> list[bytes]:
        seen.append(env["wsgi.input"].read())
        return [b""]

    recorder = CallRecorder(app, region="us-east-1", account="123456789012", secret_arn=str)
    recorder(environ, lambda *_: None)
    assert seen, "the request did not reach moto"
    assert json.loads(seen[0])  # with its body intact
    return recorder.calls


def test_a_transaction_is_one_authorization_per_item_with_its_leading_key() -> None:
    body = {
        "TransactItems": [
            {
                "Update": {
                    "TableName": "refund-status-RefundRecordsTable",
                    "Key": {"pk": {"S": "gr4vy#r1"}},
                }
            },
            {
                "Update": {
                    "TableName": "refund-status-RefundRecordsTable",
                    "Key": {"pk": {"S": "gr4vy#default#r1#outbox"}},
                }
            },
        ]
    }
    calls = recorded(request("Gr4vyFunction", "DynamoDB_20120810.TransactWriteItems", body))
    assert [(c.caller, c.action, c.resource) for c in calls] == [
        ("Gr4vyFunction", "dynamodb:UpdateItem", TABLE)
    ] * 2
    assert [c.context["dynamodb:LeadingKeys"] for c in calls] == [
        ("gr4vy#r1",),
        ("gr4vy#default#r1#outbox",),
    ]


def test_a_call_signed_by_nobody_of_the_template_is_not_recorded() -> None:
    environ = request("x", "DynamoDB_20120810.GetItem", {"TableName": "t", "Key": {}})
    environ["HTTP_AUTHORIZATION"] = environ["HTTP_AUTHORIZATION"].replace(
        caller_key("x"), "testing"
    )
    assert recorded(environ) == []


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return sam.transformed_template()


@pytest.mark.parametrize(
    ("call", "allowed"),
    [
        (
            Call(
                "Gr4vyFunction",
                "dynamodb:UpdateItem",
                TABLE,
                {"dynamodb:LeadingKeys": ("gr4vy#r1",)},
            ),
            True,
        ),
        # another provider's records
        (
            Call(
                "Gr4vyFunction",
                "dynamodb:UpdateItem",
                TABLE,
                {"dynamodb:LeadingKeys": ("surecart#r1",)},
            ),
            False,
        ),
        (
            Call(
                "Gr4vyFunction", "dynamodb:PutItem", TABLE, {"dynamodb:LeadingKeys": ("gr4vy#r1",)}
            ),
            False,
        ),
        (Call("WatchFunction", "dynamodb:Scan", TABLE), False),
        (
            Call(
                "WatchFunction",
                "dynamodb:DeleteItem",
                TABLE,
                {"dynamodb:LeadingKeys": ("gr4vy#r1",)},
            ),
            False,
        ),
        (
            Call(
                "Gr4vyFunction", "secretsmanager:GetSecretValue", f"{SECRET}/gr4vy/store-a-AbCdEf"
            ),
            True,
        ),
        (
            Call(
                "Gr4vyFunction",
                "secretsmanager:GetSecretValue",
                f"{SECRET}/surecart/store-a-AbCdEf",
            ),
            False,
        ),
        (
            Call(
                "WatchFunction", "secretsmanager:GetSecretValue", f"{SECRET}/gr4vy/store-a-AbCdEf"
            ),
            False,
        ),
        # the fleet polls: the watch function starts no execution
        (
            Call(
                "WatchFunction",
                "states:StartExecution",
                "arn:aws:states:us-east-1:123456789012:stateMachine:refund-status-refund-poller",
            ),
            False,
        ),
        # a batch answers the executions waiting on a poll it ended; the watch function not
        (Call("Gr4vyFunction", "states:SendTaskSuccess", "*"), True),
        (Call("Gr4vyFunction", "states:SendTaskFailure", "*"), True),
        (Call("WatchFunction", "states:SendTaskSuccess", "*"), False),
        # the poller may invoke the watch function's live alias only
        (
            Call(
                "ak",
                "lambda:InvokeFunction",
                "arn:aws:lambda:us-east-1:123456789012:function:refund-status-WatchFunction:live",
            ),
            True,
        ),
        (
            Call(
                "EventsFunction", "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": ("gr4vy#r1",)}
            ),
            False,
        ),
        # the fleet: a provider function reads its own provider's queues only
        (
            Call(
                "Gr4vyFunction",
                "dynamodb:Query",
                f"{TABLE}/index/due",
                {"dynamodb:LeadingKeys": ("gr4vy#store-a",)},
            ),
            True,
        ),
        (
            Call(
                "Gr4vyFunction",
                "dynamodb:Query",
                f"{TABLE}/index/due",
                {"dynamodb:LeadingKeys": ("surecart#store-a",)},
            ),
            False,
        ),
        # the tick reads the list of queues, and no record
        (
            Call("ak", "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": ("~fleet#queues",)}),
            True,
        ),
        (
            Call("ak", "dynamodb:GetItem", TABLE, {"dynamodb:LeadingKeys": ("gr4vy#r1",)}),
            False,
        ),
        # the tick's schedule may start the tick, and nothing else
        (
            Call(
                "FleetTickTick",
                "states:StartExecution",
                "arn:aws:states:us-east-1:123456789012:stateMachine:refund-status-fleet-tick",
            ),
            True,
        ),
        (
            Call(
                "FleetTickTick",
                "states:StartExecution",
                "arn:aws:states:us-east-1:123456789012:stateMachine:refund-status-refund-poller",
            ),
            False,
        ),
    ],
)
def test_each_call_is_judged_by_its_own_role(
    transformed: dict[str, Any], call: Call, allowed: bool
) -> None:
    # (A state machine task's call is judged by each machine whose definition names it.)
    verdicts = evaluate([call], transformed)
    assert verdicts, call
    for verdict in verdicts:
        assert (verdict.result == "Allowed") is allowed, verdict
