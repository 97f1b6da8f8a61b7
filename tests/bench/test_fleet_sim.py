"""The fleet on a simulated clock (bench.fleet_sim) against section 8's bars.

Deterministic: the clock is simulated and every random draw seeded, so these are behaviour
tests of the deployed batch, check, schedule and rate limit, not timing tests.
"""

from __future__ import annotations

import pytest

from bench import fleet_cost, fleet_sim
from bench.fleet_sim import ACCOUNTS, RATES, memory_stores, most_in_one_second, simulate


@pytest.fixture(scope="module")
def run() -> fleet_sim.RunResult:
    # 1,500 refunds within half an hour: more than a Shoplazza store's 1 request/s serves
    # at first (the over-budget account), within every other account's rate.
    return simulate(
        1_500, stores=memory_stores(), arrival_seconds=1_800, horizon_seconds=9 * 86_400
    )


def test_no_account_gets_more_than_its_rate_in_any_second(run: fleet_sim.RunResult) -> None:
    for spec in ACCOUNTS:
        turns = run.turns[(spec.provider, spec.account)]
        assert turns, spec
        assert most_in_one_second(turns) <= RATES[spec.provider], spec


def test_every_change_is_seen_within_the_bar_where_the_budget_allows(
    run: fleet_sim.RunResult,
) -> None:
    rows = run.per_account(ACCOUNTS)
    within = [r for r in rows if not r["over_budget"]]
    assert within
    for row in within:
        assert row["never_checked"] == 0, row
        assert 0 < row["worst_detection_ratio"] <= 1.0, row


def test_an_over_budget_account_is_served_at_its_rate_oldest_first_and_none_starves(
    run: fleet_sim.RunResult,
) -> None:
    (row,) = [r for r in run.per_account(ACCOUNTS) if r["over_budget"]]
    # Its budget, fully used, and it falls behind: a metric says how far.
    assert row["rate_ratio"] == 1.0
    assert row["most_behind_seconds"] > 0, row
    # Every refund of it that became final was still seen (oldest due first: none waits
    # forever behind newer ones).
    assert row["never_checked"] == 0


def test_the_window_count_is_half_open() -> None:
    assert most_in_one_second([0.0, 0.5, 1.0]) == 2
    assert most_in_one_second([0.0, 0.999, 1.0]) == 2
    assert most_in_one_second([0.0, 0.1, 0.2]) == 3


def test_dynamodb_local_and_memory_make_the_same_calls() -> None:
    """The small run: the real stores on DynamoDB Local and the in-memory ones, same scenario,
    same store calls and outcomes; DynamoDB Local's metered units price each method."""
    with fleet_sim.dynamodb_local_stores() as local_stores:
        fleet_sim.Counted.meter = local_stores.meter  # type: ignore[attr-defined]
        try:
            local = simulate(30, stores=local_stores, arrival_seconds=600, horizon_seconds=7_200)
        finally:
            fleet_sim.Counted.meter = None
        profile = local_stores.meter.per_method(local.calls)  # type: ignore[attr-defined]
    memory = simulate(30, stores=memory_stores(), arrival_seconds=600, horizon_seconds=7_200)
    agreement = fleet_sim.compare(memory, local)
    assert agreement["equal"], agreement["differ"]  # within 2%: see compare()
    # The fleet's common write: one UpdateItem, the record and its place in the due index.
    assert profile["registry.refresh"]["UpdateItem"] == 1.0
    assert profile["registry.refresh"]["write_units"] == pytest.approx(3.0)


def test_the_month_is_priced_from_the_runs_calls() -> None:
    per_check = {"write_units": 4.0, "read_units": 0.2, "lambda_gb_seconds_within_budget": 0.02}
    on_demand = fleet_cost.monthly_cost(per_check, 37, events_per_refund=2, capacity="on-demand")
    provisioned = fleet_cost.monthly_cost(
        per_check, 37, events_per_refund=2, capacity="provisioned"
    )
    writes = 30_000_000 * 37 * 4.0
    assert on_demand["dynamodb_writes"] == pytest.approx(writes * 0.625 / 1e6, rel=1e-3)
    assert provisioned["dynamodb_writes"] == pytest.approx(
        writes / (30 * 86_400) / 0.7 * 720 * 0.00065, rel=1e-3
    )
    assert provisioned["total"] < on_demand["total"]
    idle = fleet_cost.idle_cost(queues=8, capacity="on-demand")
    assert 0 < idle["total"] <= 5


def test_the_committed_fleet_figures_meet_section_8s_bars() -> None:
    """bench/results/fleet.json, as `make bench` wrote it (the README quotes it): the 100,000
    refunds, the keys section 8 names, and every bar."""
    import json

    result = json.loads((fleet_sim.RESULT).read_text(encoding="utf-8"))
    assert result["refunds_simulated"] >= 100_000
    cost = result["monthly_cost_usd"]
    assert 0 < cost["one_million_a_day"] <= 3_000
    assert 0 < cost["idle"] <= 5
    assert 0 < result["worst_rate_ratio"] <= 1.0
    assert 0 < result["worst_detection_ratio"] <= 1.0
    assert result["small_run"]["dynamodb_local_equals_memory"]
    assert {"dynamodb:UpdateItem", "dynamodb:Query", "write_units"} <= set(result["aws_calls"])
