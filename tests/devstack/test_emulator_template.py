"""The emulator on the real template.yaml: every resource exists in moto as the template says."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devstack.aws.emulator import LocalAws
from tests.devstack.conftest import REPO, TEMPLATE


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
        # Every function ARN the definition names is one the local runtime serves
        for arn in {v for v in machine.substitutions.values() if ":function:" in v}:
            assert arn in function_arns
            assert aws.lambdas.lookup(arn) is not None


def test_a_provider_function_runs_its_real_code(aws: LocalAws) -> None:
    event = json.loads((REPO / "events" / "gr4vy" / "invalid_refund_id.json").read_text())

    result = aws.lambdas.invoke("Gr4vyFunction", event)

    assert result.ok, result
    assert result.payload["statusCode"] == 400
    assert json.loads(result.payload["body"])["error"]["code"] == "invalid_refund_id"
