"""The local stack carries the template's operations resources (contract section 9): the alarm
topic, every alarm and the dashboard exist in the emulator as declared, and the functions'
metrics (EMF) name what the alarms watch."""

from __future__ import annotations

from devstack.aws.template import ALARM
from devstack.stack import LocalStack


def test_the_alarms_and_the_dashboard_exist_in_the_emulator(stack: LocalStack) -> None:
    assert stack.aws is not None
    template = stack.aws.template
    declared = {m.name for m in template.monitoring.values() if m.resource_type == ALARM}
    cloudwatch = stack.aws.client("cloudwatch")
    found = cloudwatch.describe_alarms()
    names = {a["AlarmName"] for a in [*found["MetricAlarms"], *found.get("CompositeAlarms", [])]}
    assert declared <= names
    assert len(declared) >= 10
    topic_arn = stack.aws.client("sns").list_topics()["Topics"][0]["TopicArn"]
    for alarm in found["MetricAlarms"]:
        assert alarm["AlarmActions"] == [topic_arn], alarm["AlarmName"]
    dashboards = cloudwatch.list_dashboards()["DashboardEntries"]
    assert [d["DashboardName"] for d in dashboards] == [template.stack_name]
