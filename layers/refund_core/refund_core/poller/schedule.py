"""When the poller checks a refund next: capped exponential backoff with bounded jitter.

The wait grows with the refund's age (`age_ratio` of it), so a change is seen within about a
quarter of the refund's age, floored at `first_check_seconds` and capped at
`max_interval_seconds`. Step Functions Retry intervals are literals, so the wait is rounded
down to a rung of a fixed ladder and the check function names it in its error
(`RefundPendingWait<N>`), for which the state machine has one retrier per rung: every poll is
one Retry attempt (one state transition), yet the schedule is computed here, per execution.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from refund_core.errors import RefundServiceError

LADDER_RATIO = 1.1
LADDER_MAX_SECONDS = 6 * 3600
# The longest budget an execution may have: Step Functions ends a Standard execution at one
# year with its own TIMED_OUT status, and the last check runs up to one wait (6 h) plus its
# retries after the budget is spent; 360 days keeps 5 days between the two, so a poll always
# ends with the named RefundPollingTimedOut. template.yaml and the watch body use it too.
MAX_BUDGET_SECONDS = 360 * 86_400


def _ladder(ratio: float, top: int) -> tuple[int, ...]:
    rungs = {1}
    value = 1.0
    while value < top:
        value *= ratio
        rungs.add(min(math.floor(value), top))
    return tuple(sorted(rungs))


# 1, 2, 3, ... 21600 s: every wait is rounded down to one of these (at most 10% shorter).
LADDER: tuple[int, ...] = _ladder(LADDER_RATIO, LADDER_MAX_SECONDS)


class RefundPending(RefundServiceError):
    """The refund is not final yet; the state machine retries the check."""

    code = "refund_pending"
    retryable = True


def _wait_error(seconds: int) -> type[RefundPending]:
    return type(f"RefundPendingWait{seconds}", (RefundPending,), {"wait_seconds": seconds})


PENDING_WAIT_ERRORS: dict[int, type[RefundPending]] = {s: _wait_error(s) for s in LADDER}


class PollSchedule(BaseModel):
    """One execution's schedule: per-provider defaults merged with the execution's overrides."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    first_check_seconds: int = Field(default=60, ge=1, le=LADDER_MAX_SECONDS)
    max_interval_seconds: int = Field(default=LADDER_MAX_SECONDS, ge=1, le=LADDER_MAX_SECONDS)
    budget_seconds: int = Field(default=30 * 86_400, ge=1, le=MAX_BUDGET_SECONDS)
    max_checks: int = Field(default=400, ge=1, le=100_000)
    not_found_grace_seconds: int = Field(default=300, ge=0, le=86_400)
    age_ratio: float = Field(default=0.24, gt=0, le=0.25)
    jitter: float = Field(default=0.1, ge=0, lt=1)


def _json_integer(value: Any) -> Any:
    # JSON Schema's integer: 209 and 209.0 are both integers; "209" and true are not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Seconds = Annotated[int, BeforeValidator(_json_integer)]


class ScheduleOverrides(BaseModel):
    """What a caller may set for one poll, in the POST /watch body or the execution input:
    the same rules in both places. Strict: "5", " 7 ", "1_0", true or 5.5 are not seconds (a
    float with no fraction is); null is the same as absent."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    first_check_seconds: Seconds | None = Field(default=None, ge=1, le=LADDER_MAX_SECONDS)
    max_interval_seconds: Seconds | None = Field(default=None, ge=1, le=LADDER_MAX_SECONDS)
    budget_seconds: Seconds | None = Field(default=None, ge=1, le=MAX_BUDGET_SECONDS)


class OverrideFloors(BaseModel):
    """The least a caller's override may ask for (template parameters `PollMinFirstCheckSeconds`
    and `PollMinIntervalSeconds`).

    Without them one `POST …/watch` with `max_interval_seconds: 1` would have the poller call
    the provider every second until its 400-call budget is spent: the merchant's provider
    quota, not ours. A template default is never judged by them (the operator chose it).
    Unset, a floor is 1 s (no floor): the template always sets both.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    first_check_seconds: int = Field(default=1, ge=1, le=LADDER_MAX_SECONDS)
    max_interval_seconds: int = Field(default=1, ge=1, le=LADDER_MAX_SECONDS)

    def below(self, overrides: Mapping[str, Any]) -> list[str]:
        """`<field> (at least <floor>)` for each override under its floor."""
        return [
            f"{name} (at least {floor})"
            for name, floor in self.model_dump().items()
            if isinstance(overrides.get(name), int) and overrides[name] < floor
        ]


def next_wait_seconds(
    age_seconds: float, schedule: PollSchedule, *, uniform: Callable[[float, float], float]
) -> int:
    """Seconds until the next check, a rung of LADDER; never more than the computed target.

    The jitter only shortens a wait (by up to `jitter`), so the detection-delay bound holds
    while executions that started together drift apart.
    """
    floor = min(schedule.first_check_seconds, schedule.max_interval_seconds)
    target = min(schedule.max_interval_seconds, max(floor, schedule.age_ratio * age_seconds))
    jittered = target * uniform(1 - schedule.jitter, 1)
    return rung_at_most(jittered)


def rung_at_most(seconds: float) -> int:
    """The largest rung not above `seconds` (1 at least)."""
    best = LADDER[0]
    for rung in LADDER:
        if rung > seconds:
            break
        best = rung
    return best


def wait_within_budget(wait_seconds: float, age_seconds: float, schedule: PollSchedule) -> int:
    """`wait_seconds`, cut so the next check runs at most 1 s after the budget is spent: that
    check ends the poll (RefundPollingTimedOut) on time instead of a wait later."""
    return max(1, min(int(wait_seconds), int(schedule.budget_seconds - age_seconds) + 1))


def pending_error(wait_seconds: int, message: str) -> RefundPending:
    return PENDING_WAIT_ERRORS[rung_at_most(wait_seconds)](message)


default_uniform: Callable[[float, float], float] = random.SystemRandom().uniform
