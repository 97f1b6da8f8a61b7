"""What the fleet's AWS calls cost: metered on DynamoDB Local, priced at AWS list prices.

`AwsMeter` hooks a boto3 DynamoDB client (botocore's own events): it asks every call for
`ReturnConsumedCapacity=INDEXES` and books the call, its error code if refused, and the write
or read units DynamoDB Local answers, under the store method that made it. `per_method` turns
that into a profile: per call of `records.record_observation`, so many `UpdateItem`s, so many
`TransactWriteItems`, so many write units. `report` multiplies the large run's method counts
by that profile, and prices a month. Prices are us-east-1 list prices as of 2026-12 (AWS's
pricing pages for each service); each constant below names its own.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

# DynamoDB on demand: $0.625 per million write request units, $0.125 per million read units;
# a failed conditional write still consumes a write unit per KB (we book 1: items are small
# or the write is the record's first); storage $0.25 per GB-month.
DYNAMODB_PER_WRU = 0.625 / 1e6
DYNAMODB_PER_RRU = 0.125 / 1e6
DYNAMODB_PER_GB_MONTH = 0.25
PITR_PER_GB_MONTH = 0.20
# Provisioned capacity (RecordsCapacityMode=provisioned): $0.00065 per write-unit-hour,
# $0.00013 per read-unit-hour; auto scaling keeps use at its 70% target.
WCU_HOUR = 0.00065
RCU_HOUR = 0.00013
TARGET_USE = 0.70
# Lambda arm64: $0.20 per million requests, $0.0000133334 per GB-second; the functions have
# 256 MB (template.yaml Globals).
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000133334
LAMBDA_GB = 0.25
# Step Functions: Express $1.00 per million requests and $0.00001667 per GB-second (64 MB
# billed); Standard $0.025 per 1,000 state transitions.
EXPRESS_PER_REQUEST = 1.0 / 1e6
EXPRESS_PER_GB_SECOND = 0.00001667
EXPRESS_GB = 0.0625
STANDARD_PER_TRANSITION = 0.025 / 1000
# EventBridge: custom events $1.00 per million; Pipes $0.40 per million requests (after the
# filter); Scheduler: 14 million invocations a month free, then $1.00 per million.
EVENTS_PER_EVENT = 1.0 / 1e6 + 0.40 / 1e6
SCHEDULER_FREE = 14_000_000
# DynamoDB Streams read by the Pipe: about 4 GetRecords a second per shard, $0.02 per 100,000.
STREAM_SHARD_MONTH = 4 * 86_400 * 30 * 0.02 / 100_000
# Secrets Manager: $0.40 per secret-month, $0.05 per 10,000 calls (cached per container).
SECRET_MONTH = 0.40
SECRET_PER_CALL = 0.05 / 10_000

MONTH_SECONDS = 30 * 86_400
TICKS_A_MONTH = MONTH_SECONDS / 60
# The contract's load (section 8): 1 million refunds a day, 30 million a month, each settling
# after about a day; served by this many merchant accounts (each one a secret and a queue).
REFUNDS_A_MONTH = 30_000_000
ACCOUNTS_AT_SCALE = 100
# A record with its history is about 1.5 KB and lives 180 days after its last check (TTL).
RECORD_KB = 1.5
RETENTION_DAYS = 180
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


class AwsMeter:
    """Books each DynamoDB call of one client under the store method making it, and under
    that method's outcome when it has one (`begin`/`end` bracket each method call)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.units: defaultdict[tuple[str, str], float] = defaultdict(float)
        self._open = threading.local()
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._book)

    def begin(self) -> None:
        self._open.booked = []

    def end(self, label: str) -> None:
        with self._lock:
            for what, units in getattr(self._open, "booked", []):
                self.calls[(label, what)] += 1
                for kind, n in units.items():
                    self.units[(label, kind)] += n
        self._open.booked = []

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in ("DescribeTable", "CreateTable", "DeleteTable", "ListTables"):
            params.setdefault("ReturnConsumedCapacity", "INDEXES")

    def _book(self, http_response: Any, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        operation = model.name
        error = parsed.get("Error", {}).get("Code")
        kind = "write_units" if operation in WRITES else "read_units"
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = {kind: sum(float(e.get("CapacityUnits", 0.0)) for e in entries)}
        if error and kind == "write_units" and not entries:
            units[kind] = 1.0  # a refused condition still costs a unit
        booked = getattr(self._open, "booked", None)
        if booked is not None:
            booked.append((operation if not error else f"{operation}:{error}", units))

    def per_method(self, method_calls: Mapping[str, int]) -> dict[str, dict[str, float]]:
        """Per call of each store method (or method:outcome): AWS calls by kind, units."""
        profile: dict[str, dict[str, float]] = {}
        for (label, what), n in self.calls.items():
            if method_calls.get(label):
                profile.setdefault(label, {})[what] = n / method_calls[label]
        for (label, kind), units in self.units.items():
            if method_calls.get(label):
                profile.setdefault(label, {})[kind] = units / method_calls[label]
        return profile


def aws_calls(
    calls: Mapping[str, int], profile: Mapping[str, Mapping[str, float]]
) -> dict[str, Any]:
    """A run's store-method counts as AWS calls by kind, and DynamoDB's units."""
    kinds: Counter[str] = Counter()
    for method, n in calls.items():
        for what, per in profile.get(method, {}).items():
            kinds[what if what.endswith("_units") else f"dynamodb:{what}"] += n * per
    return {k: round(v) for k, v in sorted(kinds.items())}


def report(
    run: Any,
    profile: Mapping[str, Mapping[str, float]],
    agreement: Mapping[str, Any],
    accounts: Sequence[Any],
    mix: Sequence[Any],
) -> dict[str, Any]:
    rows = run.per_account(accounts)
    kinds = aws_calls(run.calls, profile)
    checks = max(1, run.checks)
    day_lives = [life for life in run.lives if life.kind == "a day"]
    per_check = {
        "write_units": kinds.get("write_units", 0) / checks,
        "read_units": kinds.get("read_units", 0) / checks,
        "lambda_gb_seconds": LAMBDA_GB * run.batch_seconds / checks,
    }
    # The contract's load is served within every account's budget: a batch's billed time per
    # check there (an over-budget account's batch waits out its rate, 1 s a check at 1/s).
    within_seconds = sum(r["batch_seconds"] for r in rows if not r["over_budget"])
    within_checks = max(1, sum(r["checks"] for r in rows if not r["over_budget"]))
    per_check["lambda_gb_seconds_within_budget"] = LAMBDA_GB * within_seconds / within_checks
    checks_per_day_refund = _checks_per_refund(day_lives)
    modes = {
        mode: {
            "one_million_a_day": monthly_cost(
                per_check, checks_per_day_refund, events_per_refund=2, capacity=mode
            ),
            "idle": idle_cost(queues=len(accounts), capacity=mode),
        }
        for mode in ("on-demand", "provisioned")
    }
    # Each load at the capacity mode that serves it cheaper (one parameter; see the README).
    busy = min(modes, key=lambda m: modes[m]["one_million_a_day"]["total"])
    quiet = min(modes, key=lambda m: modes[m]["idle"]["total"])
    within = [r for r in rows if not r["over_budget"]]
    return {
        "refunds_simulated": run.refunds,
        "checks": run.checks,
        "batches": run.batches,
        "accounts": rows,
        "worst_rate_ratio": max(r["rate_ratio"] for r in rows),
        "worst_detection_ratio": max(r["worst_detection_ratio"] for r in within),
        "over_budget_accounts": [
            {
                k: r[k]
                for k in (
                    "provider",
                    "account",
                    "worst_detection_ratio",
                    "most_behind_seconds",
                    "never_checked",
                )
            }
            for r in rows
            if r["over_budget"]
        ],
        "aws_calls": kinds,
        "per_check": {k: round(v, 4) for k, v in per_check.items()},
        "checks_per_refund_settling_in_a_day": round(checks_per_day_refund, 1),
        "monthly_cost_usd": {
            "one_million_a_day": modes[busy]["one_million_a_day"]["total"],
            "one_million_a_day_capacity": busy,
            "idle": modes[quiet]["idle"]["total"],
            "idle_capacity": quiet,
            "by_capacity_mode": modes,
            "assumptions": {
                "refunds_a_month": REFUNDS_A_MONTH,
                "accounts": ACCOUNTS_AT_SCALE,
                "ticks_a_month": TICKS_A_MONTH,
                "record_kb": RECORD_KB,
                "retention_days": RETENTION_DAYS,
                "events_per_refund": 2,
            },
        },
        "quotas_at_ten_million_a_day": quotas(per_check, checks_per_day_refund, scale=10),
        "detection_by_age": detection_by_age(run, accounts),
        "instead": fixed_polling(modes[busy]["one_million_a_day"], checks_per_day_refund),
        "small_run": {
            "dynamodb_local_equals_memory": agreement["equal"],
            "exactly_equal": agreement["exactly"],
            "tolerance": agreement["tolerance"],
            "differences": agreement["differ"],
            "per_method": profile,
        },
        "mix": [{"kind": kind, "share": share} for kind, share, _ in mix],
    }


def _checks_per_refund(lives: Sequence[Any]) -> float:
    """The provider calls a refund of `lives` took, on average, until its poll ended."""
    return sum(life.checks for life in lives) / len(lives) if lives else 0.0


def monthly_cost(
    per_check: Mapping[str, float],
    checks_per_refund: float,
    *,
    events_per_refund: float,
    capacity: str,
) -> dict[str, float]:
    """A month at REFUNDS_A_MONTH (formulas in the item names' comments)."""
    checks = REFUNDS_A_MONTH * checks_per_refund
    queues = ACCOUNTS_AT_SCALE
    invocations = TICKS_A_MONTH * queues
    write_units, read_units = checks * per_check["write_units"], checks * per_check["read_units"]
    stored_gb = REFUNDS_A_MONTH / 30 * RETENTION_DAYS * RECORD_KB / 1e6
    items = {
        **_dynamodb(write_units, read_units, capacity),
        # Storage and point-in-time recovery: 180 days of records.
        "dynamodb_storage": stored_gb * (DYNAMODB_PER_GB_MONTH + PITR_PER_GB_MONTH),
        # One batch per queue per tick; each check's share of its batch's billed time (the
        # accounts within budget), plus a twentieth of a second per batch for its queries.
        "lambda_requests": invocations * LAMBDA_PER_REQUEST,
        "lambda_duration": (
            checks * per_check["lambda_gb_seconds_within_budget"] + invocations * 0.05 * LAMBDA_GB
        )
        * LAMBDA_PER_GB_SECOND,
        # Each tick lasts as long as its longest batch (50 s, when busy), at 64 MB.
        "step_functions_express": TICKS_A_MONTH
        * (EXPRESS_PER_REQUEST + 50 * EXPRESS_GB * EXPRESS_PER_GB_SECOND),
        "scheduler": max(0.0, TICKS_A_MONTH - SCHEDULER_FREE) / 1e6,
        # Each event: PutEvents, the Pipe's request, the enrichment's invocation (10 ms).
        "events": REFUNDS_A_MONTH
        * events_per_refund
        * (EVENTS_PER_EVENT + LAMBDA_PER_REQUEST + 0.01 * LAMBDA_GB * LAMBDA_PER_GB_SECOND),
        "stream_reads": 4 * STREAM_SHARD_MONTH,  # about 4 shards at ~2,000 write units/s
        # A secret per account and the stack's four; each container re-reads every 5 minutes.
        "secrets": (4 + queues) * SECRET_MONTH + queues * 12 * 24 * 30 * SECRET_PER_CALL,
    }
    return {**{k: round(v, 2) for k, v in items.items()}, "total": round(sum(items.values()), 2)}


def _dynamodb(write_units: float, read_units: float, capacity: str) -> dict[str, float]:
    """A month's units on demand, or as auto-scaled provisioned capacity (the average rate
    over the 70% target, every hour of the month)."""
    if capacity == "on-demand":
        return {
            "dynamodb_writes": write_units * DYNAMODB_PER_WRU,
            "dynamodb_reads": read_units * DYNAMODB_PER_RRU,
        }
    hours = MONTH_SECONDS / 3600
    return {
        "dynamodb_writes": write_units / MONTH_SECONDS / TARGET_USE * hours * WCU_HOUR,
        "dynamodb_reads": read_units / MONTH_SECONDS / TARGET_USE * hours * RCU_HOUR,
    }


def idle_cost(*, queues: int, capacity: str) -> dict[str, float]:
    """No refunds: the tick still runs every minute, each queue's batch finds nothing."""
    invocations = TICKS_A_MONTH * queues
    # The queue list (GetItem) each tick; two due queries per batch (0.5 RRU each).
    reads = TICKS_A_MONTH * 0.5 + invocations * 1.0
    dynamodb = (
        reads * DYNAMODB_PER_RRU
        if capacity == "on-demand"
        # Auto scaling's floor: 1 write and 1 read unit for the table and each of 2 indexes.
        else 3 * (WCU_HOUR + RCU_HOUR) * MONTH_SECONDS / 3600
    )
    items = {
        "step_functions_express": TICKS_A_MONTH
        * (EXPRESS_PER_REQUEST + 1 * EXPRESS_GB * EXPRESS_PER_GB_SECOND),
        "lambda": invocations * (LAMBDA_PER_REQUEST + 0.05 * LAMBDA_GB * LAMBDA_PER_GB_SECOND),
        "dynamodb": dynamodb,
        "scheduler": 0.0,  # 43,200 invocations, inside the free 14 million
        "stream_reads": STREAM_SHARD_MONTH,  # the Pipe polls its one shard
        "secrets": 4 * SECRET_MONTH,  # the stack's four provider secrets
    }
    return {**{k: round(v, 2) for k, v in items.items()}, "total": round(sum(items.values()), 2)}


def detection_bar(age_seconds: float) -> float:
    """Section 5's bar for a change at this refund age: max(2 minutes, 25% of the age)."""
    return max(120.0, 0.25 * age_seconds)


def detection_by_age(run: Any, accounts: Sequence[Any], bins: int = 32) -> list[dict[str, Any]]:
    """The detection delays of the refunds within budget, by their age when they became
    final (log-spaced bins, 1 minute to 8 days): worst and median delay, and the worst delay
    over each refund's own bar (1.0 is at the bar)."""
    over = {(a.provider, a.account) for a in accounts if a.over_budget}
    seen = [
        (age, life.seen_at - life.final_at, detection_bar(age))
        for life in run.lives
        if life.final_at is not None
        and life.seen_at is not None
        and (life.provider, life.account) not in over
        for age in [life.final_at - life.created]
    ]
    edges = [60 * (8 * 1440) ** (n / bins) for n in range(bins + 1)]
    rows = []
    for low, high in itertools.pairwise(edges):
        inside = sorted((d, d / bar) for age, d, bar in seen if low <= age < high)
        if inside:
            delays = [d for d, _ in inside]
            rows.append(
                {
                    "age_from_seconds": round(low),
                    "age_to_seconds": round(high),
                    "refunds": len(inside),
                    "worst_delay_seconds": round(delays[-1], 1),
                    "median_delay_seconds": round(delays[len(delays) // 2], 1),
                    "worst_ratio": round(max(r for _, r in inside), 3),
                    "bar_seconds_at_middle": round(detection_bar((low * high) ** 0.5), 1),
                }
            )
    return rows


def fixed_polling(ours: Mapping[str, float], checks_per_refund: float) -> list[dict[str, Any]]:
    """What a user would run instead, at the same per-check prices: polling every minute or
    five (a day-long refund: 1,440 or 288 checks), and one Standard execution per refund
    (section 5's poller: 38 transitions a day-long refund, scale.md's figure)."""
    per_check_items = ("dynamodb_writes", "dynamodb_reads", "lambda_duration")
    per_check = sum(ours[k] for k in per_check_items) / (REFUNDS_A_MONTH * checks_per_refund)
    rest = ours["total"] - sum(ours[k] for k in per_check_items)
    rows = [
        {
            "design": "the fleet (ours)",
            "checks_per_refund": round(checks_per_refund, 1),
            "monthly_usd": round(ours["total"]),
        }
    ]
    for minutes in (1, 5):
        checks = 24 * 60 / minutes
        rows.append(
            {
                "design": f"fixed {minutes}-minute polling",
                "checks_per_refund": checks,
                "monthly_usd": round(rest + per_check * REFUNDS_A_MONTH * checks),
            }
        )
    transitions = REFUNDS_A_MONTH * 38 * STANDARD_PER_TRANSITION
    rows.append(
        {
            "design": "one Standard execution per refund (38 transitions)",
            "checks_per_refund": round(checks_per_refund, 1),
            "monthly_usd": round(ours["total"] + transitions),
        }
    )
    return rows


def quotas(
    per_check: Mapping[str, float], checks_per_refund: float, *, scale: float
) -> list[dict[str, Any]]:
    """The default quotas the fleet approaches at `scale` times 1 million refunds a day, and
    how far (us-east-1 defaults; Service Quotas has the account's own)."""
    refunds_a_second = scale * 1e6 / 86_400
    checks_a_second = refunds_a_second * checks_per_refund
    rows = [
        (
            "DynamoDB on-demand table write throughput",
            40_000.0,
            checks_a_second * per_check["write_units"],
            "write units/s",
        ),
        (
            "DynamoDB on-demand table read throughput",
            40_000.0,
            checks_a_second * per_check["read_units"],
            "read units/s",
        ),
        # A batch is billed for its account's time per check (within budget).
        (
            "Lambda concurrent executions",
            1_000.0,
            checks_a_second * per_check["lambda_gb_seconds_within_budget"] / LAMBDA_GB
            + 0.05 * ACCOUNTS_AT_SCALE * scale / 60,
            "executions",
        ),
        ("EventBridge PutEvents", 10_000.0, refunds_a_second * 2, "events/s"),
        (
            "The tick's nested inline Maps (40 x 40 batches at once)",
            1_600.0,
            ACCOUNTS_AT_SCALE * scale,
            "queues a tick",
        ),
        # The fleet holds no execution; only a caller that waits (startExecution.sync:2) does,
        # one a refund while it waits: a million refunds a day could each have one waiting
        # a day before this quota binds.
        (
            "Step Functions open Standard executions (the fleet's own)",
            1_000_000.0,
            0.0,
            "executions",
        ),
        ("Step Functions SendTaskSuccess/Failure (refill)", 500.0, refunds_a_second, "calls/s"),
    ]
    return [
        {
            "quota": name,
            "limit": limit,
            "load": round(load, 1),
            "unit": unit,
            "share": round(load / limit, 3),
        }
        for name, limit, load, unit in rows
    ]


def format_report(result: Mapping[str, Any]) -> str:
    lines = [
        f"fleet simulation: {result['refunds_simulated']:,} refunds, "
        f"{result['checks']:,} checks, {result['batches']:,} batches",
        f"{'account':<28} {'rate/s':>6} {'refunds':>8} {'requests':>9} {'max in 1 s':>10} "
        f"{'rate ratio':>10} {'worst detection':>15}",
    ]
    for row in result["accounts"]:
        flag = "  (over budget)" if row["over_budget"] else ""
        lines.append(
            f"{row['provider'] + '/' + row['account']:<28} {row['rate_per_second']:>6g} "
            f"{row['refunds']:>8,} {row['requests']:>9,} {row['most_requests_in_one_second']:>10} "
            f"{row['rate_ratio']:>10.2f} {row['worst_detection_ratio']:>15.2f}{flag}"
        )
    lines.append(
        "AWS calls (the large run, by kind): "
        + ", ".join(f"{k} {v:,}" for k, v in result["aws_calls"].items())
    )
    cost = result["monthly_cost_usd"]
    lines.append(
        f"monthly cost: ${cost['one_million_a_day']:,.0f} at 1 million refunds a day "
        f"({result['checks_per_refund_settling_in_a_day']} checks a refund, "
        f"{cost['one_million_a_day_capacity']} capacity), "
        f"${cost['idle']:,.2f} idle ({cost['idle_capacity']})"
    )
    for mode, loads in cost["by_capacity_mode"].items():
        busy, idle = loads["one_million_a_day"], loads["idle"]
        lines.append(
            f"  {mode:<12} 1M/day ${busy['total']:>8,.0f}: "
            + ", ".join(f"{k} ${v:,.0f}" for k, v in busy.items() if k != "total")
            + f"; idle ${idle['total']:,.2f}"
        )
    lines.append(
        "instead, at 1 million refunds a day: "
        + "; ".join(f"{row['design']} ${row['monthly_usd']:,}" for row in result["instead"])
    )
    worst = max((row["worst_ratio"] for row in result["detection_by_age"]), default=0.0)
    lines.append(
        f"detection delay by age: worst {worst:.2f} of the bar over "
        f"{len(result['detection_by_age'])} age bins"
    )
    lines.append("quotas at 10 million refunds a day:")
    for row in result["quotas_at_ten_million_a_day"]:
        lines.append(
            f"  {row['share']:>6.0%} of {row['quota']} ({row['load']:,} of "
            f"{row['limit']:,.0f} {row['unit']})"
        )
    equal = result["small_run"]["dynamodb_local_equals_memory"]
    exact = result["small_run"]["exactly_equal"]
    verdict = "same counts" if exact else "same counts within 2%" if equal else "DIFFER"
    lines.append(f"small run, DynamoDB Local vs in-memory: {verdict}")
    if not math.isfinite(result["worst_detection_ratio"]):
        lines.append("a refund within budget was never seen final")
    return "\n".join(lines)
