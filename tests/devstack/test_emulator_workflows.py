"""Step Functions in the emulator run the real ASL against real handlers (tiny tmp template)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.aws.emulator import LocalAws
from devstack.aws.errors import LocalAwsError
from tests.devstack.conftest import write_function

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Timeout: 5
    Environment:
      Variables:
        TABLE_NAME: !Ref Store
Resources:
  Store:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Config:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: !Sub "${AWS::StackName}/config"
      SecretString: '{"greeting": "hello"}'
  FlakyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: flaky/
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Timeout: 1
  AwsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: uses_aws/
      Environment:
        Variables:
          CONFIG_SECRET: !Ref Config
  Child:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: child.asl.json
      DefinitionSubstitutions:
        FlakyArn: !GetAtt FlakyFunction.Arn
  Parent:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: parent.asl.json
      DefinitionSubstitutions:
        ChildArn: !Ref Child
  Slow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Call
        States:
          Call:
            Type: Task
            Resource: "${SlowArn}"
            Catch: [{ErrorEquals: [Sandbox.Timedout], ResultPath: $.error, Next: Caught}]
            End: true
          Caught: {Type: Pass, End: true}
      DefinitionSubstitutions:
        SlowArn: !GetAtt SlowFunction.Arn
"""

FLAKY = """
COUNTS = {}


class RefundPending(Exception):
    pass


def lambda_handler(event, context):
    key = (event["key"], event["phase"])
    COUNTS[key] = COUNTS.get(key, 0) + 1
    if COUNTS[key] <= event["failures"]:
        raise RefundPending(f"attempt {COUNTS[key]}")
    return {"key": event["key"], "phase": event["phase"], "attempts": COUNTS[key]}
"""

SLOW = """
import time


def lambda_handler(event, context):
    time.sleep(30)
"""

USES_AWS = """
import json
import os

import boto3


def lambda_handler(event, context):
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["CONFIG_SECRET"])
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE_NAME"], Item={"pk": {"S": event["pk"]}}
    )
    return json.loads(secret["SecretString"])
"""

RETRY = {"ErrorEquals": ["RefundPending"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 3}
CHILD = {
    "StartAt": "ViaIntegration",
    "States": {
        # arn:aws:states:::lambda:invoke, as the poller calls its functions
        "ViaIntegration": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${FlakyArn}",
                "Payload": {"key.$": "$.key", "phase": "integration", "failures.$": "$.fails"},
            },
            "ResultSelector": {"first.$": "$.Payload"},
            "ResultPath": "$.result",
            "Retry": [RETRY],
            "Next": "ViaArn",
        },
        # a function ARN as the Resource
        "ViaArn": {
            "Type": "Task",
            "Resource": "${FlakyArn}",
            "Parameters": {"key.$": "$.key", "phase": "arn", "failures.$": "$.arn_fails"},
            "ResultPath": "$.result.second",
            "Retry": [RETRY],
            "OutputPath": "$.result",
            "End": True,
        },
    },
}
PARENT = {
    "StartAt": "RunChild",
    "States": {
        "RunChild": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {
                "StateMachineArn": "${ChildArn}",
                "Name.$": "$.name",
                "Input": {"key.$": "$.key", "fails": 0, "arn_fails": 0},
            },
            "End": True,
        }
    },
}


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    root = tmp_path_factory.mktemp("stack")
    (root / "template.yaml").write_text(TEMPLATE, encoding="utf-8")
    (root / "child.asl.json").write_text(json.dumps(CHILD), encoding="utf-8")
    (root / "parent.asl.json").write_text(json.dumps(PARENT), encoding="utf-8")
    write_function(root, "flaky", FLAKY)
    write_function(root, "slow", SLOW)
    write_function(root, "uses_aws", USES_AWS)
    with LocalAws(root / "template.yaml", stack_name="tiny") as local:
        yield local


def _failed_errors(aws: LocalAws, execution_arn: str) -> list[tuple[str, str]]:
    events = aws.client("stepfunctions").get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    details = {
        "TaskFailed": "taskFailedEventDetails",
        "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    }
    return [
        (e["type"], e[details[e["type"]]]["error"])  # type: ignore[literal-required]
        for e in events
        if e["type"] in details
    ]


def test_retry_on_a_handler_exception_name_then_success(aws: LocalAws) -> None:
    # Given a function that raises RefundPending twice (integration) then once (direct ARN)
    execution = aws.run_execution("Child", {"key": "retry", "fails": 2, "arn_fails": 1})

    # Then Retry on the exception's class name carried the workflow to success
    assert execution["status"] == "SUCCEEDED", execution
    output: dict[str, Any] = json.loads(execution["output"])
    assert output["first"] == {"key": "retry", "phase": "integration", "attempts": 3}
    assert output["second"] == {"key": "retry", "phase": "arn", "attempts": 2}
    # (a function ARN task records LambdaFunctionFailed, the integration TaskFailed, as on AWS)
    assert _failed_errors(aws, execution["executionArn"]) == [
        ("TaskFailed", "RefundPending"),
        ("TaskFailed", "RefundPending"),
        ("LambdaFunctionFailed", "RefundPending"),
    ]


def test_a_function_timeout_is_sandbox_timedout_in_the_workflow(aws: LocalAws) -> None:
    execution = aws.run_execution("Slow", {})

    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"])["error"]["Error"] == "Sandbox.Timedout"


def test_start_execution_sync2_waits_for_the_child(aws: LocalAws) -> None:
    execution = aws.run_execution("Parent", {"key": "sync", "name": "child-sync"})

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["Status"] == "SUCCEEDED"
    assert output["ExecutionArn"].endswith(":execution:tiny-Child:child-sync")
    assert output["Output"]["first"]["phase"] == "integration"  # .sync:2 parses the JSON


def test_functions_reach_the_emulator_with_their_resolved_references(aws: LocalAws) -> None:
    result = aws.lambdas.invoke("AwsFunction", {"pk": "from-lambda"})

    assert result.ok, result
    assert result.payload == {"greeting": "hello"}
    item = aws.client("dynamodb").get_item(
        TableName=aws.template.tables["Store"].name, Key={"pk": {"S": "from-lambda"}}
    )
    assert "Item" in item


def test_invoke_through_the_lambda_api_reports_function_errors(aws: LocalAws) -> None:
    client = aws.client("lambda")
    ok = client.invoke(
        FunctionName=aws.template.functions["FlakyFunction"].arn,
        Payload=json.dumps({"key": "api", "phase": "x", "failures": 1}).encode(),
    )
    assert ok["FunctionError"] == "Unhandled"
    assert json.loads(ok["Payload"].read())["errorType"] == "RefundPending"

    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="not-a-function", Payload=b"{}")


def test_put_secret_replaces_the_value(aws: LocalAws) -> None:
    aws.put_secret("Config", {"greeting": "bonjour"})

    value = aws.client("secretsmanager").get_secret_value(SecretId="tiny/config")
    assert json.loads(value["SecretString"]) == {"greeting": "bonjour"}
    aws.put_secret("tiny/config", {"greeting": "hello"})


def test_only_one_stack_per_process(aws: LocalAws) -> None:
    with pytest.raises(LocalAwsError, match="another LocalAws"):
        LocalAws(aws.template.path).start()


def test_template_has_no_placeholder_left(aws: LocalAws) -> None:
    described = aws.client("stepfunctions").describe_state_machine(
        stateMachineArn=aws.template.state_machines["Child"].arn
    )
    assert "${" not in described["definition"]
    assert described["definition"] == aws.template.state_machines["Child"].definition
