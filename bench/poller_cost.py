"""What one refund's poll costs, and how late it sees a change: our schedule vs fixed polling.

Run `python -m bench.poller_cost [--seed N] [--runs N] [--quick] [--json PATH]`.

Nothing is hand-copied: the state machine is `statemachine/refund_poller.asl.json`, with its
`${...}` placeholders replaced as CloudFormation would, from the `DefinitionSubstitutions` of
`template.yaml` (decoded with cfn-lint's decoder) and the template parameters' defaults. A small
interpreter walks that ASL (Choice, Pass, Task with Retry/Catch, Wait, Succeed, Fail); the Task
calls the real `refund_core.poller.check.run_check` with a simulated clock, a seeded RNG for the
schedule's jitter, and in-memory stand-ins for the provider and the DynamoDB records. So the
waits are the real `next_wait_seconds`, rounded to the real ladder, matched by error name to the
ASL's own retriers, with the real budget and max-checks rules.

Cases: the refund becomes final 1 minute, 1 hour, 1 day or 7 days after the execution started,
or never (the budget ends the poll). Strategies: ours (one Retry attempt per poll), and what a
user would build instead, fixed 1-minute or 5-minute polling with a Task -> Choice -> Wait loop
(derived from the same ASL: same Lambda, same Catch, the pending retriers replaced by the loop;
given the same 30-day budget, without the 400-check cap, which would stop 1-minute polling after
6.7 hours).

Time model: states other than Task and Wait take no time; a Lambda call takes
`LAMBDA_OVERHEAD_SECONDS`, and its provider read happens when it starts (a change after that
start is missed), while the change counts as seen when the call ends (stored). The age the
schedule sees is the time since the execution started, read when the call starts.

Billing model (AWS Step Functions pricing page): one state transition per state entered (Succeed
and Fail states included) and one per Retry attempt.

History event model (AWS Step Functions API reference, `HistoryEvent` type list): ExecutionStarted
and ExecutionSucceeded/ExecutionFailed (2 per execution); Choice, Pass, Wait and Succeed states
emit <Type>StateEntered + <Type>StateExited (2 per entry); a Fail state emits FailStateEntered
only (there is no FailStateExited); a Task state emits TaskStateEntered + TaskStateExited (2 per
entry) and TaskScheduled + TaskStarted + TaskSucceeded/TaskFailed (3) per attempt, retries
included. The execution fails when its history passes 25,000 events (AWS Step Functions
Developer Guide, "Service quotas", quotas related to state machine executions).

Detection delay: for a status change at time t (from the execution's start; conservative, as a
refund is older than its watch), the delay is when the first check whose read is at or after t
ends, minus t. It is swept over a log grid of t plus every instant just after a read (where the
delay is largest), and compared with the contract's bar max(2 minutes, 25% of t).
"""

from __future__ import annotations

import argparse
import bisect
import copy
import json
import math
import random
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast

from refund_core.clients import ProviderClients
from refund_core.model import RefundStatus
from refund_core.poller.check import PollCheckEvent, run_check
from refund_core.poller.records import RefundRecords, WriteOutcome, WriteResult
from refund_core.poller.schedule import RefundPending

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
POLLER_LOGICAL_ID = "RefundPoller"

# --------------------------------------------------------------------------- prices
# us-east-1 list prices, as of 2026-11-23 (the figures the project's polling notes quote; check
# the pages before relying on them):
# "AWS Step Functions Pricing": Standard workflows, $0.025 per 1,000 state transitions.
SFN_STANDARD_PER_TRANSITION = 0.025 / 1_000
# "AWS Lambda Pricing": Arm, $0.20 per 1M requests and $0.0000133334 per GB-second.
LAMBDA_ARM_PER_REQUEST = 0.20 / 1_000_000
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
# "Amazon DynamoDB Pricing" (on-demand): $0.625 per million write request units; a
# transactional write costs 2 WRU per KB.
DYNAMODB_ON_DEMAND_PER_WRU = 0.625 / 1_000_000
# Events (contract section 7). "Amazon EventBridge Pricing": custom events $1.00 per million
# (per 64 KB chunk); Pipes $0.40 per million requests counted after filtering (per 64 KB).
EVENTBRIDGE_PER_EVENT = 1.00 / 1_000_000
PIPES_PER_REQUEST = 0.40 / 1_000_000

# Assumptions of the cost model.
LAMBDA_MEMORY_GB = 256 / 1024
LAMBDA_BILLED_SECONDS_PER_CHECK = 0.3
WRU_PER_WRITE = 1  # an item under 1 KB; a record with a long history costs more per write
# Each provider call first takes its account's turn (refund_core.rate_limit): one more write.
RATE_LIMIT_WRU_PER_CALL = 1
# An event: its change's record write becomes transactional (2x) and adds the outbox item
# (about 1.5 KB: the detail holds the whole refund; 2 KB, transactional), then one Pipe request,
# one enrichment invocation (BatchSize 1; ~10 ms billed at 256 MB) and one custom event.
OUTBOX_ITEM_KB = 2
EVENT_EXTRA_WRU = WRU_PER_WRITE + 2 * OUTBOX_ITEM_KB
ENRICHMENT_BILLED_SECONDS = 0.01
LAMBDA_OVERHEAD_SECONDS = 1.0  # wall time of one check, start of invoke to stored observation

# --------------------------------------------------------------------------- contract bars
HISTORY_EVENT_LIMIT = 25_000
BAR_ONE_DAY_MAX_TRANSITIONS = 40
BAR_SEVEN_DAY_MAX_HISTORY = HISTORY_EVENT_LIMIT // 10  # strictly under
BAR_DELAY_FLOOR_SECONDS = 120.0
BAR_DELAY_AGE_FRACTION = 0.25
BAR_MAX_DELAY_RATIO = 1.0

MINUTE, HOUR, DAY = 60, 3_600, 86_400
START = datetime(2026, 1, 1, tzinfo=UTC)
REFUND_ID = "re_bench_0001"
FIXED_LOOP_MAX_CHECKS = 100_000  # the fixed loops keep the 30-day budget, not the 400 cap


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    settles_after: float  # seconds after the execution started; math.inf = never


CASES: tuple[Case, ...] = (
    Case("1min", "1 minute", MINUTE),
    Case("1h", "1 hour", HOUR),
    Case("1d", "1 day", DAY),
    Case("7d", "7 days", 7 * DAY),
    Case("never", "never", math.inf),
)


@dataclass(frozen=True)
class Strategy:
    key: str
    label: str
    fixed_interval: int | None = None  # None: our schedule (Retry attempts)

    @property
    def jittered(self) -> bool:
        return self.fixed_interval is None


SCHEDULE = Strategy("schedule", "backoff (ours)")
FIXED_1MIN = Strategy("fixed_1min", "fixed 1 min", MINUTE)
FIXED_5MIN = Strategy("fixed_5min", "fixed 5 min", 5 * MINUTE)
STRATEGIES: tuple[Strategy, ...] = (SCHEDULE, FIXED_1MIN, FIXED_5MIN)


# --------------------------------------------------------------------------- the definition
@cache
def deployed_definition(template_path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The poller's ASL as the local stack deploys it: SAM's transform of the template, its
    `DefinitionSubstitutions` resolved with the parameters' defaults."""
    from devstack.aws.template import load_template

    machine = load_template(template_path).state_machines[POLLER_LOGICAL_ID]
    return cast(dict[str, Any], json.loads(machine.definition))


def providers(asl: dict[str, Any]) -> list[str]:
    """Provider names, in the order of the ASL's first Choice state."""
    choice = asl["States"][asl["StartAt"]]
    names: list[str] = []
    for rule in choice.get("Choices", []):
        for leaf in _leaves(rule):
            if "StringEquals" in leaf and leaf.get("Variable") == "$.provider":
                names.append(leaf["StringEquals"])
    return names


def _leaves(rule: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for key in ("And", "Or"):
        for sub in rule.get(key, []):
            yield from _leaves(sub)
    if "Not" in rule:
        yield from _leaves(rule["Not"])
    if "Variable" in rule:
        yield rule


def provider_defaults(asl: dict[str, Any], provider: str) -> dict[str, Any]:
    """The `defaults` the provider's Settings (Pass) state hands the check, as deployed."""
    choice = asl["States"][asl["StartAt"]]
    for rule in choice["Choices"]:
        if any(leaf.get("StringEquals") == provider for leaf in _leaves(rule)):
            settings = asl["States"][rule["Next"]]
            return dict(settings["Parameters"]["defaults"])
    raise LookupError(provider)


def fixed_loop_definition(asl: dict[str, Any], interval: int) -> dict[str, Any]:
    """What a user would build instead: CheckRefund -> IsFinal (Choice) -> Wait -> CheckRefund.

    The same states before and after the check; the pending retriers are replaced by the loop.
    """
    loop = copy.deepcopy(asl)
    states = loop["States"]
    check = states["CheckRefund"]
    check["Retry"] = [
        r
        for r in check["Retry"]
        if not any(str(e).startswith("RefundPending") for e in r["ErrorEquals"])
    ]
    check.pop("End", None)
    check.pop("OutputPath", None)
    check["ResultSelector"] = {"pending.$": "$.Payload.pending"}
    check["ResultPath"] = "$.check"
    check["Next"] = "IsFinal"
    states["IsFinal"] = {
        "Type": "Choice",
        "Choices": [
            {"Variable": "$.check.pending", "BooleanEquals": True, "Next": "WaitBeforeNextCheck"}
        ],
        "Default": "Settled",
    }
    states["WaitBeforeNextCheck"] = {"Type": "Wait", "Seconds": interval, "Next": "CheckRefund"}
    states["Settled"] = {"Type": "Succeed"}
    return loop


# --------------------------------------------------------------------------- the interpreter
class LambdaError(Exception):
    """A function error as Step Functions sees it: `error` is the exception's class name."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


class SimClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> datetime:
        return START + timedelta(seconds=self.t)


@dataclass
class Tally:
    transitions: int = 0
    events: int = 0
    invocations: int = 0
    outcome: str = ""
    history_limit_hit_at: float | None = None

    def add_events(self, count: int, at: float) -> None:
        self.events += count
        if self.history_limit_hit_at is None and self.events > HISTORY_EVENT_LIMIT:
            self.history_limit_hit_at = at


def _path_get(data: Any, path: str, context: dict[str, Any]) -> Any:
    if path.startswith("$$"):
        node: Any = context
        parts = path[2:].lstrip(".").split(".")
    else:
        node = data
        parts = path[1:].lstrip(".").split(".") if path != "$" else []
    for part in (p for p in parts if p):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(path)
        node = node[part]
    return node


def _path_set(data: Any, path: str | None, value: Any) -> Any:
    if path is None or path == "$":
        return value
    out = copy.copy(data) if isinstance(data, dict) else {}
    parts = path[1:].lstrip(".").split(".")
    node = out
    for part in parts[:-1]:
        node[part] = dict(node.get(part, {}))
        node = node[part]
    node[parts[-1]] = value
    return out


def _resolve(template: Any, data: Any, context: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                out[key[:-2]] = _path_get(data, value, context)
            else:
                out[key] = _resolve(value, data, context)
        return out
    if isinstance(template, list):
        return [_resolve(item, data, context) for item in template]
    return template


def _rule_holds(rule: dict[str, Any], data: Any, context: dict[str, Any]) -> bool:
    if "And" in rule:
        return all(_rule_holds(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(_rule_holds(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not _rule_holds(rule["Not"], data, context)
    try:
        value = _path_get(data, rule["Variable"], context)
        present = True
    except KeyError:
        value, present = None, False
    if "IsPresent" in rule:
        return present is bool(rule["IsPresent"])
    if "StringEquals" in rule:
        return present and value == rule["StringEquals"]
    if "BooleanEquals" in rule:
        return present and value is rule["BooleanEquals"]
    raise NotImplementedError(f"choice rule not modelled: {sorted(rule)}")


def _matches(errors: Sequence[str], error: str) -> bool:
    return error in errors or "States.ALL" in errors


def run_execution(
    asl: dict[str, Any],
    execution_input: dict[str, Any],
    invoke: Callable[[dict[str, Any]], Any],
    clock: SimClock,
    *,
    overhead: float = LAMBDA_OVERHEAD_SECONDS,
) -> Tally:
    """Walk `asl` from its start; `invoke` stands for the Lambda behind every Task state."""
    tally = Tally()
    context = {
        "Execution": {
            "Id": "arn:aws:states:us-east-1:123456789012:execution:RefundPoller:bench",
            "Input": execution_input,
            "StartTime": clock.now().isoformat().replace("+00:00", "Z"),
        }
    }
    data: Any = copy.deepcopy(execution_input)
    tally.add_events(1, clock.t)  # ExecutionStarted
    name = asl["StartAt"]
    while True:
        state = asl["States"][name]
        kind = state["Type"]
        tally.transitions += 1
        if kind == "Fail":
            tally.add_events(2, clock.t)  # FailStateEntered, ExecutionFailed
            tally.outcome = "failed:" + str(state.get("Error") or data["error"]["Error"])
            return tally
        if kind == "Succeed":
            tally.add_events(3, clock.t)  # SucceedStateEntered/Exited, ExecutionSucceeded
            tally.outcome = "succeeded"
            return tally
        if kind == "Choice":
            tally.add_events(2, clock.t)
            name = next(
                (c["Next"] for c in state["Choices"] if _rule_holds(c, data, context)),
                state.get("Default", ""),
            )
            if not name:
                raise RuntimeError("States.NoChoiceMatched")
            continue
        if kind == "Pass":
            tally.add_events(2, clock.t)
            if "Parameters" in state:
                result = _resolve(state["Parameters"], data, context)
                data = _path_set(data, state.get("ResultPath", "$"), result)
        elif kind == "Wait":
            tally.add_events(1, clock.t)
            clock.t += float(state["Seconds"])
            tally.add_events(1, clock.t)
        elif kind == "Task":
            tally.add_events(1, clock.t)  # TaskStateEntered
            outcome = _run_task(state, data, context, invoke, clock, tally, overhead)
            tally.add_events(1, clock.t)  # TaskStateExited
            if isinstance(outcome, _Caught):
                data = _path_set(data, outcome.result_path, outcome.error)
                name = outcome.next
                continue
            result = outcome
            if "ResultSelector" in state:
                result = _resolve(state["ResultSelector"], result, context)
            data = _path_set(data, state.get("ResultPath", "$"), result)
            if "OutputPath" in state:
                data = _path_get(data, state["OutputPath"], context)
        else:
            raise NotImplementedError(f"state type not modelled: {kind}")
        if state.get("End"):
            tally.add_events(1, clock.t)  # ExecutionSucceeded
            tally.outcome = "succeeded"
            return tally
        name = state["Next"]


@dataclass(frozen=True)
class _Caught:
    next: str
    result_path: str | None
    error: dict[str, str]


def _run_task(
    state: dict[str, Any],
    data: Any,
    context: dict[str, Any],
    invoke: Callable[[dict[str, Any]], Any],
    clock: SimClock,
    tally: Tally,
    overhead: float,
) -> Any:
    retriers: list[dict[str, Any]] = state.get("Retry", [])
    attempts = [0] * len(retriers)
    while True:
        payload = _resolve(state.get("Parameters", {}), data, context).get("Payload")
        tally.invocations += 1
        tally.add_events(2, clock.t)  # TaskScheduled, TaskStarted
        try:
            result = {"Payload": invoke(payload)}
        except LambdaError as failure:
            clock.t += overhead
            tally.add_events(1, clock.t)  # TaskFailed
            index = next(
                (i for i, r in enumerate(retriers) if _matches(r["ErrorEquals"], failure.error)),
                None,
            )
            if index is not None and attempts[index] < int(retriers[index].get("MaxAttempts", 3)):
                retrier = retriers[index]
                interval = (
                    float(retrier.get("IntervalSeconds", 1))
                    * float(retrier.get("BackoffRate", 2.0)) ** attempts[index]
                )
                if "MaxDelaySeconds" in retrier:
                    interval = min(interval, float(retrier["MaxDelaySeconds"]))
                if retrier.get("JitterStrategy") == "FULL":
                    message = "transient errors (full-jitter retries) are not modelled"
                    raise NotImplementedError(message) from failure
                attempts[index] += 1
                tally.transitions += 1  # a Retry attempt is a billed transition
                clock.t += interval
                continue
            for catcher in state.get("Catch", []):
                if _matches(catcher["ErrorEquals"], failure.error):
                    error = {"Error": failure.error, "Cause": failure.cause}
                    return _Caught(catcher["Next"], catcher.get("ResultPath", "$"), error)
            raise RuntimeError(f"uncaught {failure.error}: {failure.cause}") from None
        clock.t += overhead
        tally.add_events(1, clock.t)  # TaskSucceeded
        return result


# --------------------------------------------------------------------------- the function
@dataclass(frozen=True)
class _Status:
    value: str
    terminal: bool


@dataclass(frozen=True)
class _Refund:
    status: _Status

    def to_json_dict(self) -> dict[str, Any]:
        return {"status": self.status.value}


class _Provider:
    """The provider: pending until `settles_after`, then succeeded. Logs when it was read."""

    def __init__(self, clock: SimClock, settles_after: float) -> None:
        self.clock, self.settles_after = clock, settles_after
        self.reads: list[float] = []

    def fetch_refund(
        self,
        refund_id: str,
        *,
        account: str = "default",
        time_left_seconds: float | None = None,
        rate_wait_seconds: float | None = None,
    ) -> _Refund:
        self.reads.append(self.clock.t)
        if self.clock.t >= self.settles_after:
            return _Refund(_Status("succeeded", terminal=True))
        return _Refund(_Status("pending", terminal=False))


class _Records:
    """The records table, counting writes (each method is one conditional write)."""

    def __init__(self) -> None:
        self.checks = 0
        self.writes = 0
        self.events = 0  # one per stored status change, one per poll ended without a final one
        self.status: str | None = None

    def begin_check(self, provider: str, refund_id: str, **kwargs: Any) -> int:
        self.writes += 1
        self.checks += 1
        return self.checks

    def count_check(self, *args: Any, **kwargs: Any) -> None:
        self.writes += 1

    def mark_polling_state(self, *args: Any, **kwargs: Any) -> None:
        self.writes += 1
        self.events += 1  # Refund Polling Ended

    def record_observation(self, refund: _Refund, **kwargs: Any) -> WriteResult:
        self.writes += 1
        if refund.status.value != self.status:  # a new history entry: Refund Status Changed
            self.status = refund.status.value
            self.events += 1
        return WriteResult(WriteOutcome.REFRESHED, self.checks, RefundStatus(refund.status.value))


# --------------------------------------------------------------------------- one execution
@dataclass
class Run:
    tally: Tally
    reads: list[float]
    writes: int
    finished_at: float
    events: int = 0

    @property
    def dollars(self) -> float:
        return cost_dollars(self.tally.transitions, self.tally.invocations, self.writes)

    @property
    def event_dollars(self) -> float:
        return events_dollars(self.events)


def events_dollars(events: int) -> float:
    """What `events` cost end to end: the transactional write and outbox item, the Pipe's
    request, the enrichment's invocation and the custom event."""
    per_event = (
        EVENT_EXTRA_WRU * DYNAMODB_ON_DEMAND_PER_WRU
        + PIPES_PER_REQUEST
        + LAMBDA_ARM_PER_REQUEST
        + LAMBDA_MEMORY_GB * ENRICHMENT_BILLED_SECONDS * LAMBDA_ARM_PER_GB_SECOND
        + EVENTBRIDGE_PER_EVENT
    )
    return events * per_event


def cost_dollars(transitions: int, invocations: int, writes: int) -> float:
    lambda_per_call = (
        LAMBDA_ARM_PER_REQUEST
        + LAMBDA_MEMORY_GB * LAMBDA_BILLED_SECONDS_PER_CHECK * LAMBDA_ARM_PER_GB_SECOND
    )
    return (
        transitions * SFN_STANDARD_PER_TRANSITION
        + invocations * lambda_per_call
        + writes * WRU_PER_WRITE * DYNAMODB_ON_DEMAND_PER_WRU
        + invocations * RATE_LIMIT_WRU_PER_CALL * DYNAMODB_ON_DEMAND_PER_WRU
    )


def simulate(
    strategy: Strategy,
    settles_after: float,
    *,
    rng: random.Random,
    provider: str | None = None,
    overrides: dict[str, Any] | None = None,
    asl: dict[str, Any] | None = None,
) -> Run:
    """One execution of `strategy` for a refund final `settles_after` s after the start."""
    asl = asl or deployed_definition()
    provider = provider or providers(asl)[0]
    clock = SimClock()
    source, records = _Provider(clock, settles_after), _Records()
    clients, table = cast(ProviderClients, source), cast(RefundRecords, records)
    execution_input: dict[str, Any] = {"provider": provider, "refund_id": REFUND_ID}
    if strategy.fixed_interval is None:
        definition = asl
    else:
        definition = fixed_loop_definition(asl, strategy.fixed_interval)
        # As if deployed with PollMaxChecks raised: an execution's input cannot change it.
        for state in definition["States"].values():
            if state.get("Type") == "Pass" and "defaults" in state.get("Parameters", {}):
                state["Parameters"]["defaults"]["max_checks"] = str(FIXED_LOOP_MAX_CHECKS)
    execution_input |= overrides or {}

    def invoke(payload: dict[str, Any]) -> Any:
        event = PollCheckEvent.parse(payload)
        try:
            refund = run_check(
                event,
                provider=provider,
                clients=clients,
                records=table,
                now=clock.now,
                uniform=rng.uniform,
            )
        except RefundPending as pending:
            if strategy.fixed_interval is None:
                raise LambdaError(type(pending).__name__, str(pending)) from None
            return {"pending": True}
        except Exception as error:  # what Lambda reports as the function error
            raise LambdaError(type(error).__name__, str(error)) from None
        return refund if strategy.fixed_interval is None else {"pending": False}

    tally = run_execution(definition, execution_input, invoke, clock)
    expected = "succeeded" if math.isfinite(settles_after) else "failed:RefundPollingTimedOut"
    if tally.outcome != expected:
        raise RuntimeError(f"{strategy.key}: expected {expected}, the model gave {tally.outcome}")
    return Run(tally, source.reads, records.writes, clock.t, records.events)


# --------------------------------------------------------------------------- detection delay
def detection_bar(age_seconds: float) -> float:
    """The contract's bar: a change is seen within max(2 minutes, 25% of the refund's age)."""
    return max(BAR_DELAY_FLOOR_SECONDS, BAR_DELAY_AGE_FRACTION * age_seconds)


def delay_of_change(
    reads: Sequence[float], at: float, overhead: float = LAMBDA_OVERHEAD_SECONDS
) -> float | None:
    """Seconds from a change at `at` until a check has read and stored it; None if never."""
    index = bisect.bisect_left(reads, at)
    return None if index == len(reads) else reads[index] + overhead - at


def change_times(reads: Sequence[float], until: float, points: int = 400) -> list[float]:
    """Log grid over (1 s, until] plus the instants right after each read (the worst ones)."""
    grid = (
        [math.exp(math.log(until) * i / (points - 1)) for i in range(points)] if until > 1 else []
    )
    just_after = [r + 1e-3 for r in reads if r + 1e-3 <= until]
    return sorted({*grid, *just_after, until})


@dataclass(frozen=True)
class DelayFigures:
    worst_delay: float
    worst_ratio: float
    worst_ratio_at: float
    settle_delay: float | None


def delay_figures(run: Run, settles_after: float) -> DelayFigures:
    """Worst delay and delay/bar over changes up to the settle (or the last read, if never)."""
    horizon = settles_after if math.isfinite(settles_after) else run.reads[-1]
    worst_delay, worst_ratio, worst_at = 0.0, 0.0, 0.0
    for t in change_times(run.reads, horizon):
        delay = delay_of_change(run.reads, t)
        if delay is None:
            continue
        worst_delay = max(worst_delay, delay)
        ratio = delay / detection_bar(t)
        if ratio > worst_ratio:
            worst_ratio, worst_at = ratio, t
    settle = delay_of_change(run.reads, settles_after) if math.isfinite(settles_after) else None
    return DelayFigures(worst_delay, worst_ratio, worst_at, settle)


def detection_delay_series(
    strategy: Strategy | str,
    ages: Iterable[float],
    *,
    runs: int = 20,
    seed: int = 0,
    provider: str | None = None,
) -> list[tuple[float, float]]:
    """(refund age s, worst detection delay s) points, for a plot of delay against age.

    The worst delay at age a is that of a change right after the last check read at or before
    a: the gap to the next check plus one check's run time; the worst over `runs` seeded
    executions of a refund that never settles (so within the whole budget). Ages after the
    last read (the budget is over) are left out.
    """
    chosen = _strategy(strategy)
    count = runs if chosen.jittered else 1
    all_reads = [
        simulate(
            chosen, math.inf, rng=random.Random(seed * 1_000_003 + run), provider=provider
        ).reads
        for run in range(count)
    ]
    points: list[tuple[float, float]] = []
    for age in ages:
        worst: float | None = None
        for reads in all_reads:
            index = bisect.bisect_right(reads, age) - 1
            if index < 0 or index + 1 >= len(reads):
                continue
            delay = reads[index + 1] + LAMBDA_OVERHEAD_SECONDS - reads[index]
            worst = delay if worst is None else max(worst, delay)
        if worst is not None:
            points.append((float(age), worst))
    return points


def _strategy(value: Strategy | str) -> Strategy:
    if isinstance(value, Strategy):
        return value
    for strategy in STRATEGIES:
        if value in (strategy.key, strategy.label):
            return strategy
    raise ValueError(f"unknown strategy {value!r}: one of {[s.key for s in STRATEGIES]}")


# --------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class Spread:
    max: float
    median: float
    min: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(max(values), statistics.median(values), min(values))

    def as_dict(self) -> dict[str, float]:
        return {"max": self.max, "median": self.median, "min": self.min}


@dataclass(frozen=True)
class Row:
    case: Case
    strategy: Strategy
    runs: int
    transitions: Spread
    invocations: Spread
    provider_calls: Spread
    writes: Spread
    history_events: Spread
    worst_delay: Spread
    worst_ratio: Spread
    worst_ratio_at: float
    settle_delay: Spread | None
    dollars: Spread
    history_limit_hit_at: float | None  # earliest over runs, seconds after the start
    events: Spread
    event_dollars: Spread

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case.key,
            "settles_after_seconds": (
                self.case.settles_after if math.isfinite(self.case.settles_after) else None
            ),
            "strategy": self.strategy.key,
            "runs": self.runs,
            "state_transitions": self.transitions.as_dict(),
            "lambda_invocations": self.invocations.as_dict(),
            "provider_calls": self.provider_calls.as_dict(),
            "dynamodb_writes": self.writes.as_dict(),
            "history_events": self.history_events.as_dict(),
            "worst_detection_delay_seconds": self.worst_delay.as_dict(),
            "worst_delay_ratio": self.worst_ratio.as_dict(),
            "worst_delay_ratio_at_age_seconds": self.worst_ratio_at,
            "settle_detection_delay_seconds": (
                self.settle_delay.as_dict() if self.settle_delay else None
            ),
            "dollars": self.dollars.as_dict(),
            "history_limit_hit_at_seconds": self.history_limit_hit_at,
            "events": self.events.as_dict(),
            "event_dollars": self.event_dollars.as_dict(),
        }


@dataclass(frozen=True)
class Bar:
    name: str
    value: float
    limit: str
    passed: bool


@dataclass
class Report:
    seed: int
    runs: int
    provider: str
    defaults: dict[str, Any]
    overrides: dict[str, Any]
    rows: list[Row] = field(default_factory=list)

    def row(self, case: str, strategy: str) -> Row:
        return next(r for r in self.rows if r.case.key == case and r.strategy.key == strategy)

    def bars(self, strategy: str = SCHEDULE.key) -> list[Bar]:
        one_day = self.row("1d", strategy).transitions.max
        seven_days = self.row("7d", strategy).history_events.max
        ratio = max(r.worst_ratio.max for r in self.rows if r.strategy.key == strategy)
        return [
            Bar(
                "1-day refund: state transitions (max)",
                one_day,
                f"<= {BAR_ONE_DAY_MAX_TRANSITIONS}",
                one_day <= BAR_ONE_DAY_MAX_TRANSITIONS,
            ),
            Bar(
                "7-day refund: history events (max)",
                seven_days,
                f"< {BAR_SEVEN_DAY_MAX_HISTORY} (10% of {HISTORY_EVENT_LIMIT:,})",
                seven_days < BAR_SEVEN_DAY_MAX_HISTORY,
            ),
            Bar(
                "worst detection delay / max(2 min, 25% of age)",
                ratio,
                f"<= {BAR_MAX_DELAY_RATIO}",
                ratio <= BAR_MAX_DELAY_RATIO,
            ),
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "runs": self.runs,
            "provider": self.provider,
            "template_defaults": self.defaults,
            "overrides": self.overrides,
            "model": {
                "lambda_overhead_seconds": LAMBDA_OVERHEAD_SECONDS,
                "history_event_limit": HISTORY_EVENT_LIMIT,
                "prices_usd": {
                    "sfn_standard_per_transition": SFN_STANDARD_PER_TRANSITION,
                    "lambda_arm_per_request": LAMBDA_ARM_PER_REQUEST,
                    "lambda_arm_per_gb_second": LAMBDA_ARM_PER_GB_SECOND,
                    "lambda_memory_gb": LAMBDA_MEMORY_GB,
                    "lambda_billed_seconds_per_check": LAMBDA_BILLED_SECONDS_PER_CHECK,
                    "dynamodb_per_wru": DYNAMODB_ON_DEMAND_PER_WRU,
                    "wru_per_write": WRU_PER_WRITE,
                    "rate_limit_wru_per_call": RATE_LIMIT_WRU_PER_CALL,
                    "eventbridge_per_event": EVENTBRIDGE_PER_EVENT,
                    "pipes_per_request": PIPES_PER_REQUEST,
                    "event_extra_wru": EVENT_EXTRA_WRU,
                    "enrichment_billed_seconds": ENRICHMENT_BILLED_SECONDS,
                    "per_event": events_dollars(1),
                },
            },
            "rows": [row.as_dict() for row in self.rows],
            "bars": {
                strategy.key: [
                    {"name": b.name, "value": b.value, "limit": b.limit, "passed": b.passed}
                    for b in self.bars(strategy.key)
                ]
                for strategy in STRATEGIES
                if any(row.strategy == strategy for row in self.rows)
            },
        }


def compute(
    *,
    seed: int = 0,
    runs: int = 200,
    provider: str | None = None,
    strategies: Sequence[Strategy] = STRATEGIES,
    overrides: dict[str, Any] | None = None,
) -> Report:
    """Every case for every strategy: `runs` seeded executions each (one for fixed polling)."""
    asl = deployed_definition()
    provider = provider or providers(asl)[0]
    report = Report(seed, runs, provider, provider_defaults(asl, provider), overrides or {})
    for strategy in strategies:
        count = runs if strategy.jittered else 1  # fixed polling draws nothing random
        for case in CASES:
            results = [
                simulate(
                    strategy,
                    case.settles_after,
                    rng=random.Random(seed * 1_000_003 + run),
                    provider=provider,
                    overrides=overrides if strategy.jittered else None,
                    asl=asl,
                )
                for run in range(count)
            ]
            report.rows.append(_row(case, strategy, results))
    return report


def _row(case: Case, strategy: Strategy, results: list[Run]) -> Row:
    delays = [delay_figures(run, case.settles_after) for run in results]
    worst = max(delays, key=lambda d: d.worst_ratio)
    settles = [d.settle_delay for d in delays if d.settle_delay is not None]
    hits = [r.tally.history_limit_hit_at for r in results if r.tally.history_limit_hit_at]
    return Row(
        case=case,
        strategy=strategy,
        runs=len(results),
        transitions=Spread.of([r.tally.transitions for r in results]),
        invocations=Spread.of([r.tally.invocations for r in results]),
        provider_calls=Spread.of([len(r.reads) for r in results]),
        writes=Spread.of([r.writes for r in results]),
        history_events=Spread.of([r.tally.events for r in results]),
        worst_delay=Spread.of([d.worst_delay for d in delays]),
        worst_ratio=Spread.of([d.worst_ratio for d in delays]),
        worst_ratio_at=worst.worst_ratio_at,
        settle_delay=Spread.of(settles) if settles else None,
        dollars=Spread.of([r.dollars for r in results]),
        history_limit_hit_at=min(hits) if hits else None,
        events=Spread.of([r.events for r in results]),
        event_dollars=Spread.of([r.event_dollars for r in results]),
    )


# --------------------------------------------------------------------------- printing
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE)):
        if seconds >= size * 1.5 or (unit == "m" and seconds >= 100):
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _pair(spread: Spread, fmt: Callable[[float], str] = lambda v: f"{v:,.0f}") -> str:
    if spread.max == spread.median:
        return fmt(spread.max)
    return f"{fmt(spread.max)}/{fmt(spread.median)}"


def format_table(report: Report) -> str:
    head = (
        f"{'settles':<9}{'strategy':<16}{'transitions':>12}{'lambda':>9}{'history ev.':>14}"
        f"{'seen after':>12}{'worst delay':>13}{'ratio':>7}{'$/refund':>11}{'events':>8}"
        f"{'events $':>11}  note"
    )
    lines = [head, "-" * len(head)]
    for row in report.rows:
        note = ""
        if row.history_limit_hit_at is not None:
            hit = duration(row.history_limit_hit_at)
            note = f"OVER {HISTORY_EVENT_LIMIT:,}-event limit: fails at {hit}"
        elif not math.isfinite(row.case.settles_after):
            note = f"RefundPollingTimedOut ({row.provider_calls.max:.0f} provider calls)"
        seen = (
            _pair(row.settle_delay, lambda v: duration(v)) if row.settle_delay is not None else "-"
        )
        lines.append(
            f"{row.case.label:<9}{row.strategy.label:<16}{_pair(row.transitions):>12}"
            f"{_pair(row.invocations):>9}{_pair(row.history_events):>14}{seen:>12}"
            f"{duration(row.worst_delay.max):>13}{row.worst_ratio.max:>7.2f}"
            f"{row.dollars.max:>11.5f}{_pair(row.events):>8}{row.event_dollars.max:>11.7f}  {note}"
        )
    return "\n".join(lines)


def format_bars(report: Report) -> str:
    lines = []
    for strategy in STRATEGIES:
        if not any(r.strategy == strategy for r in report.rows):
            continue
        label = "contract bars" if strategy == SCHEDULE else "same bars, for comparison"
        lines.append(f"{strategy.label} - {label}:")
        for bar in report.bars(strategy.key):
            verdict = "PASS" if bar.passed else "FAIL"
            lines.append(f"  {verdict}  {bar.name}: {bar.value:,.2f} ({bar.limit})")
    return "\n".join(lines)


def _parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = json.loads(value)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.poller_cost", description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=200, help="executions per case (jitter)")
    parser.add_argument("--quick", action="store_true", help="few runs, for a CI smoke test")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--provider", help="whose template defaults (default: the first)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="execution-input override for our schedule, e.g. first_check_seconds=30",
    )
    args = parser.parse_args(argv)
    runs = min(args.runs, 5) if args.quick else args.runs
    report = compute(
        seed=args.seed, runs=runs, provider=args.provider, overrides=_parse_overrides(args.set)
    )
    print(
        f"Refund poller cost and detection delay - provider {report.provider}, "
        f"{runs} seeded runs (seed {args.seed}) per case for our schedule, 1 for fixed polling"
    )
    print(f"template defaults: {json.dumps(report.defaults)}")
    if report.overrides:
        print(f"overrides: {json.dumps(report.overrides)}")
    print("cells: max/median over runs; ratio = worst delay / max(2 min, 25% of age), max")
    print()
    print(format_table(report))
    print()
    print(format_bars(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0 if all(bar.passed for bar in report.bars()) else 1


if __name__ == "__main__":
    sys.exit(main())
