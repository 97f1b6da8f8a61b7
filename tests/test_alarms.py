"""The template's alarms and dashboard (contract section 9) against what the code publishes.

Every alarm on the service's own namespace watches a metric some code path really emits, with
exactly the dimensions it emits it with: each path is run here (the provider function's API
and fleet-batch paths, with Powertools' EMF on stdout and the template's service name), and
the alarm's metric must be among what came out. Alarms on AWS's own metrics must name the
template's own function, state machine and API. Every alarm notifies the alarm topic and has
its runbook entry in docs/runbook.md.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.aws.template import ALARM, DASHBOARD, QUEUE, Template, load_template
from refund_core.errors import (
    ConfigurationError,
    ProviderAuthFailed,
    ProviderBadResponse,
    ProviderTimeout,
    ProviderUnavailable,
)
from refund_core.fleet.registry import FleetRegistry
from refund_core.handler import build_lambda_handler
from refund_core.model import Refund, RefundStatus
from refund_core.poller.check import shared_records
from tests.helpers import TEMPLATE, FakeLambdaContext, create_records_table, load_event
from tests.test_metrics import published

RUNBOOK = Path(__file__).parent.parent / "docs" / "runbook.md"
PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
# The emitted metric a metric identity is: (namespace, metric name, dimensions).
Metric = tuple[str, str, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(TEMPLATE)


def alarms(template: Template) -> dict[str, dict[str, Any]]:
    return {
        m.logical_id: dict(m.properties)
        for m in template.monitoring.values()
        if m.resource_type == ALARM
    }


def alarm_metrics(alarm: dict[str, Any]) -> list[Metric]:
    """The metrics an alarm reads: its own, or each MetricStat of its metric math."""
    found = []
    stats = [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", []) if "MetricStat" in q]
    if "MetricName" in alarm:
        stats.append(alarm)
    for metric in stats:
        dimensions = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
        found.append((metric["Namespace"], metric["MetricName"], dimensions))
    return found


class Scripted:
    """A provider's clients: one answer (a status or an error) for every call."""

    def __init__(self, provider: str, answer: RefundStatus | Exception) -> None:
        self.provider, self.answer = provider, answer

    def fetch_refund(self, refund_id: str, **_: Any) -> Refund:
        if isinstance(self.answer, Exception):
            raise self.answer
        return Refund(
            provider=self.provider,
            refund_id=refund_id,
            status=self.answer,
            provider_status=self.answer.value,
            fetched_at=datetime.now(UTC),
        )


def emitted(stdout: str) -> set[Metric]:
    metrics: set[Metric] = set()
    for blob in published(stdout):
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, blob[name]) for name in dimension_set)
                for metric in directive["Metrics"]:
                    metrics.add((directive["Namespace"], metric["Name"], dimensions))
    return metrics


FLEET_BATCH = {"fleet_batch": {"account": "default"}}


@pytest.fixture(scope="module")
def everything_emitted() -> set[Metric]:
    """What the provider functions publish, with the template's service name and namespace,
    over the code paths the alarms are about: each error answered by the API and by a fleet
    batch's check, and a batch checking a refund pending for eight days."""
    capture: list[str] = []
    with pytest.MonkeyPatch.context() as mp, mock_aws():
        mp.setenv("POWERTOOLS_SERVICE_NAME", "refund-status")  # template.yaml's Globals
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "RefundStatus")
        mp.setenv("PROVIDER_SECRET_ID", "refund-status/scripted")  # read by poll checks
        mp.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        mp.setenv("RECORDS_TABLE_NAME", create_records_table(dynamodb))
        shared_records.cache_clear()
        errors: list[Exception] = [
            ProviderAuthFailed("x"),
            ProviderUnavailable("x"),
            ProviderTimeout("x"),
            ProviderBadResponse("x"),
            ConfigurationError("x"),
        ]
        registry = FleetRegistry(dynamodb, os.environ["RECORDS_TABLE_NAME"])
        for provider in PROVIDERS:
            event = load_event(provider, "get_refund")
            eight_days_ago = datetime.now(UTC) - timedelta(days=8)
            # A fleet batch per error (its refund's check fails so), and one of a refund
            # pending for eight days.
            runs: list[tuple[RefundStatus | Exception, dict[str, Any], datetime | None]] = [
                *((error, event, None) for error in errors),
                *((error, FLEET_BATCH, datetime.now(UTC)) for error in errors),
                (RefundStatus.PENDING, FLEET_BATCH, eight_days_ago),
            ]
            for n, (answer, given, poll_started) in enumerate(runs):
                if poll_started is not None:
                    registry.register(
                        provider,
                        f"re_{n}",
                        account="default",
                        overrides={},
                        now=poll_started,
                        first_check_at=datetime.now(UTC),
                    )
                handler = build_lambda_handler(provider, clients=Scripted(provider, answer))  # type: ignore[arg-type]
                out = io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.suppress(Exception):
                    handler(given, FakeLambdaContext())
                capture.append(out.getvalue())
        shared_records.cache_clear()
    return emitted("\n".join(capture))


def test_every_alarm_on_our_metrics_watches_one_the_code_emits(
    template: Template, everything_emitted: set[Metric]
) -> None:
    checked = 0
    for logical_id, alarm in alarms(template).items():
        for metric in alarm_metrics(alarm):
            if metric[0] != "RefundStatus":
                continue
            checked += 1
            assert metric in everything_emitted, (
                f"{logical_id} watches {metric}, which no code path emits; emitted: "
                + ", ".join(sorted(f"{m[1]}{sorted(m[2])}" for m in everything_emitted))
            )
    assert checked >= 20


def test_alarms_on_aws_metrics_name_the_templates_own_resources(template: Template) -> None:
    functions = {f.name for f in template.functions.values()}
    machines = {m.arn for m in template.state_machines.values()}
    queues = {r.name for r in template.events.values() if r.resource_type == QUEUE}
    api = template.api
    assert api is not None
    for logical_id, alarm in alarms(template).items():
        for namespace, _, dimensions in alarm_metrics(alarm):
            named = dict(dimensions)
            if namespace == "AWS/Lambda":
                assert named["FunctionName"] in functions, logical_id
            elif namespace == "AWS/States":
                assert named["StateMachineArn"] in machines, logical_id
            elif namespace == "AWS/ApiGateway":
                assert named == {"ApiName": api.name, "Stage": api.stage_name}, logical_id
            elif namespace == "AWS/SQS":
                assert named["QueueName"] in queues, logical_id
            else:
                assert namespace == "RefundStatus", logical_id


def test_what_on_call_needs_has_an_alarm(template: Template) -> None:
    watched = {metric[1] for alarm in alarms(template).values() for metric in alarm_metrics(alarm)}
    for name in (
        "Error_provider_auth_failed",  # a provider rejects our key
        "Error_provider_unavailable",  # provider error rate
        "Error_provider_timeout",  # provider timeout rate
        "Error_configuration_error",  # a fresh stack's empty secrets, a broken secret
        "StuckPendingChecks",  # refunds pending longer than the threshold
        "5XXError",  # API 5xx
        "ExecutionsFailed",  # failed poller executions
    ):
        assert name in watched, name
    for provider in PROVIDERS:
        per_provider = [
            logical_id
            for logical_id, alarm in alarms(template).items()
            if ("provider", provider) in {d for m in alarm_metrics(alarm) for d in m[2]}
        ]
        assert len(per_provider) >= 3, (provider, per_provider)


def test_every_alarm_notifies_the_topic_and_has_a_runbook_entry(template: Template) -> None:
    topic = template.monitoring["AlarmTopic"]
    topic_arn = f"arn:aws:sns:{template.region}:{template.account_id}:{topic.name}"
    runbook = RUNBOOK.read_text()
    headings = set(re.findall(r"^## (\w+)", runbook, flags=re.MULTILINE))
    for logical_id, alarm in alarms(template).items():
        assert alarm["AlarmActions"] == [topic_arn], logical_id
        entry = re.search(r"runbook: (\w+)", alarm["AlarmDescription"])
        assert entry is not None, f"{logical_id}: its description names no runbook entry"
        assert entry[1] in headings, f"{logical_id}: docs/runbook.md has no '## {entry[1]}'"


def test_the_dashboard_shows_our_metrics_per_provider(template: Template) -> None:
    (dashboard,) = [m for m in template.monitoring.values() if m.resource_type == DASHBOARD]
    body = json.loads(dashboard.properties["DashboardBody"])
    shown = {
        (metric[0], metric[1], tuple(part for part in metric[2:] if isinstance(part, str)))
        for widget in body["widgets"]
        for metric in widget["properties"]["metrics"]
    }
    for provider in PROVIDERS:
        dims = ("service", "refund-status", "provider", provider)
        for name in ("Error_provider_auth_failed", "ProviderLatency", "PollChecks"):
            assert ("RefundStatus", name, dims) in shown, (provider, name)
