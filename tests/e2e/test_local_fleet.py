"""The fleet end to end on the local stack (contract section 8): the template's schedule fires
its Express tick, whose Map runs each account's batch in its provider's function, against the
provider sandboxes; a batch that keeps failing lands in the fleet's dead-letter queue."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.stack import PROVIDERS, LocalStack
from refund_core.fleet.registry import QUEUES_KEY, FleetRegistry

# Each sandbox's own word for a refund not yet final.
PENDING = {"convergegate": "pending", "surecart": "pending", "gr4vy": "processing",
           "shoplazza": "processing"}  # fmt: skip


def _registry(stack: LocalStack) -> FleetRegistry:
    assert stack.aws is not None
    table = stack.aws.template.tables["RefundRecordsTable"].name
    return FleetRegistry(stack.aws.client("dynamodb"), table)


def _wait_for(api: httpx.Client, path: str, done: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = api.get(path)
        if answer.status_code == 200 and done(answer.json()):
            return dict(answer.json())
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.3)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_registered_refund_is_polled_by_the_fleet_until_it_settles(
    stack: LocalStack, api: httpx.Client, provider: str
) -> None:
    # Pending, then succeeded a few seconds later: the fleet checks it more than once.
    refund_id = stack.sandboxes[provider].create_refund(
        amount=1000, life=[(0, PENDING[provider]), (3, "succeeded")]
    )
    registered = _registry(stack).register(
        provider,
        refund_id,
        account="default",
        overrides={"first_check_seconds": 1, "max_interval_seconds": 1},
        now=datetime.now(UTC),
    )
    assert registered.registered

    record = _wait_for(
        api,
        f"/refunds/{provider}/{refund_id}/watch",
        # Settled by the check's write, then out of its queue by the batch's next one.
        lambda body: body.get("polling_state") == "settled" and body["next_check_at"] is None,
    )

    assert record["status"] == "succeeded"
    assert record["checks"] >= 2
    assert [entry["status"] for entry in record["history"]] == ["pending", "succeeded"]
    # Out of its queue once settled: nothing is due for it any more.
    due, _ = _registry(stack).due(provider, "default", now=datetime.now(UTC), limit=100)
    assert refund_id not in {d.refund_id for d in due}


def test_a_batch_that_keeps_failing_lands_in_the_dead_letter_queue(stack: LocalStack) -> None:
    assert stack.aws is not None
    aws = stack.aws
    table = aws.template.tables["RefundRecordsTable"].name
    # A queue no batch can run (an account id the contract refuses), as a bad write left it.
    aws.client("dynamodb").update_item(
        TableName=table,
        Key=QUEUES_KEY,
        UpdateExpression="ADD queues :queue",
        ExpressionAttributeValues={":queue": {"SS": ["surecart#Not_An_Account"]}},
    )
    queue = aws.template.events["FleetDeadLetterQueue"].name
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    try:
        deadline = time.monotonic() + 60
        messages: list[dict[str, Any]] = []
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        assert messages, "no dead letter within 60 s"
        body = json.loads(messages[0]["Body"])
        assert body["queue"] == "surecart#Not_An_Account"
        assert body["error"] == "InvalidRequest"
    finally:
        aws.client("dynamodb").update_item(
            TableName=table,
            Key=QUEUES_KEY,
            UpdateExpression="DELETE queues :queue",
            ExpressionAttributeValues={":queue": {"SS": ["surecart#Not_An_Account"]}},
        )
