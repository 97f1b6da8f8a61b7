"""The Pipe's enrichment: DynamoDB stream records of outbox items in, event details out.

EventBridge Pipes invokes it with a batch (a JSON array) of the stream records its filter let
through and sends each returned element to the bus as one event's `detail`, in order. The
`detail-type` and `time` of each event are the Pipe's dynamic target parameters, read from the
same record (template.yaml), so the answer must hold exactly one detail per record: a record
that is not a well-formed outbox item fails the whole batch (the Pipe retries it, then hands
it to the dead-letter queue) instead of being dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from pydantic import ValidationError

from refund_core.events.model import DETAIL_TYPES
from refund_core.events.outbox import OUTBOX_KIND

logger = Logger(child=True)


class InvalidOutboxRecord(Exception):
    """A stream record the Pipe should never have passed on: named, so the batch fails loudly."""


def event_details(records: object) -> list[dict[str, Any]]:
    """One event `detail` per stream record, in the records' order."""
    if not isinstance(records, list):
        raise InvalidOutboxRecord("the Pipe's enrichment takes a JSON array of stream records")
    return [_detail(position, record) for position, record in enumerate(records)]


def _detail(position: int, record: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(record, Mapping):
        raise InvalidOutboxRecord(f"record {position} is not a stream record")
    stream_record = DynamoDBRecord(dict(record))
    try:
        image = stream_record.dynamodb.new_image if stream_record.dynamodb else None
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidOutboxRecord(f"record {position}: its NewImage is not DynamoDB JSON") from exc
    if not image or image.get("kind") != OUTBOX_KIND:
        raise InvalidOutboxRecord(f"record {position} is not an outbox item")
    model = DETAIL_TYPES.get(str(image.get("detail_type")))
    if model is None:
        raise InvalidOutboxRecord(f"record {position}: unknown detail_type")
    try:
        detail = model.model_validate(json.loads(str(image.get("detail"))))
    except (ValueError, ValidationError) as exc:
        # (ValidationError's text would quote the item; the type and position are enough.)
        raise InvalidOutboxRecord(
            f"record {position}: its detail is not a valid {image['detail_type']!r}"
        ) from exc
    return detail.model_dump(mode="json")


def build_enrichment_handler() -> Any:
    """The `lambda_handler` of functions/events: `event_details` with Powertools' logging."""
    from aws_lambda_powertools.utilities.typing import LambdaContext

    root = Logger()

    @root.inject_lambda_context
    def lambda_handler(event: Any, context: LambdaContext) -> list[dict[str, Any]]:
        try:
            details = event_details(event)
        except InvalidOutboxRecord as error:
            root.error("outbox batch refused", extra={"error": str(error)})
            raise
        root.debug("outbox batch", extra={"events": len(details)})
        return details

    return lambda_handler
