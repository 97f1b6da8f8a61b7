"""Scripted lives: statuses advance per read or with time; updated_at follows status changes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devstack.sandboxes import Sandbox

Start = Callable[..., Sandbox]
GetRefund = Callable[[Sandbox, str], dict[str, Any]]

PENDING = {"convergegate": "pending", "surecart": "pending", "gr4vy": "processing"}
PENDING["shoplazza"] = "processing"


def test_life_by_reads_sticks_at_the_last_status(sandbox: Sandbox, get_refund: GetRefund) -> None:
    pending = PENDING[sandbox.name]
    refund_id = sandbox.create_refund(1000, life=[pending, pending, "succeeded"])
    seen = [get_refund(sandbox, refund_id)["status"] for _ in range(5)]
    assert seen == [pending, pending, "succeeded", "succeeded", "succeeded"]
    state = sandbox.refund_state(refund_id)
    assert (state["reads"], state["status"]) == (5, "succeeded")


def test_life_by_time(sandbox: Sandbox, get_refund: GetRefund) -> None:
    pending = PENDING[sandbox.name]
    refund_id = sandbox.create_refund(1000, life=[(0, pending), (1.0, "succeeded")])
    assert get_refund(sandbox, refund_id)["status"] == pending
    assert get_refund(sandbox, refund_id)["status"] == pending  # reads alone do not advance it
    time.sleep(1.1)
    assert get_refund(sandbox, refund_id)["status"] == "succeeded"


def test_single_status_life_and_default(sandbox: Sandbox, get_refund: GetRefund) -> None:
    assert get_refund(sandbox, sandbox.create_refund(1000, life="failed"))["status"] == "failed"
    default = get_refund(sandbox, sandbox.create_refund())
    assert default["status"] == PENDING[sandbox.name]


@pytest.mark.parametrize("provider", ["convergegate", "surecart", "gr4vy"])
def test_late_failure_after_success(start: Start, get_refund: GetRefund, provider: str) -> None:
    sandbox = start(provider)
    refund_id = sandbox.create_refund(1000, life=["succeeded", "succeeded", "failed"])
    assert [get_refund(sandbox, refund_id)["status"] for _ in range(3)] == [
        "succeeded",
        "succeeded",
        "failed",
    ]


def test_timed_updated_at_is_when_the_status_began(start: Start, get_refund: GetRefund) -> None:
    sandbox = start("surecart")
    created = time.time() - 100
    refund_id = sandbox.create_refund(
        1000, "USD", [(0, "pending"), (30, "succeeded")], created_at=created
    )
    refund = get_refund(sandbox, refund_id)
    assert refund["status"] == "succeeded"
    assert refund["created_at"] == int(created)
    assert refund["updated_at"] == int(created + 30)


def test_updated_at_advances_only_on_status_change(start: Start, get_refund: GetRefund) -> None:
    sandbox = start("gr4vy")
    refund_id = sandbox.create_refund(1000, "USD", ["processing", "processing", "succeeded"])
    first = get_refund(sandbox, refund_id)
    time.sleep(0.01)
    second = get_refund(sandbox, refund_id)
    assert first["updated_at"] == second["updated_at"] == first["created_at"]
    time.sleep(0.01)
    third = get_refund(sandbox, refund_id)
    assert third["status"] == "succeeded"
    assert third["updated_at"] > second["updated_at"]
    assert get_refund(sandbox, refund_id)["updated_at"] == third["updated_at"]


def test_shoplazza_completed_at_follows_completion(start: Start, get_refund: GetRefund) -> None:
    sandbox = start("shoplazza")
    refund_id = sandbox.create_refund(5000, "USD", ["processing", "succeeded"])
    assert get_refund(sandbox, refund_id)["completed_at"] == ""
    done = get_refund(sandbox, refund_id)
    assert done["completed_at"].endswith("Z")
    assert done["completed_at"] >= done["created_at"]


def test_shoplazza_can_omit_completed_at(start: Start, get_refund: GetRefund) -> None:
    sandbox = start("shoplazza", omit_completed_at_while_processing=True)
    refund_id = sandbox.create_refund(5000, "USD", ["processing", "failed"])
    assert "completed_at" not in get_refund(sandbox, refund_id)
    assert get_refund(sandbox, refund_id)["completed_at"].endswith("Z")


@pytest.mark.parametrize(
    ("provider", "status"),
    [
        ("convergegate", "processing"),
        ("surecart", "processing"),
        ("gr4vy", "pending"),  # Gr4vy's webhook word, never its refund status
        ("shoplazza", "canceled"),
        ("shoplazza", "pending"),
    ],
)
def test_statuses_the_provider_never_sends_are_refused(
    start: Start, provider: str, status: str
) -> None:
    sandbox = start(provider)
    with pytest.raises(ValueError, match="has no status"):
        sandbox.create_refund(1000, life=[status])


@pytest.mark.parametrize(
    "life",
    [[], [(1, "succeeded")], [(0, "pending"), (5, "succeeded"), (2, "failed")], [(0, 1)]],
)
def test_malformed_lives_are_refused(start: Start, life: Any) -> None:
    with pytest.raises(ValueError, match=r"life|status"):
        start("surecart").create_refund(1000, life=life)


def test_caller_chosen_id_and_duplicates(sandbox: Sandbox, get_refund: GetRefund) -> None:
    chosen = "my-refund_42"
    assert sandbox.create_refund(1000, refund_id=chosen) == chosen
    assert get_refund(sandbox, chosen)["id"] == chosen
    with pytest.raises(ValueError, match="already exists"):
        sandbox.create_refund(1000, refund_id=chosen)
    with pytest.raises(ValueError, match="path segment"):
        sandbox.create_refund(1000, refund_id="a/b")


@pytest.mark.parametrize("amount", [0, -5, 1.5, True])
def test_bad_amounts_are_refused(sandbox: Sandbox, amount: Any) -> None:
    with pytest.raises(ValueError, match="amount"):
        sandbox.create_refund(amount)


def test_never_created_id_gets_the_providers_not_found(
    sandbox: Sandbox, client: httpx.Client
) -> None:
    response = client.get(sandbox.refund_url("doesnotexist123"), headers=sandbox.auth_headers())
    assert response.status_code == 404
    body = response.json()
    expected_keys = {
        "convergegate": {"error"},
        "surecart": {"http_status", "type", "code", "message", "validation_errors"},
        "gr4vy": {"type", "code", "status", "message", "details"},
        "shoplazza": {"code", "message"},
    }[sandbox.name]
    assert set(body) == expected_keys


def test_surecart_not_found_can_be_422(start: Start, client: httpx.Client) -> None:
    sandbox = start("surecart", not_found_fault="not_found_422")
    response = client.get(sandbox.refund_url("nope"), headers=sandbox.auth_headers())
    assert response.status_code == 422
    assert response.json()["http_status"] == "unprocessable_entity"
    assert response.json()["type"] == "not_found"
