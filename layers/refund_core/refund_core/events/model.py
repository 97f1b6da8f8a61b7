"""The two events on the bus and their `detail` (contract section 7).

`event_id` is derived from what the event is about, never random, so every delivery of one
change (a Pipe retry, a replay from the record's history) carries the same id and consumers
can deduplicate on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from refund_core.model import Refund, RefundStatus, UtcDateTime

EVENT_SOURCE: Final = "refund-status"
STATUS_CHANGED: Final = "Refund Status Changed"
POLLING_ENDED: Final = "Refund Polling Ended"
DETAIL_VERSION: Final = "1"
# The polling states a poll can end in without a final status.
EndedPollingState = Literal["not_found", "auth_failed", "timed_out", "failed"]
# Fixed forever: event ids of past deliveries must stay what they were.
_EVENT_ID_NAMESPACE: Final = uuid.UUID("5f0c6a52-4f7e-4b8e-9a43-6c1d2f1b7e10")


class EventMetadata(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The same on every delivery of the same change: deduplicate on it.
    event_id: str = Field(min_length=1)
    # Status Changed: the entry's 1-based position in the record's history. Polling Ended: the
    # number of status changes it follows (0 when the refund was never seen).
    sequence: Annotated[int, Field(ge=0)]
    version: Literal["1"] = DETAIL_VERSION


class _RefundEventDetail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    metadata: EventMetadata
    provider: str
    account: str
    refund_id: str


class RefundStatusChanged(_RefundEventDetail):
    """`detail` of `Refund Status Changed`: one per new history entry of a record."""

    status: RefundStatus
    previous_status: RefundStatus | None
    terminal: bool
    late_failure: bool
    observed_at: UtcDateTime
    # The newest normalized refund, section 4's shape.
    refund: Refund


class RefundPollingEnded(_RefundEventDetail):
    """`detail` of `Refund Polling Ended`: a poll ended without a final status."""

    polling_state: EndedPollingState
    # The contract error code the poll ended with (refund_not_found, provider_auth_failed...).
    code: str | None
    # The refund's last stored status, null when it was never seen.
    status: RefundStatus | None
    ended_at: UtcDateTime
    execution_arn: str | None


RefundEventDetail = RefundStatusChanged | RefundPollingEnded
DETAIL_TYPES: Final[dict[str, type[RefundStatusChanged] | type[RefundPollingEnded]]] = {
    STATUS_CHANGED: RefundStatusChanged,
    POLLING_ENDED: RefundPollingEnded,
}


def detail_type_of(detail: RefundEventDetail) -> str:
    return STATUS_CHANGED if isinstance(detail, RefundStatusChanged) else POLLING_ENDED


def status_changed(
    refund: Refund,
    *,
    sequence: int,
    previous_status: RefundStatus | None,
    late_failure: bool,
) -> RefundStatusChanged:
    """The event of `refund` becoming the record's `sequence`-th history entry."""
    observed_at = refund.fetched_at
    identity = "/".join(
        (
            "status-changed",
            refund.provider,
            refund.account,
            refund.refund_id,
            str(sequence),
            refund.status.value,
            observed_at.isoformat(),
        )
    )
    return RefundStatusChanged(
        metadata=EventMetadata(event_id=_event_id(identity), sequence=sequence),
        provider=refund.provider,
        account=refund.account,
        refund_id=refund.refund_id,
        status=refund.status,
        previous_status=previous_status,
        terminal=refund.status.terminal,
        late_failure=late_failure,
        observed_at=observed_at,
        refund=refund,
    )


def polling_ended(
    *,
    provider: str,
    account: str,
    refund_id: str,
    polling_state: EndedPollingState,
    code: str | None,
    status: RefundStatus | None,
    sequence: int,
    ended_at: datetime,
    execution_arn: str | None,
    poll_id: str | None = None,
) -> RefundPollingEnded:
    """The event of a poll ending in `polling_state` after `sequence` status changes (its id
    from the poll's, `poll_id` or else `execution_arn`, so one poll ends once)."""
    identity = "/".join(
        (
            "polling-ended",
            provider,
            account,
            refund_id,
            polling_state,
            poll_id or execution_arn or ended_at.isoformat(),
        )
    )
    return RefundPollingEnded(
        metadata=EventMetadata(event_id=_event_id(identity), sequence=sequence),
        provider=provider,
        account=account,
        refund_id=refund_id,
        polling_state=polling_state,
        code=code,
        status=status,
        ended_at=ended_at,
        execution_arn=execution_arn,
    )


def _event_id(identity: str) -> str:
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, identity))


def events_json_schema() -> dict[str, Any]:
    """The JSON Schema of an event as a consumer receives it (EventBridge's envelope around
    either detail), as docs/events.schema.json keeps it."""
    from pydantic.json_schema import models_json_schema

    _, definitions = models_json_schema(
        [(RefundStatusChanged, "serialization"), (RefundPollingEnded, "serialization")],
        ref_template="#/$defs/{model}",
    )
    for definition in definitions["$defs"].values():
        # Every field is always sent (null when there is no value): all are required.
        if "properties" in definition:
            definition["required"] = list(definition["properties"])
    envelope = {
        "type": "object",
        "required": ["source", "detail-type", "detail"],
        "properties": {"source": {"const": EVENT_SOURCE}},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/refund-status-service/events.schema.json",
        "title": "Refund status events (EventBridge)",
        "description": (
            "An event of the refund-status bus as a rule's target receives it: EventBridge's "
            "envelope, with `detail-type` naming which `detail` it carries."
        ),
        "oneOf": [
            {
                **envelope,
                "properties": {
                    **envelope["properties"],  # type: ignore[dict-item]
                    "detail-type": {"const": detail_type},
                    "detail": {"$ref": f"#/$defs/{model.__name__}"},
                },
            }
            for detail_type, model in DETAIL_TYPES.items()
        ],
        "$defs": definitions["$defs"],
    }
