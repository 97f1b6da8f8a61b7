"""A consumer's view of the local stack (contract section 7): watch a refund through the API and
its events arrive on a queue subscribed to the stack's bus, one per status change, numbered
and in order, each valid against docs/events.schema.json (the JSON Schema the README links)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from devstack.stack import PROVIDERS, LocalStack
from refund_core.events.model import events_json_schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"
FAST = {"first_check_seconds": 1, "max_interval_seconds": 1, "budget_seconds": 30}


def settled_record(api: httpx.Client, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.get(f"{path}/watch").json()
        if record.get("polling_state") not in (None, "polling"):
            return record
        time.sleep(0.3)
    raise AssertionError(f"{path} still polling")


def events_of(stack: LocalStack, provider: str, account: str, refund_id: str) -> list[Any]:
    assert stack.aws is not None
    assert stack.event_tap is not None
    assert stack.aws.wait_for_pipes()
    stack.event_tap.collect()
    return stack.event_tap.of_refund(provider, account, refund_id)


def test_the_committed_schema_is_the_models_schema() -> None:
    assert json.loads(SCHEMA_PATH.read_text(encoding="utf-8")) == events_json_schema(), (
        "docs/events.schema.json is stale: regenerate it from refund_core.events.model"
    )


def test_a_watched_refund_publishes_each_change_in_the_documented_shape(
    stack: LocalStack, api: httpx.Client
) -> None:
    refund_id = stack.sandboxes["surecart"].create_refund(
        amount=2500, currency="EUR", life=["pending", "pending", "succeeded", "failed"]
    )
    path = f"/refunds/surecart/{refund_id}"
    assert api.post(f"{path}/watch", json=FAST).status_code == 202
    record = settled_record(api, path)
    # A refresh after it settled sees the late failure.
    api.post(f"{path}/watch", params={"refresh": "true"}, json=FAST)
    deadline = time.monotonic() + 40
    while record.get("status") != "failed" and time.monotonic() < deadline:
        time.sleep(0.3)
        record = api.get(f"{path}/watch").json()

    events = events_of(stack, "surecart", "default", refund_id)
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for event in events:
        jsonschema.validate(event, schema)
    details = [e["detail"] for e in events]
    assert [(d["metadata"]["sequence"], d["previous_status"], d["status"]) for d in details] == [
        (1, None, "pending"),
        (2, "pending", "succeeded"),
        (3, "succeeded", "failed"),
    ]
    assert [h["status"] for h in record["history"]] == ["pending", "succeeded", "failed"]
    assert details[-1]["late_failure"] is True
    # the event's refund is the section 4 shape the API answers
    assert details[-1]["refund"] == api.get(path).json() | {
        "fetched_at": details[-1]["refund"]["fetched_at"]
    }


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_poll_that_ends_without_a_final_status_says_so(
    stack: LocalStack, api: httpx.Client, provider: str
) -> None:
    path = f"/accounts/store-a/refunds/{provider}/no-such-refund-evt"
    assert api.post(f"{path}/watch", json=FAST).status_code == 202
    record = settled_record(api, path)
    assert record["polling_state"] == "not_found"

    (event,) = events_of(stack, provider, "store-a", "no-such-refund-evt")
    jsonschema.validate(event, json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    assert event["detail-type"] == "Refund Polling Ended"
    detail = event["detail"]
    assert (detail["polling_state"], detail["code"], detail["status"]) == (
        "not_found",
        "refund_not_found",
        None,
    )
    # The fleet polled it: no execution owned the poll, and the event says so.
    assert detail["execution_arn"] is None
    assert record["execution_arn"] is None
