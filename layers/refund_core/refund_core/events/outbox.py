"""The outbox item: one per refund, rewritten by every change in the same transaction as the
record, and carried from the table's stream to the bus by the template's Pipe.

One item per refund, not one per event: DynamoDB Streams keeps the order of the writes to one
item, so the stream holds a refund's events in the order they were stored, and the Pipe
delivers them in that order. The item holds the finished `detail` as JSON text, so the Pipe's
enrichment only has to parse and check it (input templates cannot turn DynamoDB's typed JSON
back into nested JSON).

The item carries no `account` or `changed_us`, so the listing index never sees it; its key
starts with `<provider>#`, so each provider function's `dynamodb:LeadingKeys` grant covers it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from refund_core.events.model import RefundEventDetail, detail_type_of
from refund_core.timestamps import format_rfc3339

OUTBOX_KIND: Final = "refund-event"
# Longer than the stream keeps a record (24 h): the item is only the stream's source; TTL's
# deletion is a REMOVE record, which the Pipe's filter drops.
OUTBOX_RETENTION: Final = timedelta(days=2)


def outbox_key(provider: str, account: str, refund_id: str) -> dict[str, Any]:
    """Three `#`: no record key (one or two) can be the same."""
    return {"pk": {"S": f"{provider}#{account}#{refund_id}#outbox"}}


def outbox_write(table: str, detail: RefundEventDetail, *, at: datetime) -> dict[str, Any]:
    """The `TransactWriteItems` entry that makes `detail` the refund's newest event."""
    attributes: dict[str, Any] = {
        "kind": {"S": OUTBOX_KIND},
        "detail_type": {"S": detail_type_of(detail)},
        "detail": {"S": detail.model_dump_json()},
        "event_id": {"S": detail.metadata.event_id},
        "sequence": {"N": str(detail.metadata.sequence)},
        "event_time": {"S": format_rfc3339(at)},
        "expires_at": {"N": str(int((at + OUTBOX_RETENTION).timestamp()))},
    }
    # Every attribute through a name: DynamoDB reserves hundreds of words.
    return {
        "Update": {
            "TableName": table,
            "Key": outbox_key(detail.provider, detail.account, detail.refund_id),
            "UpdateExpression": "SET " + ", ".join(f"#{name} = :{name}" for name in attributes),
            "ExpressionAttributeNames": {f"#{name}": name for name in attributes},
            "ExpressionAttributeValues": {f":{name}": value for name, value in attributes.items()},
        }
    }
