"""What a security review of the deployment asks for, checked on SAM's own transform of
template.yaml (samtranslator, as `sam deploy` runs it), not on our reading of it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.helpers import role_statements, transformed_template

PROVIDER_FUNCTIONS = (
    "ConvergeGateFunction",
    "SureCartFunction",
    "Gr4vyFunction",
    "ShoplazzaFunction",
)


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(transformed_template()["Resources"])


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


# --------------------------------------------------------------------------- API access log


def test_every_api_request_is_access_logged_with_its_iam_caller(resources: dict[str, Any]) -> None:
    (stage,) = of_type(resources, "AWS::ApiGateway::Stage").values()
    setting = stage["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogs", "Arn"]}
    # The format is one JSON object per line once API Gateway fills the variables in.
    line = re.sub(r"\$context\.[A-Za-z.]+", "x", setting["Format"])
    fields = json.loads(line)
    for wanted in ("requestId", "userArn", "caller", "httpMethod", "path", "status", "errorCode"):
        assert wanted in fields, wanted
    assert "$context.identity.userArn" in setting["Format"]
    logs = resources["ApiAccessLogs"]["Properties"]
    assert logs["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # API Gateway can only log once its account-level role is set: before the API exists.
    assert resources["RefundApi"]["DependsOn"] == "ApiGatewayAccount"
    account = resources["ApiGatewayAccount"]["Properties"]
    assert account["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("function", PROVIDER_FUNCTIONS)
def test_each_secret_is_readable_by_its_function_and_nobody_outside_the_account(
    resources: dict[str, Any], function: str
) -> None:
    provider = function.removesuffix("Function")
    policy = resources[f"{provider}SecretPolicy"]["Properties"]
    assert policy["SecretId"] == {"Ref": f"{provider}Secret"}
    assert policy["BlockPublicPolicy"] is True
    denies = {s["Sid"]: s for s in policy["ResourcePolicy"]["Statement"]}
    assert all(s["Effect"] == "Deny" for s in denies.values())
    outside = denies["NobodyOutsideThisAccount"]
    assert outside["Action"] == "secretsmanager:*"
    assert outside["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
    }
    value = denies["TheValueForTheFunctionAndTheNamedReadersOnly"]
    assert value["Action"] == "secretsmanager:GetSecretValue"
    readers = json.dumps(value["Condition"]["ArnNotLike"]["aws:PrincipalArn"])
    assert f'"{function}Role", "Arn"' in readers
    assert '"Ref": "SecretReaderArns"' in readers


@pytest.mark.parametrize("function", PROVIDER_FUNCTIONS)
def test_a_customer_managed_key_is_optional_and_decrypts_through_secrets_manager_only(
    resources: dict[str, Any], function: str
) -> None:
    provider = function.removesuffix("Function")
    secret = resources[f"{provider}Secret"]["Properties"]
    assert secret["KmsKeyId"] == {
        "Fn::If": ["HasSecretsKmsKey", {"Ref": "SecretsKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
    }
    # Without the parameter, the role has no KMS grant at all.
    assert not [s for s in role_statements(function) if "kms" in json.dumps(s["Action"])]
    role = json.dumps(resources[f"{function}Role"]["Properties"]["Policies"])
    assert '"kms:ViaService"' in role
    assert '"HasSecretsKmsKey"' in role


# --------------------------------------------------------------------------- versions and aliases

ALL_FUNCTIONS = (*PROVIDER_FUNCTIONS, "WatchFunction", "EventsFunction")


def test_every_caller_calls_the_live_alias_never_latest(resources: dict[str, Any]) -> None:
    """A deploy publishes a version behind `live`; the API, the poller and the Pipe call the
    alias, so a bad version reaches a canary's share of calls, running polls included."""
    substitutions = resources["RefundPoller"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions == {"WatchFunctionArn": {"Ref": "WatchFunctionAliaslive"}}
    tick = resources["FleetTick"]["Properties"]["DefinitionSubstitutions"]
    for function in PROVIDER_FUNCTIONS:
        provider = function.removesuffix("Function")
        assert tick[f"{provider}FunctionArn"] == {"Ref": f"{function}Aliaslive"}
    pipe = resources["RefundEventsPipe"]["Properties"]
    assert pipe["Enrichment"] == {"Ref": "EventsFunctionAliaslive"}
    body = json.dumps(resources["RefundApi"]["Properties"]["Body"])
    targets = set(re.findall(r"functions/\$\{(\w+)\}/invocations", body))
    assert targets == {f"{f}Aliaslive" for f in (*PROVIDER_FUNCTIONS, "WatchFunction")}
    # The poller may invoke the watch function's alias and nothing else; the tick the four
    # provider aliases: no `name*`, no $LATEST.
    (invoke,) = [
        s for s in role_statements("RefundPoller") if s["Action"] == "lambda:InvokeFunction"
    ]
    assert invoke["Resource"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:refund-status-WatchFunction:live"
    )
    (invoke,) = [s for s in role_statements("FleetTick") if s["Action"] == "lambda:InvokeFunction"]
    assert sorted(invoke["Resource"]) == sorted(
        f"arn:aws:lambda:us-east-1:123456789012:function:refund-status-{f}:live"
        for f in PROVIDER_FUNCTIONS
    )


@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_each_function_shifts_traffic_gradually_and_rolls_back_on_alarms(
    resources: dict[str, Any], function: str
) -> None:
    alias = resources[f"{function}Aliaslive"]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["DeploymentGroupName"] == {"Ref": f"{function}DeploymentGroup"}
    group = resources[f"{function}DeploymentGroup"]["Properties"]
    alarms = [a["Name"] for a in group["AlarmConfiguration"]["Alarms"]]
    assert alarms == [{"Ref": "Api5xxAlarm"}, {"Ref": "ConfigurationErrorAlarm"}]
    assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
    assert "Canary10Percent5Minutes" in json.dumps(group["DeploymentConfigName"])


def test_the_watch_function_starts_no_execution_and_answers_no_token(
    resources: dict[str, Any],
) -> None:
    """The fleet polls: the watch function only registers (and a waiter's token goes on the
    record); the provider functions, whose batches end polls, answer the tokens."""
    actions = {
        action
        for s in role_statements("WatchFunction")
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not {a for a in actions if a.startswith("states:")}, actions
    for function in PROVIDER_FUNCTIONS:
        (answer,) = [
            s for s in role_statements(function) if "states:SendTaskSuccess" in s["Action"]
        ]
        assert sorted(answer["Action"]) == ["states:SendTaskFailure", "states:SendTaskSuccess"]


def test_every_policy_document_says_its_version(resources: dict[str, Any]) -> None:
    """Without `Version: 2012-10-17` IAM reads a policy in its 2008 language (parliament's
    NO_VERSION): every inline policy of every role says it."""
    from devstack import sam

    template = transformed_template()
    for name, document in sam.resolved_policies(template, sam.resolver(template)).items():
        assert document.get("Version") == "2012-10-17", name


# --------------------------------------------------------------------------- deploy-check


def test_a_parliament_finding_is_explained_only_by_its_own_issue_and_actions() -> None:
    from devstack.deploy_check import explained

    ignores = [
        {"issue": "RESOURCE_MISMATCH", "action": "states:DescribeExecution", "comment": "why"},
        {"issue": "RESOURCE_MISMATCH", "actions": ["sqs:SendMessage", "events:PutEvents"]},
    ]

    def finding(issue: str, *actions: str) -> dict[str, Any]:
        return {"issue": issue, "detail": [{"action": a} for a in actions]}

    assert explained(finding("RESOURCE_MISMATCH", "states:DescribeExecution"), ignores) == "why"
    assert (
        explained(finding("RESOURCE_MISMATCH", "sqs:SendMessage", "events:PutEvents"), ignores)
        == ""
    )
    assert explained(finding("RESOURCE_MISMATCH", "dynamodb:Scan"), ignores) is None
    assert explained(finding("RESOURCE_STAR", "states:DescribeExecution"), ignores) is None
    assert explained(finding("RESOURCE_MISMATCH", "sqs:SendMessage"), ignores) is None


def test_every_reviewed_skip_says_why() -> None:
    from devstack.aws.template import read_raw
    from devstack.sam import TEMPLATE

    metadata = read_raw(TEMPLATE)["Metadata"]
    for entry in [*metadata["checkov"]["skip"], *metadata["parliament"]["ignore"]]:
        assert len(str(entry.get("comment", "")).split()) >= 8, entry
