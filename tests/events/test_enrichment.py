"""The Pipe's enrichment (functions/events): outbox stream records in, event details out.

Its input is the table's stream, filtered by the template's Pipe: anything that is not a
well-formed outbox item fails the batch by name (the Pipe retries it, then dead-letters it)
rather than being dropped or passed on, and its error never quotes the item.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from refund_core.events.pipe import InvalidOutboxRecord, build_enrichment_handler, event_details
from tests.events.stream import template_pipe
from tests.helpers import FakeLambdaContext, powertools_logs_to_current_stdout

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "events" / "events" / "pipe_outbox_record.json"
SCHEMA = json.loads((REPO / "docs" / "events.schema.json").read_text(encoding="utf-8"))


def sample() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return records


def test_the_sam_local_sample_becomes_one_documented_event() -> None:
    handler = build_enrichment_handler()
    (detail,) = handler(sample(), FakeLambdaContext())
    record = sample()[0]
    event = {
        "source": "refund-status",
        "detail-type": record["dynamodb"]["NewImage"]["detail_type"]["S"],
        "detail": detail,
    }
    jsonschema.validate(event, SCHEMA)
    assert (detail["status"], detail["previous_status"], detail["metadata"]["sequence"]) == (
        "succeeded",
        "pending",
        2,
    )
    assert template_pipe().matches(record)


def test_the_template_filter_keeps_outbox_writes_only() -> None:
    pipe = template_pipe()
    outbox = sample()[0]
    record_update = copy.deepcopy(outbox)
    record_update["dynamodb"]["NewImage"] = {"pk": {"S": "gr4vy#re_1"}, "status": {"S": "pending"}}
    expired = copy.deepcopy(outbox) | {"eventName": "REMOVE"}  # TTL's deletion
    inserted = copy.deepcopy(outbox) | {"eventName": "INSERT"}
    assert [pipe.matches(r) for r in (outbox, inserted, record_update, expired)] == [
        True,
        True,
        False,
        False,
    ]


def _with_image(**changes: Any) -> list[dict[str, Any]]:
    records = sample()
    image = records[0]["dynamodb"]["NewImage"]
    for key, value in changes.items():
        if value is None:
            image.pop(key, None)
        else:
            image[key] = value
    return records


SECRETISH = "sk_live_do_not_echo_me"


@pytest.mark.parametrize(
    ("batch", "says"),
    [
        ({"Records": []}, "JSON array"),
        (["not a record"], "record 0 is not a stream record"),
        ([{"dynamodb": {}}], "not an outbox item"),
        (_with_image(kind={"S": "refund-record"}), "not an outbox item"),
        (_with_image(detail_type={"S": "Refund Exploded"}), "unknown detail_type"),
        (_with_image(detail={"S": f'{{"secret": "{SECRETISH}"'}), "not a valid"),
        (_with_image(detail={"S": json.dumps({"metadata": SECRETISH})}), "not a valid"),
        (_with_image(detail=None), "not a valid"),
        (_with_image(kind={"N": "12"}), "not an outbox item"),
        ([{"dynamodb": {"NewImage": {"kind": {"Q": "?"}}}}], "not DynamoDB JSON"),
    ],
)
def test_a_malformed_batch_fails_by_name_without_quoting_the_item(batch: Any, says: str) -> None:
    with pytest.raises(InvalidOutboxRecord, match=says) as caught:
        event_details(batch)
    assert SECRETISH not in str(caught.value)


def test_the_handler_logs_the_refusal_and_fails_the_batch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = build_enrichment_handler()
    with (
        powertools_logs_to_current_stdout(os.environ["POWERTOOLS_SERVICE_NAME"]),
        pytest.raises(InvalidOutboxRecord),
    ):
        handler(_with_image(detail={"S": json.dumps({"x": SECRETISH})}), FakeLambdaContext())
    logged = capsys.readouterr().out
    assert "outbox batch refused" in logged
    assert SECRETISH not in logged
