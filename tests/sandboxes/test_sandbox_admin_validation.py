"""The admin API and the Python API it shares refuse bad settings, naming the field.

Nothing is coerced (12.7 is not 12, true is not 1), nothing unknown is ignored, and nothing is
stored that would later send an illegal status line or overflow a wait.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from devstack.sandboxes import Sandbox
from devstack.sandboxes.faults import MAX_DELAY_SECONDS

Start = Callable[..., Sandbox]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 12.7}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "1200"}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 1200, "colour": "red"}, "colour"),
        ({"ammount": 1200}, "ammount"),
        ({"currency": 840}, "currency"),
        ({"id": 7}, "refund_id"),
        ({"reason": ["a"]}, "reason"),
        ({"created_at": True}, "created_at"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"overrides": "x"}, "overrides"),
        ({"life": 5}, "life"),
    ],
)
def test_admin_refuses_bad_refund_specs_by_name(
    start: Start, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    sandbox = start("surecart")

    response = client.post(f"{sandbox.base_url}/__sandbox/refunds", json=body)

    assert response.status_code == 400
    assert field in response.json()["error"]
    assert sandbox.refund_ids() == []  # nothing stored


@pytest.mark.parametrize("created_at", ["1e400", "Infinity", "NaN", "1" + "0" * 400])
def test_admin_refuses_created_at_beyond_a_float(
    start: Start, client: httpx.Client, created_at: str
) -> None:
    sandbox = start("surecart")

    response = client.post(
        f"{sandbox.base_url}/__sandbox/refunds", content=f'{{"created_at": {created_at}}}'
    )

    assert response.status_code == 400
    assert "created_at" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "html", "status": 99}, "status"),
        ({"name": "html", "status": 1000}, "status"),
        ({"name": "html", "status": 503.5}, "status"),
        ({"name": "html", "status": "503"}, "status"),
        ({"name": "delay", "seconds": 1e308}, "seconds"),
        ({"name": "delay", "seconds": MAX_DELAY_SECONDS + 1}, "seconds"),
        ({"name": "delay", "seconds": -1}, "seconds"),
        ({"name": "delay", "seconds": "3"}, "seconds"),
        ({"name": "delay", "seconds": True}, "seconds"),
        ({"name": "server_error", "times": 1.5}, "times"),
        ({"name": "server_error", "times": True}, "times"),
        ({"name": "server_error", "times": 0}, "times"),
        ({"name": "oversized", "size_bytes": 10**12}, "size_bytes"),
        ({"name": "oversized", "size_bytes": 1.5}, "size_bytes"),
        ({"name": "rate_limited", "retry_after": "3\r\nX-Injected: 1"}, "retry_after"),
        ({"name": "rate_limited", "retry_after": -1}, "retry_after"),
        ({"name": "unknown_status", "value": 5}, "value"),
        ({"name": "server_error", "refund_id": 5}, "refund_id"),
        ({"name": 5}, "name"),
        ({"times": 1}, "name"),
    ],
)
def test_admin_refuses_bad_fault_specs_by_name(
    start: Start, client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    sandbox = start("gr4vy")

    response = client.post(f"{sandbox.base_url}/__sandbox/faults", json=body)

    assert response.status_code == 400
    assert field in response.json()["error"]
    assert sandbox.faults.active() == []


@pytest.mark.parametrize("seconds", ["1e400", "Infinity", "NaN"])
def test_admin_refuses_delays_beyond_a_float(
    start: Start, client: httpx.Client, seconds: str
) -> None:
    sandbox = start("gr4vy")

    response = client.post(
        f"{sandbox.base_url}/__sandbox/faults",
        content=f'{{"name": "delay", "seconds": {seconds}}}',
    )

    assert response.status_code == 400
    assert "seconds" in response.json()["error"]


def test_the_bounds_themselves_are_accepted(start: Start, client: httpx.Client) -> None:
    sandbox = start("surecart")
    admin = f"{sandbox.base_url}/__sandbox"

    refund = client.post(f"{admin}/refunds", json={"amount": 1, "created_at": 0})
    html = client.post(f"{admin}/faults", json={"name": "html", "status": 599, "times": 1})
    delay = client.post(f"{admin}/faults", json={"name": "delay", "seconds": MAX_DELAY_SECONDS})
    low = client.post(f"{admin}/faults", json={"name": "html", "status": 100})

    assert refund.status_code == html.status_code == delay.status_code == low.status_code == 201
    assert delay.json()["seconds"] == MAX_DELAY_SECONDS
    assert refund.json()["amount"] == 1


def test_python_api_refuses_the_same(start: Start) -> None:
    sandbox = start("convergegate")

    with pytest.raises(ValueError, match="amount"):
        sandbox.create_refund(amount=12.7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="amount"):
        sandbox.create_refund(amount=True)
    with pytest.raises(TypeError, match="currency"):
        sandbox.create_refund(currency=840)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        sandbox.add_fault("html", status=99)
    with pytest.raises(ValueError, match="status"):
        sandbox.add_fault("html", status=1000)
    with pytest.raises(ValueError, match="seconds"):
        sandbox.add_fault("delay", seconds=1e308)
    with pytest.raises(ValueError, match="seconds"):
        sandbox.add_fault("delay", seconds=float("inf"))
    with pytest.raises(TypeError, match="times"):
        sandbox.add_fault("server_error", times=1.5)  # type: ignore[arg-type]
    assert sandbox.refund_ids() == []
    assert sandbox.faults.active() == []
