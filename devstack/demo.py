"""`make demo`: the whole service, end to end, in under a minute, with nothing but this repo.

Starts the local stack, gives each provider's sandbox four refunds with scripted lives (one
that succeeds after a few checks, one that fails, one that fails late after succeeding, one
that does not exist), reads each through the API, starts a watch on each and waits for the
poller (waits shortened through the watch's schedule overrides, not by editing the ASL),
asks for a refresh of the late failure, and prints what was observed and stored. Two
merchant accounts at each provider hold one same refund id, one succeeding and one failing:
their answers and records stay apart. Last, each refund's events as a consumer's queue on the
stack's bus received them: one per history entry, numbered in order, and one for each poll
that ended without a final status.
Exits 1 if anything did not come out as scripted.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from devstack.event_tap import one_line
from devstack.stack import ACCOUNTS, PROVIDERS, LocalStack, StackPorts

# The overrides of contract section 5: checks about a second apart, a short budget.
FAST_WATCH = {"first_check_seconds": 1, "max_interval_seconds": 1, "budget_seconds": 40}
WAIT_SECONDS = 45


@dataclass(frozen=True)
class Scenario:
    name: str
    life: dict[str, list[str]] | None  # per provider; None: the refund does not exist
    expected_status: str | None  # final stored status
    expected_state: str  # final polling_state
    late_failure: bool = False


SCENARIOS = (
    Scenario(
        "succeeds",
        {
            "convergegate": ["pending", "pending", "succeeded"],
            "surecart": ["pending", "pending", "succeeded"],
            "gr4vy": ["processing", "processing", "succeeded"],
            "shoplazza": ["processing", "processing", "succeeded"],
        },
        "succeeded",
        "settled",
    ),
    Scenario(
        "fails",
        {
            "convergegate": ["pending", "failed"],
            "surecart": ["pending", "failed"],
            "gr4vy": ["processing", "declined"],
            "shoplazza": ["processing", "failed"],
        },
        "failed",
        "settled",
    ),
    Scenario(
        "fails late",
        {
            "convergegate": ["pending", "succeeded", "failed"],
            "surecart": ["pending", "succeeded", "failed"],
            "gr4vy": ["processing", "succeeded", "failed"],
            "shoplazza": ["processing", "succeeded", "failed"],
        },
        "failed",
        "settled",
        late_failure=True,
    ),
    Scenario("not found", None, None, "not_found"),
)


@dataclass
class Row:
    provider: str
    scenario: Scenario
    refund_id: str
    account: str = "default"
    first_answer: str = ""
    record: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The refund's route: `/refunds/...`, or its account's."""
        route = f"/refunds/{self.provider}/{self.refund_id}"
        return route if self.account == "default" else f"/accounts/{self.account}{route}"

    @property
    def ok(self) -> bool:
        record = self.record or {}
        return (
            record.get("status") == self.scenario.expected_status
            and record.get("polling_state") == self.scenario.expected_state
            and bool(record.get("late_failure")) == self.scenario.late_failure
            and record.get("account") == self.account
            and self.events_match_history
        )

    @property
    def events_match_history(self) -> bool:
        """One Status Changed per history entry, numbered 1..n in order, and a Polling Ended
        for a poll that ended without a final status."""
        record = self.record or {}
        changes = [e["detail"] for e in self.events if e["detail-type"] == "Refund Status Changed"]
        ended = [e["detail"] for e in self.events if e["detail-type"] == "Refund Polling Ended"]
        history = [entry["status"] for entry in record.get("history", [])]
        return (
            [c["status"] for c in changes] == history
            and [c["metadata"]["sequence"] for c in changes] == list(range(1, len(history) + 1))
            and [e["polling_state"] for e in ended]
            == ([] if self.scenario.expected_state == "settled" else [self.scenario.expected_state])
        )


def run_demo(stack: LocalStack, out: Any = sys.stdout) -> bool:
    rows = _create_refunds(stack)
    with httpx.Client(base_url=stack.url, timeout=30) as api:
        for row in rows:
            answer = api.get(row.path)
            body = answer.json()
            row.first_answer = (
                f"{answer.status_code} {body['status']} ({body['provider_status']})"
                if answer.status_code == 200
                else f"{answer.status_code} {body['error']['code']}"
            )
        for row in rows:
            api.post(f"{row.path}/watch", json=FAST_WATCH)
        _wait_until_settled(api, rows)
        # The late failures settled at `succeeded`; a refresh poll sees them fail.
        late = [row for row in rows if row.scenario.late_failure]
        for row in late:
            api.post(
                f"{row.path}/watch",
                params={"refresh": "true"},
                json=FAST_WATCH,
            )
        _wait_until_settled(api, late)
        unfinished = _list_unfinished(api)
    _collect_events(stack, rows)
    _print_table(rows, out)
    _print_events(rows, out)
    expected = {
        row.refund_id for row in rows if row.scenario.expected_state != "settled"
        and row.account == "default"
    }  # fmt: skip
    out.write(
        "\nrefunds whose poll ended without a final status, newest first, one call "
        "(GET /refunds?polling_state=not_found):\n"
    )
    for record in unfinished:
        out.write(
            f"  {record['provider']:13} {record['refund_id']:38} checks {record['checks']:>2}"
            f"  last error {record['last_error']}\n"
        )
    listed = {record["refund_id"] for record in unfinished}
    return all(row.ok for row in rows) and listed == expected


def _collect_events(stack: LocalStack, rows: list[Row]) -> None:
    """Each row's events, as the tap (a consumer's queue on the bus) received them."""
    if stack.aws is None or stack.event_tap is None:
        raise RuntimeError("the local stack is not running")
    stack.aws.wait_for_pipes()
    stack.event_tap.collect()
    for row in rows:
        row.events = stack.event_tap.of_refund(row.provider, row.account, row.refund_id)


def _print_events(rows: list[Row], out: Any) -> None:
    total = sum(len(row.events) for row in rows)
    out.write(
        f"\nrefund events on the bus: {total}, one per history entry and one per poll that "
        "ended without a final status, each refund's in order (as a consumer's queue got them):\n"
    )
    for row in rows:
        for event in row.events:
            out.write(f"  {one_line(event)}\n")


def _list_unfinished(api: httpx.Client) -> list[dict[str, Any]]:
    answer = api.get("/refunds", params={"polling_state": "not_found", "limit": "100"})
    answer.raise_for_status()
    records: list[dict[str, Any]] = answer.json()["records"]
    return records


def _create_refunds(stack: LocalStack) -> list[Row]:
    rows = []
    for scenario in SCENARIOS:
        for provider in PROVIDERS:
            sandbox = stack.sandboxes[provider]
            if scenario.life is None:
                refund_id = f"demo-missing-{provider}"
            else:
                currency = {"shoplazza": "JPY", "convergegate": None}.get(provider, "USD")
                refund_id = sandbox.create_refund(
                    amount=1450, currency=currency, life=scenario.life[provider]
                )
            rows.append(Row(provider, scenario, refund_id))
    # One refund id at both accounts of each provider: the first succeeds, the second fails.
    for provider in PROVIDERS:
        refund_id = f"demo-shared-{provider}"
        for account, scenario in zip(ACCOUNTS, SCENARIOS[:2], strict=True):
            life = (scenario.life or {})[provider]
            stack.account_sandboxes[provider, account].create_refund(
                amount=990, life=life, refund_id=refund_id
            )
            rows.append(Row(provider, scenario, refund_id, account))
    return rows


def _wait_until_settled(api: httpx.Client, rows: list[Row]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    pending = list(rows)
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        still = []
        for row in pending:
            answer = api.get(f"{row.path}/watch")
            row.record = answer.json() if answer.status_code == 200 else None
            if row.record is None or row.record.get("polling_state") == "polling":
                still.append(row)
        pending = still


def _print_table(rows: list[Row], out: Any) -> None:
    header = (
        f"{'provider':13} {'account':8} {'scenario':11} {'refund id':38} {'GET now':30} "
        f"{'stored':10} {'polling':10} {'checks':>6}  {'late':5} history"
    )
    out.write(header + "\n" + "-" * len(header) + "\n")
    for row in rows:
        record = row.record or {}
        history = " → ".join(h["status"] for h in record.get("history", [])) or "-"
        late = "yes" if record.get("late_failure") else "no"
        mark = "" if row.ok else "   << not as scripted"
        out.write(
            f"{row.provider:13} {row.account:8} {row.scenario.name:11} {row.refund_id[:38]:38} "
            f"{row.first_answer:30} {record.get('status') or '-':10} "
            f"{record.get('polling_state') or '-':10} {record.get('checks', 0):>6}  {late:5} "
            f"{history}{mark}\n"
        )


def main() -> int:
    started = time.monotonic()
    print("starting the local stack (moto, four sandboxes, the API gateway)…", flush=True)
    with LocalStack(ports=StackPorts(gateway=0, aws=0, sandbox=0), quiet=True) as stack:
        print(f"API at {stack.url}; running the demo…\n", flush=True)
        ok = run_demo(stack)
    print(f"\n{'all as scripted' if ok else 'SOME ROWS ARE NOT AS SCRIPTED'}"
          f" ({time.monotonic() - started:.1f} s)")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
