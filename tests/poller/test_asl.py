"""The poller's ASL file: generated from the schedule ladder, and wired as template.yaml says."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cfnlint.decode import decode

from devstack.poller_asl import ASL_PATH, TRANSIENT_ERRORS, render
from refund_core.poller.schedule import LADDER

ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_asl_is_what_the_generator_writes() -> None:
    assert ASL_PATH.read_text() == render(), "run `make asl` after changing the ladder"


def test_every_ladder_rung_has_a_fixed_interval_retrier() -> None:
    asl = json.loads(ASL_PATH.read_text())
    retriers = asl["States"]["CheckRefund"]["Retry"]
    by_error = {r["ErrorEquals"][0]: r for r in retriers}
    for seconds in LADDER:
        retrier = by_error[f"RefundPendingWait{seconds}"]
        assert retrier["IntervalSeconds"] == seconds
        assert retrier["BackoffRate"] == 1
    # The transient retrier comes first, so provider trouble never uses a pending rung.
    assert retriers[0]["ErrorEquals"] == TRANSIENT_ERRORS
    assert retriers[0]["JitterStrategy"] == "FULL"


def test_every_substitution_in_the_asl_is_provided_by_the_template() -> None:
    template, matches = decode(str(ROOT / "template.yaml"))
    assert template is not None, matches
    poller = template["Resources"]["RefundPoller"]["Properties"]
    assert poller["DefinitionUri"] == "statemachine/refund_poller.asl.json"
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    assert placeholders == set(poller["DefinitionSubstitutions"])


def test_failures_have_the_contract_names() -> None:
    states = json.loads(ASL_PATH.read_text())["States"]
    errors = {s.get("Error") for s in states.values() if s["Type"] == "Fail"}
    assert {"RefundNotFound", "ProviderAuthFailed", "RefundPollingTimedOut"} <= errors


def test_no_failure_passes_on_the_lambda_error_json_as_its_cause() -> None:
    # The caught Cause is Lambda's error JSON, stack trace included: a caller's .sync:2 task
    # would receive it.
    states = json.loads(ASL_PATH.read_text())["States"]
    for name, state in states.items():
        if state["Type"] == "Fail":
            assert "CausePath" not in state, name
            assert state["Cause"], name
            assert "stackTrace" not in state["Cause"], name


def test_the_template_caps_the_budget_where_the_poller_does() -> None:
    from refund_core.poller.schedule import MAX_BUDGET_SECONDS

    template, matches = decode(str(ROOT / "template.yaml"))
    assert template is not None, matches
    assert template["Parameters"]["PollBudgetSeconds"]["MaxValue"] == MAX_BUDGET_SECONDS
    assert MAX_BUDGET_SECONDS == 360 * 86_400


def test_the_template_gives_the_poller_and_the_watch_function_the_same_floors() -> None:
    from refund_core.watch import FIRST_CHECK_FLOOR_ENV, MAX_INTERVAL_FLOOR_ENV

    template, matches = decode(str(ROOT / "template.yaml"))
    assert template is not None, matches
    resources = template["Resources"]
    substitutions = resources["RefundPoller"]["Properties"]["DefinitionSubstitutions"]
    env = resources["WatchFunction"]["Properties"]["Environment"]["Variables"]
    for parameter, env_name in (
        ("PollMinFirstCheckSeconds", FIRST_CHECK_FLOOR_ENV),
        ("PollMinIntervalSeconds", MAX_INTERVAL_FLOOR_ENV),
    ):
        assert substitutions[parameter] == {"Ref": parameter}
        assert env[env_name] == {"Ref": parameter}
        assert template["Parameters"][parameter]["MinValue"] >= 1
    # Deployed defaults a caller cannot go under: 10 s to the first re-check, 60 s at most.
    assert template["Parameters"]["PollMinFirstCheckSeconds"]["Default"] == 10
    assert template["Parameters"]["PollMinIntervalSeconds"]["Default"] == 60
    asl = ASL_PATH.read_text()
    assert '"first_check_floor_seconds": "${PollMinFirstCheckSeconds}"' in asl
    assert '"max_interval_floor_seconds": "${PollMinIntervalSeconds}"' in asl
