"""The poll schedule against the contract's bars (section 5), via bench.poller_cost.

Deterministic: the schedule's jitter comes from a seeded RNG and the clock is simulated, so this
is a behaviour test of the schedule as deployed (the ASL with the template's defaults), not a
timing test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import poller_cost
from bench.poller_cost import (
    FIXED_1MIN,
    FIXED_5MIN,
    HISTORY_EVENT_LIMIT,
    SCHEDULE,
    compute,
    deployed_definition,
    detection_bar,
    detection_delay_series,
    providers,
)


@pytest.fixture(scope="module")
def quick_figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What `python -m bench.poller_cost --quick --json PATH` computes and writes."""
    path = Path(tmp_path_factory.mktemp("bench")) / "poller_cost.json"
    status = poller_cost.main(["--quick", "--seed", "7", "--json", str(path)])
    figures: dict[str, Any] = json.loads(path.read_text())
    figures["exit_status"] = status
    return figures


def _row(figures: dict[str, Any], case: str, strategy: str) -> dict[str, Any]:
    return next(r for r in figures["rows"] if r["case"] == case and r["strategy"] == strategy)


def test_quick_run_passes_the_contract_bars(quick_figures: dict[str, Any]) -> None:
    bars = quick_figures["bars"][SCHEDULE.key]
    assert [b for b in bars if not b["passed"]] == []
    assert quick_figures["exit_status"] == 0


def test_a_one_day_refund_costs_at_most_40_transitions(quick_figures: dict[str, Any]) -> None:
    assert _row(quick_figures, "1d", SCHEDULE.key)["state_transitions"]["max"] <= 40


def test_a_seven_day_refund_stays_under_10_percent_of_history(
    quick_figures: dict[str, Any],
) -> None:
    assert _row(quick_figures, "7d", SCHEDULE.key)["history_events"]["max"] < 2_500


def test_every_change_is_seen_within_the_bar(quick_figures: dict[str, Any]) -> None:
    for row in quick_figures["rows"]:
        if row["strategy"] == SCHEDULE.key:
            assert row["worst_delay_ratio"]["max"] <= 1.0, row["case"]


def test_a_refund_that_never_settles_ends_within_budget(quick_figures: dict[str, Any]) -> None:
    row = _row(quick_figures, "never", SCHEDULE.key)
    assert row["provider_calls"]["max"] <= int(quick_figures["template_defaults"]["max_checks"])
    assert row["history_events"]["max"] < HISTORY_EVENT_LIMIT
    assert row["history_limit_hit_at_seconds"] is None


def test_fixed_one_minute_polling_blows_the_history_limit_in_30_days(
    quick_figures: dict[str, Any],
) -> None:
    row = _row(quick_figures, "never", FIXED_1MIN.key)
    assert row["history_events"]["max"] > HISTORY_EVENT_LIMIT
    assert row["history_limit_hit_at_seconds"] < 30 * 86_400


def test_fixed_five_minute_polling_matches_the_published_estimate(
    quick_figures: dict[str, Any],
) -> None:
    # About 25,900 transitions for 30 days of a Wait/Task/Choice loop (AWS pricing arithmetic).
    transitions = _row(quick_figures, "never", FIXED_5MIN.key)["state_transitions"]["max"]
    assert transitions == pytest.approx(25_900, rel=0.01)


@pytest.mark.parametrize("provider", providers(deployed_definition()))
def test_every_providers_defaults_pass_the_bars(provider: str) -> None:
    report = compute(seed=3, runs=3, provider=provider, strategies=(SCHEDULE,))
    assert [b.name for b in report.bars() if not b.passed] == []


def test_delay_series_stays_under_the_bar_for_our_schedule_only() -> None:
    ages = [60.0 * 1.3**i for i in range(40) if 60.0 * 1.3**i < 30 * 86_400]
    ours = detection_delay_series(SCHEDULE, ages, runs=3, seed=1)
    assert len(ours) == len(ages)
    assert all(delay <= detection_bar(age) for age, delay in ours)
    five_min = detection_delay_series("fixed_5min", ages[:5])
    assert any(delay > detection_bar(age) for age, delay in five_min)
    assert all(math.isclose(delay, 302.0) for _, delay in five_min)


def test_events_are_one_per_status_change_and_one_per_poll_ended_without_one(
    quick_figures: dict[str, Any],
) -> None:
    """The simulated provider answers pending, then succeeded: two events; a refund that never
    settles: pending, then Refund Polling Ended (timed out). Whatever the polling strategy."""
    for row in quick_figures["rows"]:
        assert row["events"]["max"] == 2, (row["case"], row["strategy"])
    per_event = quick_figures["model"]["prices_usd"]["per_event"]
    assert 1e-6 < per_event < 1e-5  # EventBridge's $1/M dominates; under $10 per million events
    one_day = _row(quick_figures, "1d", SCHEDULE.key)
    assert one_day["event_dollars"]["max"] < one_day["dollars"]["max"] / 50
