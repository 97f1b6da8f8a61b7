"""`GET /refunds` and `GET /accounts/{account}/refunds` (contract section 9): one account's
records, last changed first, from the records table's index (never a scan), filtered by
provider, status, polling state and last change, a page of at most 100 at a time.

The cursor is opaque to callers: base64url of the index key to go on from, bound to the
account and the filters it was made for. A cursor used with another account or other filters is
refused (400 `invalid_request`); DynamoDB itself also refuses a start key outside the queried
account's partition, so no cursor can reach another account's records.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from refund_core.errors import InvalidRequest
from refund_core.model import RefundStatus
from refund_core.poller.records import PollingState, RefundRecords, public_record
from refund_core.providers.registry import PROVIDER_NAMES
from refund_core.timestamps import format_rfc3339

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 2048
PARAMETERS = ("provider", "status", "polling_state", "updated_before", "limit", "cursor")
_CURSOR_VERSION = 1
# A record key: `provider#refund_id` or `provider#account#refund_id` (records.record_key).
_RECORD_KEY = re.compile(r"[a-z0-9]+#(?:[a-z0-9-]{1,64}#)?[A-Za-z0-9_-]{1,128}")
_CHOICES: Mapping[str, tuple[str, ...]] = {
    "provider": PROVIDER_NAMES,
    "status": tuple(status.value for status in RefundStatus),
    "polling_state": tuple(state.value for state in PollingState),
}


@dataclass(frozen=True)
class ListQuery:
    """A listing's filters and page size, as the query string gave them."""

    provider: str | None = None
    status: str | None = None
    polling_state: str | None = None
    updated_before: datetime | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None

    def binding(self) -> list[str | None]:
        """What a cursor is bound to: the filters (not the page size, which may change)."""
        before = None if self.updated_before is None else format_rfc3339(self.updated_before)
        return [self.provider, self.status, self.polling_state, before]


def parse_list_query(
    single: Mapping[str, str] | None, multi: Mapping[str, list[str]] | None
) -> ListQuery:
    """The query string, checked: an unknown or repeated parameter, or a value outside its
    range, is 400 `invalid_request` naming it (a typo must not silently list everything)."""
    given = dict(single or {})
    for name, values in (multi or {}).items():
        if len(values) > 1:
            raise InvalidRequest(f"invalid listing: {name[:40]!r} is given more than once")
    unknown = sorted(set(given) - set(PARAMETERS))
    if unknown:
        raise InvalidRequest(
            f"invalid listing: unknown parameter {unknown[0][:40]!r}; "
            f"known: {', '.join(PARAMETERS)}"
        )
    choices: dict[str, str | None] = {}
    for name, allowed in _CHOICES.items():
        value = given.get(name)
        if value is not None and value not in allowed:
            raise InvalidRequest(f"invalid listing: {name} must be one of {', '.join(allowed)}")
        choices[name] = value
    return ListQuery(
        provider=choices["provider"],
        status=choices["status"],
        polling_state=choices["polling_state"],
        updated_before=_parse_moment(given.get("updated_before")),
        limit=_parse_limit(given.get("limit")),
        cursor=given.get("cursor"),
    )


# RFC 3339 `date-time` (the OpenAPI format): any case of T and Z, a leap second, any fraction.
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def _parse_moment(value: str | None) -> datetime | None:
    if value is None:
        return None
    match = _RFC3339.fullmatch(value)
    moment = None
    if match:
        day, minutes, seconds, fraction, offset = match.groups()
        # Python has no leap second; 23:59:60 sorts as 23:59:59.999999 (same order).
        seconds, fraction = ("59", "999999") if seconds == "60" else (seconds, fraction or "0")
        offset = "+00:00" if offset in ("Z", "z") else offset
        try:
            moment = datetime.fromisoformat(f"{day}T{minutes}:{seconds}.{fraction[:6]:0<6}{offset}")
        except ValueError:  # a day or hour that does not exist
            moment = None
    if moment is None:
        raise InvalidRequest(
            "invalid listing: updated_before must be an RFC 3339 time with its offset, "
            "e.g. 2026-12-01T00:00:00Z"
        )
    return moment


def _parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= MAX_LIMIT):
        raise InvalidRequest(f"invalid listing: limit must be an integer from 1 to {MAX_LIMIT}")
    return int(value)


def encode_cursor(account: str, query: ListQuery, last_key: Mapping[str, Any]) -> str:
    position = {"pk": last_key["pk"]["S"], "changed_us": int(last_key["changed_us"]["N"])}
    payload = {"v": _CURSOR_VERSION, "a": account, "f": query.binding(), "k": position}
    text = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).rstrip(b"=").decode()


def decode_cursor(cursor: str, account: str, query: ListQuery) -> dict[str, Any]:
    """The index key `cursor` goes on from, or 400 when it is not one of this listing's."""
    refused = InvalidRequest(
        "invalid listing: cursor is not one this listing gave (same account and filters)"
    )
    if len(cursor) > MAX_CURSOR_LENGTH or not cursor.isascii():
        raise refused
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError):
        raise refused from None
    if not isinstance(payload, dict) or payload.get("v") != _CURSOR_VERSION:
        raise refused
    position = payload.get("k")
    if (
        payload.get("a") != account
        or payload.get("f") != query.binding()
        or not isinstance(position, dict)
        or not isinstance(position.get("pk"), str)
        or not _RECORD_KEY.fullmatch(position["pk"])
        or type(position.get("changed_us")) is not int
        or position["changed_us"] < 0
    ):
        raise refused
    return {
        "pk": {"S": position["pk"]},
        "account": {"S": account},
        "changed_us": {"N": str(position["changed_us"])},
    }


def list_page(records: RefundRecords, account: str, query: ListQuery) -> dict[str, Any]:
    """One page: `{"records": [...], "next_cursor": str | None}` (None: nothing more)."""
    start = None if query.cursor is None else decode_cursor(query.cursor, account, query)
    found, last_key = records.list_records(
        account,
        limit=query.limit,
        changed_before=query.updated_before,
        provider=query.provider,
        status=query.status,
        polling_state=query.polling_state,
        start_key=start,
    )
    return {
        "records": [public_record(record) for record in found],
        "next_cursor": None if last_key is None else encode_cursor(account, query, last_key),
    }
