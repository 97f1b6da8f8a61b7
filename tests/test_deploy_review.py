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
