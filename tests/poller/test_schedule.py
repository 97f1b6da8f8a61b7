"""The poller's schedule: backoff with the refund's age, bounded jitter, ladder rungs."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_core.poller.schedule import (
    LADDER,
    PENDING_WAIT_ERRORS,
    PollSchedule,
    RefundPending,
    next_wait_seconds,
    pending_error,
    rung_at_most,
)

DEFAULT = PollSchedule(first_check_seconds=60, max_interval_seconds=21_600)


def no_jitter(low: float, high: float) -> float:
    return high


def test_ladder_is_increasing_from_one_second_to_six_hours_in_small_steps() -> None:
    assert LADDER[0] == 1
    assert LADDER[-1] == 21_600
    assert list(LADDER) == sorted(set(LADDER))
    # Consecutive seconds at the bottom, then steps of about 10%: rounding down costs little.
    assert all(b - a == 1 or b / a <= 1.2 for a, b in itertools.pairwise(LADDER))


def test_every_rung_has_its_own_error_name_under_refund_pending() -> None:
    for seconds in LADDER:
        error = PENDING_WAIT_ERRORS[seconds]("x")
        assert isinstance(error, RefundPending)
        assert type(error).__name__ == f"RefundPendingWait{seconds}"


@pytest.mark.parametrize(
    ("age", "expected_at_most", "expected_at_least"),
    [
        (0, 60, 55),  # young refund: the floor, first_check_seconds
        (200, 60, 55),  # 24% of 200 s is under the floor
        (3_600, 864, 785),  # about 24% of an hour
        (86_400, 20_736, 18_000),  # about 24% of a day
        (30 * 86_400, 21_600, 20_000),  # capped at six hours
    ],
)
def test_wait_follows_the_age_between_floor_and_cap(
    age: float, expected_at_most: int, expected_at_least: int
) -> None:
    wait = next_wait_seconds(age, DEFAULT, uniform=no_jitter)
    assert expected_at_least <= wait <= expected_at_most
    assert wait in LADDER


@given(age=st.floats(min_value=0, max_value=40 * 86_400), seed=st.integers(0, 2**32))
def test_a_change_is_seen_within_a_quarter_of_the_age_or_two_minutes(age: float, seed: int) -> None:
    wait = next_wait_seconds(age, DEFAULT, uniform=random.Random(seed).uniform)
    assert wait <= max(120, 0.25 * age)
    assert wait <= DEFAULT.max_interval_seconds


@given(seed=st.integers(0, 2**32))
def test_jitter_only_shortens_a_wait_by_at_most_its_share_and_a_rung(seed: int) -> None:
    age = 50_000.0
    target = next_wait_seconds(age, DEFAULT, uniform=no_jitter)
    wait = next_wait_seconds(age, DEFAULT, uniform=random.Random(seed).uniform)
    assert wait <= target
    assert wait >= target * (1 - DEFAULT.jitter) / 1.15


def test_jitter_spreads_pollers_that_started_together() -> None:
    rng = random.Random(7)
    waits = {next_wait_seconds(20_000, DEFAULT, uniform=rng.uniform) for _ in range(50)}
    assert len(waits) >= 2


def test_overrides_shorten_everything_for_demos_and_tests() -> None:
    fast = PollSchedule(first_check_seconds=1, max_interval_seconds=2)
    assert next_wait_seconds(0, fast, uniform=no_jitter) == 1
    assert next_wait_seconds(10_000, fast, uniform=no_jitter) == 2


@pytest.mark.parametrize(("seconds", "rung"), [(0, 1), (1, 1), (1.9, 1), (61, 61), (10**9, 21_600)])
def test_rung_at_most(seconds: float, rung: int) -> None:
    assert rung_at_most(seconds) <= max(seconds, 1)
    if seconds >= 1:
        assert rung_at_most(seconds) == max(r for r in LADDER if r <= seconds)
    assert rung_at_most(seconds) == rung or seconds not in (0, 1, 1.9, 10**9)


def test_pending_error_names_a_rung_no_longer_than_asked() -> None:
    error = pending_error(100, "still pending")
    assert isinstance(error, RefundPending)
    assert error.wait_seconds <= 100  # type: ignore[attr-defined]
    assert type(error).__name__ == f"RefundPendingWait{error.wait_seconds}"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "bad",
    [
        {"first_check_seconds": 0},
        {"max_interval_seconds": 10**6},
        {"age_ratio": 0.5},
        {"budget_seconds": -1},
    ],
)
def test_schedule_values_out_of_range_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError is a ValueError
        PollSchedule.model_validate(bad)


def test_the_budget_stops_short_of_step_functions_one_year_limit() -> None:
    from pydantic import ValidationError

    one_year = 31_536_000  # a Standard execution's maximum duration: AWS's own TIMED_OUT
    assert PollSchedule(budget_seconds=360 * 86_400).budget_seconds == 31_104_000
    with pytest.raises(ValidationError):
        PollSchedule(budget_seconds=one_year)
    # The latest a last check can run: the budget, a whole wait (6 h), and a day of retries.
    assert 31_104_000 + LADDER[-1] + 86_400 < one_year
