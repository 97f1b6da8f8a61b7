"""The fleet on a simulated clock: the real batch, check, schedule and rate limit, many refunds.

Run `python -m bench.fleet_sim [--quick] [--refunds N] [--json PATH]`.

What runs is the deployed code: every minute (the template's FleetTickSchedule) each account
with a refund due gets `refund_core.fleet.batch.run_batch` with `check_due`, whose checks are
`run_check` with the template's schedule defaults, each provider call taking its turn from the
real `AccountRateLimit` at the template's per-provider rate. Only three things are stand-ins:
the clock (`SimClock`), the providers (each refund has a scripted life: pending, then final
after minutes, hours, a day, a week, or never; a few never exist), and the stores.

Two runs, one scenario each:

- **small**: a few hundred refunds on both DynamoDB Local (the real `RefundRecords`,
  `FleetRegistry` and rate items, through boto3) and the in-memory stores of
  `bench.fleet_store`. Every store method must be called the same number of times with the same
  outcomes on both. DynamoDB Local also answers each call's consumed capacity
  (`ReturnConsumedCapacity=INDEXES`), which gives the AWS calls and write/read units each
  method costs.
- **large**: 100,000 refunds on the in-memory stores; its method counts times the small run's
  per-method AWS calls are "every AWS call counted by kind".

Time model: a batch runs on its own clock from its tick (accounts are independent: their own
queue, rate item and provider budget). A provider call takes its account's turn, then takes
`PROVIDER_SECONDS`; a batch's workers overlap calls, so a check advances the batch's clock by
`PROVIDER_SECONDS / workers`; the change a call reads is seen when the call ends. Detection
delay is that end minus the moment the refund became final, against section 5's bar
max(2 minutes, 25% of the refund's age then). Requests per second: the most turns of one
account in any half-open one-second window.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench import fleet_cost, polling_plot
from bench.fleet_store import MemRateClient, MemRecords, MemRegistry, MemStore
from refund_core.errors import RefundNotFound
from refund_core.fleet.batch import check_due, run_batch, workers_for
from refund_core.model import Refund, RefundStatus
from refund_core.rate_limit import AccountRateLimit

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "fleet.json"
PROVIDER_SECONDS = 0.25  # one provider round trip
START = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
TITLES = {
    "convergegate": "ConvergeGate",
    "surecart": "SureCart",
    "gr4vy": "Gr4vy",
    "shoplazza": "Shoplazza",
}


def _template_parameters() -> dict[str, Any]:
    """template.yaml's parameter defaults, as SAM's transform reads them."""
    from devstack import sam

    parameters = sam.transformed_template(ROOT / "template.yaml")["Parameters"]
    return {name: spec["Default"] for name, spec in parameters.items() if "Default" in spec}


_DEFAULT = _template_parameters()
TICK_SECONDS = float(_DEFAULT["FleetTickSeconds"])
BATCH_SECONDS = float(_DEFAULT["FleetBatchSeconds"])
# Each provider's schedule and rate, as a deployed function gets them (its POLL_* variables).
DEFAULTS = {
    provider: {
        "first_check_seconds": str(_DEFAULT[f"{title}PollFirstCheckSeconds"]),
        "max_interval_seconds": str(_DEFAULT[f"{title}PollMaxIntervalSeconds"]),
        "budget_seconds": str(_DEFAULT["PollBudgetSeconds"]),
        "max_checks": str(_DEFAULT["PollMaxChecks"]),
        "not_found_grace_seconds": str(_DEFAULT["PollNotFoundGraceSeconds"]),
        "first_check_floor_seconds": str(_DEFAULT["PollMinFirstCheckSeconds"]),
        "max_interval_floor_seconds": str(_DEFAULT["PollMinIntervalSeconds"]),
    }
    for provider, title in TITLES.items()
}
RATES = {p: float(_DEFAULT[f"{t}AccountRatePerSecond"]) for p, t in TITLES.items()}
# How long refunds take to finish, and how many of each (section 8's "a mix").
MIX: Sequence[tuple[str, float, tuple[float, float] | None]] = (
    ("minutes", 0.20, (60.0, 1_800.0)),
    ("hours", 0.30, (3_600.0, 12 * 3_600.0)),
    ("a day", 0.30, (20 * 3_600.0, 28 * 3_600.0)),
    ("a week", 0.14, (6.5 * 86_400.0, 7.5 * 86_400.0)),
    ("never", 0.05, None),  # the 30-day budget ends the poll
    ("missing", 0.01, None),  # never exists: not found after the grace period
)


@dataclass(frozen=True)
class AccountSpec:
    provider: str
    account: str
    share: float  # of the scenario's refunds
    over_budget: bool = False  # more checks than its rate allows, on purpose


# Several accounts per provider; one Shoplazza store gets more than 1 request/s can serve.
ACCOUNTS = (
    AccountSpec("gr4vy", "marketplace-eu", 0.27),
    AccountSpec("gr4vy", "marketplace-us", 0.20),
    AccountSpec("convergegate", "acme", 0.15),
    AccountSpec("convergegate", "globex", 0.09),
    AccountSpec("surecart", "store-a", 0.12),
    AccountSpec("surecart", "store-b", 0.07),
    AccountSpec("shoplazza", "small-shop", 0.015),
    AccountSpec("shoplazza", "flash-sale", 0.085, over_budget=True),
)


class SimClock:
    def __init__(self) -> None:
        self.t = START

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, tz=UTC)

    def seconds(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)


@dataclass
class Life:
    provider: str
    account: str
    refund_id: str
    kind: str
    created: float
    final_at: float | None  # None: pending forever (or missing)
    seen_at: float | None = None
    checks: int = 0  # provider calls made for it


class SimProviders:
    """Every provider's API, as seen through the account's rate limit."""

    def __init__(self, clock: SimClock, limits: Mapping[tuple[str, str], AccountRateLimit]):
        self.clock, self.limits = clock, limits
        self.lives: dict[tuple[str, str, str], Life] = {}
        self.turns: dict[tuple[str, str], list[float]] = {key: [] for key in limits}
        self.workers: dict[tuple[str, str], int] = {}

    def clients(self, provider: str) -> Any:
        return _ProviderClients(self, provider)


class _ProviderClients:
    def __init__(self, providers: SimProviders, provider: str) -> None:
        self._p, self._provider = providers, provider

    def fetch_refund(self, refund_id: str, *, account: str, **limits: Any) -> Refund:
        p, key = self._p, (self._provider, account)
        turn = p.limits[key].acquire(
            account,
            max_wait_seconds=limits.get("rate_wait_seconds"),
            ahead_seconds=limits.get("rate_ahead_seconds", 0.0),
        )
        p.turns[key].append(turn)
        p.clock.sleep(PROVIDER_SECONDS / p.workers[key])
        life = p.lives[(self._provider, account, refund_id)]
        life.checks += 1
        if life.kind == "missing":
            raise RefundNotFound("no such refund", provider=self._provider)
        final = life.final_at is not None and turn >= life.final_at
        if final and life.seen_at is None:
            life.seen_at = turn + PROVIDER_SECONDS
        status = RefundStatus.SUCCEEDED if final else RefundStatus.PENDING
        return Refund(
            provider=self._provider,
            account=account,
            refund_id=refund_id,
            status=status,
            provider_status=status.value,
            amount=2500,
            currency="USD",
            fetched_at=p.clock.now(),
        )


class Counted:
    """Counts calls of an object's methods, and their outcomes (a WriteResult's); with a
    meter, the AWS calls each one makes are booked under it."""

    meter: Any = None
    _lock = threading.Lock()  # a batch's two threads count into one Counter

    def __init__(self, target: Any, name: str, counts: Counter[str]) -> None:
        self._target, self._name, self._counts = target, name, counts

    def __getattr__(self, method: str) -> Any:
        inner = getattr(self._target, method)
        key = f"{self._name}.{method}"

        def call(*args: Any, **kwargs: Any) -> Any:
            with Counted._lock:
                self._counts[key] += 1
            if Counted.meter is not None:
                Counted.meter.begin()
            label = key
            try:
                result = inner(*args, **kwargs)
                outcome = getattr(result, "outcome", None)
                if outcome is not None:
                    label = f"{key}:{outcome.value}"
                    with Counted._lock:
                        self._counts[label] += 1
                return result
            finally:
                if Counted.meter is not None:
                    Counted.meter.end(label)

        return call


@dataclass
class RunResult:
    refunds: int
    checks: int
    calls: Counter[str]
    batches: int
    batch_seconds: float
    lives: list[Life]
    turns: dict[tuple[str, str], list[float]]
    behind: dict[tuple[str, str], float]
    # Per account: the batches' billed seconds and the checks they made.
    account_seconds: Counter[tuple[str, str]] = field(default_factory=Counter)
    account_checks: Counter[tuple[str, str]] = field(default_factory=Counter)
    ended_at: float = math.inf  # the simulated horizon's end

    def per_account(self, scenario: Sequence[AccountSpec]) -> list[dict[str, Any]]:
        rows = []
        for spec in scenario:
            key = (spec.provider, spec.account)
            lives = [life for life in self.lives if (life.provider, life.account) == key]
            # Refunds whose bar ran out before the simulation ended (the others may be seen
            # just after it).
            judged = [
                life
                for life in lives
                if life.final_at is not None and life.final_at + _bar(life) <= self.ended_at
            ]
            ratios = [_detection_ratio(life) for life in judged]
            most = most_in_one_second(self.turns[key])
            rows.append(
                {
                    "provider": spec.provider,
                    "account": spec.account,
                    "rate_per_second": RATES[spec.provider],
                    "refunds": len(lives),
                    "requests": len(self.turns[key]),
                    "most_requests_in_one_second": most,
                    "rate_ratio": most / RATES[spec.provider],
                    "worst_detection_ratio": max(ratios, default=0.0),
                    "over_budget": spec.over_budget,
                    "never_checked": sum(1 for life in judged if life.seen_at is None),
                    "most_behind_seconds": self.behind.get(key, 0.0),
                    "batch_seconds": round(self.account_seconds[key], 1),
                    "checks": self.account_checks[key],
                }
            )
        return rows


def _bar(life: Life) -> float:
    """Section 5's bar for this refund's change: max(2 minutes, 25% of its age then)."""
    return fleet_cost.detection_bar((life.final_at or life.created) - life.created)


def _detection_ratio(life: Life) -> float:
    if life.final_at is None:
        return 0.0
    if life.seen_at is None:
        return math.inf
    return (life.seen_at - life.final_at) / _bar(life)


def most_in_one_second(turns: Sequence[float]) -> int:
    """The most turns in any half-open window [t, t + 1 s)."""
    ordered, most, first = sorted(turns), 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


def lives_for(refunds: int, arrival_seconds: float, seed: int) -> list[Life]:
    rng = random.Random(seed)
    lives = []
    for n in range(refunds):
        spec = rng.choices(ACCOUNTS, weights=[a.share for a in ACCOUNTS])[0]
        kind, _, span = rng.choices(MIX, weights=[m[1] for m in MIX])[0]
        # Distinct milliseconds: two refunds never tie in a queue (DynamoDB's tie order is
        # not ours to copy).
        created = START + round(rng.uniform(0, arrival_seconds), 3) + n * 1e-6
        final_at = None if span is None else created + rng.uniform(*span)
        lives.append(Life(spec.provider, spec.account, f"re-{n:06d}", kind, created, final_at))
    return sorted(lives, key=lambda life: life.created)


@dataclass
class Stores:
    records: Any
    registry: Any
    rate_client: Callable[[], Any]
    table: str
    earliest: Callable[[str, str], float | None]  # the next due time of a queue, or None


def memory_stores() -> Stores:
    store, rates = MemStore(), MemRateClient()

    def earliest(provider: str, account: str) -> float | None:
        due = store.earliest_due_ms(provider, account)
        return None if due is None else due / 1000

    return Stores(MemRecords(store), MemRegistry(store), lambda: rates, "memory", earliest)


def simulate(
    refunds: int,
    *,
    stores: Stores,
    arrival_seconds: float,
    horizon_seconds: float,
    seed: int = 7,
) -> RunResult:
    clock, calls = SimClock(), Counter[str]()
    limits = {
        (a.provider, a.account): Counted(
            AccountRateLimit(
                stores.rate_client,
                stores.table,
                a.provider,
                RATES[a.provider],
                clock=clock.seconds,
                sleep=clock.sleep,
            ),
            "rate",
            calls,
        )
        for a in ACCOUNTS
    }
    providers = SimProviders(clock, limits)  # type: ignore[arg-type]
    records = Counted(stores.records, "records", calls)
    registry = Counted(stores.registry, "registry", calls)
    rng = random.Random(seed + 1)
    lives = lives_for(refunds, arrival_seconds, seed)
    pending = iter(lives)
    upcoming = next(pending, None)
    behind: dict[tuple[str, str], float] = {}
    batches, batch_seconds, checks = 0, 0.0, 0
    account_seconds, account_checks = Counter[tuple[str, str]](), Counter[tuple[str, str]]()
    tick = START
    while tick <= START + horizon_seconds:
        while upcoming is not None and upcoming.created <= tick:
            providers.lives[(upcoming.provider, upcoming.account, upcoming.refund_id)] = upcoming
            clock.t = upcoming.created
            registry.register(
                upcoming.provider,
                upcoming.refund_id,
                account=upcoming.account,
                overrides={},
                now=clock.now(),
            )
            upcoming = next(pending, None)
        for spec in ACCOUNTS:
            key = (spec.provider, spec.account)
            due = stores.earliest(*key)
            if due is None or due > tick + TICK_SECONDS:  # the batch's lookahead: one tick
                continue
            clock.t = tick
            providers.workers[key] = workers_for(RATES[spec.provider])
            report = run_batch(
                spec.provider,
                spec.account,
                registry=registry,  # type: ignore[arg-type]
                check=partial(
                    check_due,
                    defaults=DEFAULTS[spec.provider],
                    clients=providers.clients(spec.provider),
                    records=records,
                    now=clock.now,
                    uniform=rng.uniform,
                    registry=registry,
                ),
                seconds=BATCH_SECONDS,
                workers=1,  # one thread: the clock is one (see the module docstring)
                lookahead_seconds=TICK_SECONDS,
                now=clock.now,
                monotonic=clock.seconds,
            )
            batches += 1
            batch_seconds += clock.t - tick
            checks += report.checked
            account_seconds[key] += clock.t - tick
            account_checks[key] += report.checked
            behind[key] = max(behind.get(key, 0.0), report.behind_seconds)
        tick = _next_tick(tick, upcoming, stores)
    return RunResult(
        refunds,
        checks,
        calls,
        batches,
        batch_seconds,
        lives,
        providers.turns,
        behind,
        account_seconds,
        account_checks,
        START + horizon_seconds,
    )


def _next_tick(tick: float, upcoming: Life | None, stores: Stores) -> float:
    """The next tick anything happens at (the idle ones between cost the same: they are
    priced from the schedule, not counted here): a refund arrives, or one falls due within
    a tick's lookahead."""
    ahead = []
    for a in ACCOUNTS:
        due = stores.earliest(a.provider, a.account)
        if due is not None:
            ahead.append(math.ceil((due - TICK_SECONDS - tick) / TICK_SECONDS))
    if upcoming is not None:
        ahead.append(math.ceil((upcoming.created - tick) / TICK_SECONDS))
    return math.inf if not ahead else tick + max(1, min(ahead)) * TICK_SECONDS


# ------------------------------------------------------------------------ DynamoDB Local


@contextmanager
def dynamodb_local_stores() -> Iterator[Stores]:
    """The real stores on DynamoDB Local, every call metered by the store method making it."""
    from devstack.aws.template import load_template
    from refund_core.fleet.registry import FleetRegistry
    from refund_core.poller.records import RefundRecords
    from tests.dynamodb_local import create_table, running_dynamodb_local

    definition = load_template(ROOT / "template.yaml").tables["RefundRecordsTable"]
    with running_dynamodb_local() as client:
        table = create_table(client, definition)
        meter = fleet_cost.AwsMeter()
        meter.attach(client)
        registry = FleetRegistry(client, table)

        def earliest(provider: str, account: str) -> float | None:
            # The simulation's own look: booked under no method, so priced nowhere.
            far = datetime(2100, 1, 1, tzinfo=UTC)
            due, _ = registry.due(provider, account, now=far, limit=1)
            return due[0].due_at_ms / 1000 if due else None

        stores = Stores(RefundRecords(client, table), registry, lambda: client, table, earliest)
        stores.meter = meter  # type: ignore[attr-defined]
        yield stores


def compare(memory: RunResult, local: RunResult, tolerance: float = 0.02) -> dict[str, Any]:
    """Both backends on one scenario: the same store calls, outcomes, checks and turns, within
    `tolerance`. (Not exactly: DynamoDB's indexes are eventually consistent, DynamoDB Local's
    too, so a query just after a write can see the refund's old place: a batch for nothing, or
    a check its refresh then refuses. The differences are listed.)"""

    def counts(run: RunResult) -> dict[str, int]:
        provider_requests = sum(len(t) for t in run.turns.values())
        return {**run.calls, "checks": run.checks, "provider_requests": provider_requests}

    mine, theirs = counts(memory), counts(local)
    differ = {
        k: (mine.get(k, 0), theirs.get(k, 0))
        for k in sorted(mine.keys() | theirs.keys())
        if mine.get(k, 0) != theirs.get(k, 0)
    }
    within = all(abs(a - b) <= tolerance * max(a, b) for a, b in differ.values())
    return {
        "equal": within,
        "exactly": not differ,
        "tolerance": tolerance,
        "differ": differ,
        "counts": theirs,
    }


def measure(*, quick: bool, refunds: int = 100_000, small: int = 300) -> dict[str, Any]:
    """Both runs (see the module docstring); the result fleet.json holds."""
    small, large = (40, 400) if quick else (small, refunds)
    small_horizon = (1.0 if quick else 2.0) * 86_400
    started = time.perf_counter()
    with dynamodb_local_stores() as local_stores:
        meter: fleet_cost.AwsMeter = local_stores.meter  # type: ignore[attr-defined]
        Counted.meter = meter
        try:
            local = simulate(
                small, stores=local_stores, arrival_seconds=3_600, horizon_seconds=small_horizon
            )
        finally:
            Counted.meter = None
    memory_small = simulate(
        small, stores=memory_stores(), arrival_seconds=3_600, horizon_seconds=small_horizon
    )
    agreement = compare(memory_small, local)
    big_stores = memory_stores()
    big = simulate(large, stores=big_stores, arrival_seconds=86_400, horizon_seconds=32 * 86_400)
    profile = meter.per_method(local.calls)
    # A turn's writes depend on how busy the account is, so the large run's own count of them
    # (its rate client's) stands in for the small run's ratio: one write unit each, as
    # DynamoDB Local measures for the rate item.
    rates: MemRateClient = big_stores.rate_client()
    acquires = max(1, big.calls["rate.acquire"])
    profile["rate.acquire"] = {
        "UpdateItem": rates.granted / acquires,
        "UpdateItem:ConditionalCheckFailedException": rates.refused / acquires,
        "write_units": (rates.granted + rates.refused) / acquires,
    }
    result = fleet_cost.report(big, profile, agreement, ACCOUNTS, MIX)
    result["small_run"]["refunds"] = small
    result["seconds_to_run"] = round(time.perf_counter() - started, 1)
    return result


def bars(result: Mapping[str, Any]) -> list[tuple[str, float, str, bool]]:
    """Section 8's bars, as `python -m bench` lists them."""
    cost = result["monthly_cost_usd"]
    equal = result["small_run"]["dynamodb_local_equals_memory"]
    return [
        (
            "fleet: worst requests in one second / rate",
            result["worst_rate_ratio"],
            "<= 1.0",
            result["worst_rate_ratio"] <= 1.0,
        ),
        (
            "fleet: worst detection delay / bar (within budget)",
            result["worst_detection_ratio"],
            "<= 1.0",
            result["worst_detection_ratio"] <= 1.0,
        ),
        (
            "fleet: $ a month at 1 million refunds a day",
            cost["one_million_a_day"],
            "<= 3000",
            cost["one_million_a_day"] <= 3000,
        ),
        ("fleet: $ a month with no refunds", cost["idle"], "<= 5", cost["idle"] <= 5),
        (
            "fleet: DynamoDB Local's store calls match in-memory's (within 2%)",
            1.0 if equal else 0.0,
            "== 1",
            equal,
        ),
    ]


def write(result: Mapping[str, Any], *, quick: bool, path: Path | None = None) -> list[Path]:
    path = path or (RESULT.with_name("fleet-quick.json") if quick else RESULT)
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    picture = RESULT.with_name("fleet-quick.png") if quick else polling_plot.OUTPUT
    return [path, polling_plot.draw(result, picture)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (figures mean nothing)")
    parser.add_argument("--refunds", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    result = measure(quick=args.quick, refunds=args.refunds, small=args.small)
    sys.stdout.write(fleet_cost.format_report(result) + "\n")
    for written in write(result, quick=args.quick, path=args.json):
        sys.stdout.write(f"wrote {written}\n")
    return 0 if all(ok for *_, ok in bars(result)) else 1


if __name__ == "__main__":
    raise SystemExit(main())
