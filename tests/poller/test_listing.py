"""Listing an account's records (contract section 9) on DynamoDB Local and moto: last changed
first, from the index, filters, and pages that together are the whole listing, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from refund_core.listing import ListQuery, decode_cursor, list_page
from refund_core.model import RefundStatus
from refund_core.poller.records import PollingState, RefundRecords
from tests.helpers import observed_refund

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:refund-poller:x"


def observe(
    records: RefundRecords,
    refund_id: str,
    status: RefundStatus,
    at: datetime,
    *,
    provider: str = "surecart",
    account: str = "default",
) -> None:
    refund = observed_refund(provider, refund_id, status, at, account=account)
    records.record_observation(refund, execution_arn=ARN, checked_at=at)


def ids(page: dict[str, object]) -> list[str]:
    return [record["refund_id"] for record in page["records"]]  # type: ignore[attr-defined, index]


def test_records_come_last_changed_first_and_filtered(records: RefundRecords) -> None:
    observe(records, "r1", RefundStatus.PENDING, T0)
    observe(records, "r2", RefundStatus.SUCCEEDED, T0 + timedelta(hours=1))
    observe(records, "r3", RefundStatus.PENDING, T0 + timedelta(hours=2), provider="gr4vy")
    observe(records, "r4", RefundStatus.PENDING, T0 + timedelta(hours=3), account="store-a")
    # A check that changes nothing does not move a record up: r1 stays the oldest change.
    observe(records, "r1", RefundStatus.PENDING, T0 + timedelta(hours=4))
    assert ids(list_page(records, "default", ListQuery())) == ["r3", "r2", "r1"]
    assert ids(list_page(records, "store-a", ListQuery())) == ["r4"]
    assert ids(list_page(records, "default", ListQuery(status="pending"))) == ["r3", "r1"]
    assert ids(list_page(records, "default", ListQuery(provider="gr4vy"))) == ["r3"]
    settled = ListQuery(polling_state="settled")
    assert ids(list_page(records, "default", settled)) == ["r2"]
    # "Which refunds are stuck": pending, unchanged for more than 90 minutes. One call.
    stuck = ListQuery(status="pending", updated_before=T0 + timedelta(minutes=90))
    assert ids(list_page(records, "default", stuck)) == ["r1"]
    assert list_page(records, "store-b", ListQuery()) == {"records": [], "next_cursor": None}


def test_a_polling_state_change_moves_a_record_up(records: RefundRecords) -> None:
    observe(records, "r1", RefundStatus.PENDING, T0)
    observe(records, "r2", RefundStatus.PENDING, T0 + timedelta(hours=1))
    records.mark_polling_state("surecart", "r1", PollingState.TIMED_OUT, at=T0 + timedelta(hours=2))
    page = list_page(records, "default", ListQuery())
    assert ids(page) == ["r1", "r2"]
    assert page["records"][0]["polling_state"] == "timed_out"  # type: ignore[index]


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_pages_are_the_whole_listing_once_each(records: RefundRecords, limit: int) -> None:
    for n in range(23):
        status = RefundStatus.PENDING if n % 3 else RefundStatus.SUCCEEDED
        observe(records, f"r{n:02d}", status, T0 + timedelta(minutes=n))
    for query in (ListQuery(limit=limit), ListQuery(limit=limit, status="pending")):
        seen: list[str] = []
        cursor = None
        for _ in range(30):
            page = list_page(records, "default", ListQuery(**{**query.__dict__, "cursor": cursor}))
            assert len(page["records"]) <= limit  # type: ignore[arg-type]
            seen += ids(page)
            cursor = page["next_cursor"]  # type: ignore[assignment]
            if cursor is None:
                break
        expected = [f"r{n:02d}" for n in reversed(range(23))]
        if query.status == "pending":
            expected = [r for r in expected if int(r[1:]) % 3]
        assert seen == expected


def test_a_cursor_is_bound_to_its_account_and_filters(records: RefundRecords) -> None:
    for n in range(3):
        observe(records, f"r{n}", RefundStatus.PENDING, T0 + timedelta(minutes=n))
    cursor = list_page(records, "default", ListQuery(limit=1))["next_cursor"]
    assert isinstance(cursor, str)
    decode_cursor(cursor, "default", ListQuery(limit=2))  # another page size is fine
    from refund_core.errors import InvalidRequest

    for account, query in (
        ("store-a", ListQuery(limit=1)),
        ("default", ListQuery(limit=1, status="pending")),
    ):
        with pytest.raises(InvalidRequest, match="cursor"):
            decode_cursor(cursor, account, query)
