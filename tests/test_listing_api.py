"""`GET /refunds` and `GET /accounts/{account}/refunds` through the watch function (contract
section 9), the records table in moto: the answer's shape, every bad query a 400 in the
contract's error shape, cursors that cannot cross accounts, and never a Scan."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from refund_core.fleet.registry import FleetRegistry
from refund_core.model import RefundStatus
from refund_core.poller.records import RefundRecords
from refund_core.watch import build_watch_handler
from tests.helpers import FakeLambdaContext, create_records_table, load_event, observed_refund

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


@dataclass
class Api:
    handler: Any
    records: RefundRecords
    operations: list[str]

    def get(
        self, query: dict[str, Any] | None = None, account: str | None = None, method: str = "GET"
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        path = "/refunds" if account is None else f"/accounts/{account}/refunds"
        multi = {k: (v if isinstance(v, list) else [v]) for k, v in (query or {}).items()}
        single = {k: v[-1] for k, v in multi.items()}
        event = load_event("surecart", "get_refund") | {
            "httpMethod": method,
            "resource": "/refunds" if account is None else "/accounts/{account}/refunds",
            "path": path,
            "pathParameters": None if account is None else {"account": account},
            "queryStringParameters": single or None,
            "multiValueQueryStringParameters": multi or None,
            "body": None,
        }
        result = self.handler(event, FakeLambdaContext())
        headers = {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()}
        headers.update(result.get("headers") or {})
        return result["statusCode"], json.loads(result["body"]), headers


@pytest.fixture
def api() -> Iterator[Api]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        records = RefundRecords(dynamodb, create_records_table(dynamodb))
        operations: list[str] = []
        dynamodb.meta.events.register(
            "before-call.dynamodb", lambda event_name, **_: operations.append(event_name)
        )
        fleet = FleetRegistry(dynamodb, records.table_name)
        handler = build_watch_handler(records=lambda: records, fleet=lambda: fleet)
        yield Api(handler, records, operations)


def observe(api: Api, refund_id: str, status: RefundStatus, minutes: int, account: str) -> None:
    at = T0 + timedelta(minutes=minutes)
    refund = observed_refund("shoplazza", refund_id, status, at, account=account)
    api.records.record_observation(refund, execution_arn=None, checked_at=at)


def test_the_listing_answers_records_newest_first_from_the_index(api: Api) -> None:
    observe(api, "r1", RefundStatus.PENDING, 0, "default")
    observe(api, "r2", RefundStatus.SUCCEEDED, 5, "default")
    observe(api, "a1", RefundStatus.PENDING, 9, "store-a")
    status, body, headers = api.get()
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert list(body) == ["records", "next_cursor"]
    assert [r["refund_id"] for r in body["records"]] == ["r2", "r1"]
    assert body["records"][0]["account"] == "default"
    assert body["next_cursor"] is None
    status, body, _ = api.get(account="store-a")
    assert [(r["refund_id"], r["account"]) for r in body["records"]] == [("a1", "store-a")]
    # From the index, never a scan: one query, then the page's records by key.
    assert not any(op.endswith(".Scan") for op in api.operations)
    assert any(op.endswith(".Query") for op in api.operations)
    assert any(op.endswith(".BatchGetItem") for op in api.operations)


def test_stuck_refunds_are_one_call(api: Api) -> None:
    observe(api, "old", RefundStatus.PENDING, 0, "default")
    observe(api, "new", RefundStatus.PENDING, 600, "default")
    observe(api, "done", RefundStatus.SUCCEEDED, 1, "default")
    before = (T0 + timedelta(hours=2)).isoformat().replace("+00:00", "Z")
    status, body, _ = api.get({"status": "pending", "updated_before": before})
    assert status == 200
    assert [r["refund_id"] for r in body["records"]] == ["old"]


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"status": "done"}, "status"),
        ({"provider": "stripe"}, "provider"),
        ({"polling_state": "stuck"}, "polling_state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "٣"}, "limit"),
        ({"updated_before": "yesterday"}, "updated_before"),
        ({"updated_before": "2026-11-01T00:00:00"}, "updated_before"),
        ({"stauts": "pending"}, "stauts"),
        ({"status": ["pending", "failed"]}, "status"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "eyJ2IjoxfQ"}, "cursor"),
        ({"cursor": "x" * 5000}, "cursor"),
    ],
)
def test_a_bad_query_is_400_naming_the_parameter(
    api: Api, query: dict[str, Any], named: str
) -> None:
    status, body, _ = api.get(query)
    assert status == 400
    error = body["error"]
    assert (error["code"], error["retryable"], error["account"]) == (
        "invalid_request", False, "default",
    )  # fmt: skip
    assert named in error["message"]


def test_a_cursor_cannot_be_replayed_against_another_account(api: Api) -> None:
    for n in range(3):
        observe(api, f"a{n}", RefundStatus.PENDING, n, "store-a")
        observe(api, f"b{n}", RefundStatus.PENDING, n, "store-b")
    _, page, _ = api.get({"limit": "1"}, account="store-a")
    cursor = page["next_cursor"]
    assert isinstance(cursor, str)
    status, body, _ = api.get({"limit": "1", "cursor": cursor}, account="store-b")
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, body, _ = api.get({"limit": "1", "cursor": cursor}, account="store-a")
    assert status == 200
    assert [r["refund_id"] for r in body["records"]] == ["a1"]


def test_an_invalid_account_is_400_before_any_read(api: Api) -> None:
    status, body, _ = api.get(account="Store_A")
    assert (status, body["error"]["code"]) == (400, "invalid_account_id")
    assert api.operations == []


def test_other_methods_are_405(api: Api) -> None:
    status, body, headers = api.get(method="POST")
    assert (status, body["error"]["code"], headers["Allow"]) == (405, "method_not_allowed", "GET")


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-01T12:30:00Z",
        "2026-11-01t12:30:00z",
        "2026-11-01T14:30:00+02:00",
        "2026-11-01T12:30:00.123456789Z",
        "2026-11-01T12:29:60Z",  # a leap second: RFC 3339 allows it
    ],
)
def test_every_rfc_3339_form_of_updated_before_is_accepted(api: Api, moment: str) -> None:
    observe(api, "early", RefundStatus.PENDING, 0, "default")
    observe(api, "late", RefundStatus.PENDING, 60, "default")
    status, body, _ = api.get({"updated_before": moment})
    assert status == 200, body
    assert [r["refund_id"] for r in body["records"]] == ["early"]
