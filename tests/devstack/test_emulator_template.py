"""The emulator on the real template.yaml: every resource exists in moto as the template says."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devstack.aws.emulator import LocalAws
from tests.devstack.conftest import REPO, TEMPLATE, decoded_template


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with LocalAws(TEMPLATE) as local:
        yield local


def test_tables_exist_with_keys_ttl_and_pitr(aws: LocalAws) -> None:
    dynamodb = aws.client("dynamodb")
    assert aws.template.tables

    for table in aws.template.tables.values():
        described = dynamodb.describe_table(TableName=table.name)["Table"]
        assert [k["AttributeName"] for k in described["KeySchema"]] == [
            k.attribute for k in table.key_schema
        ]
        ttl = dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if table.ttl_attribute:
            assert ttl.get("AttributeName") == table.ttl_attribute
            assert ttl.get("TimeToLiveStatus") == "ENABLED"
        backups = dynamodb.describe_continuous_backups(TableName=table.name)
        pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert (pitr["PointInTimeRecoveryStatus"] == "ENABLED") is table.point_in_time_recovery


def test_secrets_are_readable_by_the_id_each_function_is_given(aws: LocalAws) -> None:
    secrets = aws.client("secretsmanager")

    for secret in aws.template.secrets.values():
        value = secrets.get_secret_value(SecretId=secret.name)
        assert value["SecretString"] == secret.secret_string
        assert value["ARN"] == secret.arn
    for function in aws.template.functions.values():
        secret_id = function.environment.get("PROVIDER_SECRET_ID")
        if secret_id is not None:
            assert secrets.describe_secret(SecretId=secret_id)["ARN"] == secret_id


def test_state_machines_exist_with_substitutions_resolved(aws: LocalAws) -> None:
    sfn = aws.client("stepfunctions")
    function_arns = {f.arn for f in aws.template.functions.values()}

    for machine in aws.template.state_machines.values():
        definition = sfn.describe_state_machine(stateMachineArn=machine.arn)["definition"]
        assert "${" not in definition
        json.loads(definition)
        # Every function the definition names is called through its `live` alias (each deploy
        # shifts traffic to a new version there), and the local runtime serves it
        for arn in {v for v in machine.substitutions.values() if ":function:" in v}:
            function_arn, _, alias = arn.rpartition(":")
            assert alias == "live"
            assert function_arn in function_arns
            assert aws.lambdas.lookup(arn) is not None


def test_a_provider_function_runs_its_real_code(aws: LocalAws) -> None:
    event = json.loads((REPO / "events" / "gr4vy" / "invalid_refund_id.json").read_text())

    result = aws.lambdas.invoke("Gr4vyFunction", event)

    assert result.ok, result
    assert result.payload["statusCode"] == 400
    assert json.loads(result.payload["body"])["error"]["code"] == "invalid_refund_id"


def test_every_moto_resource_of_the_yaml_is_created_with_its_settings(aws: LocalAws) -> None:
    # Given the template's own resources (read raw, not through the loader's model)
    raw = decoded_template()["Resources"]
    resolved = aws.template

    # Then each table, log group and state machine the YAML declares exists in moto
    dynamodb, logs, sfn = aws.client("dynamodb"), aws.client("logs"), aws.client("stepfunctions")
    for logical_id, resource in raw.items():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::DynamoDB::Table":
            described = dynamodb.describe_table(TableName=resolved.tables[logical_id].name)["Table"]
            if "SSESpecification" in props:
                assert props["SSESpecification"]["SSEEnabled"] is True
                assert described["SSEDescription"]["Status"] == "ENABLED"
        elif resource["Type"] == "AWS::Logs::LogGroup":
            group = resolved.log_groups[logical_id]
            found = logs.describe_log_groups(logGroupNamePrefix=group.name)["logGroups"]
            assert [g["logGroupName"] for g in found] == [group.name]
            assert found[0].get("retentionInDays") == group.retention_in_days
            assert found[0]["arn"] == group.arn
        elif resource["Type"] == "AWS::Serverless::StateMachine":
            machine = resolved.state_machines[logical_id]
            described = sfn.describe_state_machine(stateMachineArn=machine.arn)
            logging = described["loggingConfiguration"]
            assert logging["level"] == props.get("Logging", {}).get("Level", "OFF")
            if "Logging" in props:
                assert logging["includeExecutionData"] is props["Logging"]["IncludeExecutionData"]
                arns = [d["cloudWatchLogsLogGroup"]["logGroupArn"] for d in logging["destinations"]]
                # each destination is a log group of the template, which exists in moto
                assert arns
                assert set(arns) <= {g.arn for g in resolved.log_groups.values()}
            enabled = props.get("Tracing", {}).get("Enabled", False)
            assert described["tracingConfiguration"] == {"enabled": enabled}


def test_the_poller_logs_to_the_template_log_group_with_tracing(aws: LocalAws) -> None:
    described = aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=aws.template.state_machines["RefundPoller"].arn
    )

    assert described["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": False,
        "destinations": [
            {
                "cloudWatchLogsLogGroup": {
                    "logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:"
                    "/aws/vendedlogs/states/refund-status-refund-poller:*"
                }
            }
        ],
    }
    assert described["tracingConfiguration"] == {"enabled": True}
