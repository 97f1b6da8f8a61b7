"""template.yaml → typed models: the real template, modified copies, and the intrinsics."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from devstack.aws.errors import (
    ParameterError,
    TemplateError,
    UnresolvableReference,
    UnsupportedIntrinsic,
    UnsupportedProperty,
    UnsupportedResource,
)
from devstack.aws.template import load_template
from tests.devstack.conftest import REPO, TEMPLATE, decoded_template, write_template_copy

ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:refund-status-"


def _of_type(raw: dict[str, Any], resource_type: str) -> set[str]:
    return {k for k, v in raw["Resources"].items() if v["Type"] == resource_type}


def _leftover_intrinsics(value: Any) -> bool:
    text = json.dumps(value)
    return "${" in text or '"Ref"' in text or '"Fn::' in text


# ---------------------------------------------------------------------- the real template


def test_real_template_yields_every_resource_of_the_yaml() -> None:
    # Given the repository's template, read both raw and through the loader
    raw = decoded_template()
    template = load_template(TEMPLATE)

    # Then every function, table, secret and state machine of the YAML is in the model
    assert set(template.functions) == _of_type(raw, "AWS::Serverless::Function")
    assert set(template.tables) == _of_type(raw, "AWS::DynamoDB::Table")
    assert set(template.secrets) == _of_type(raw, "AWS::SecretsManager::Secret")
    assert set(template.state_machines) == _of_type(raw, "AWS::Serverless::StateMachine")
    assert set(template.log_groups) == _of_type(raw, "AWS::Logs::LogGroup")
    monitoring = {
        logical_id
        for kind in ("AWS::SNS::Topic", "AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard")
        for logical_id in _of_type(raw, kind)
    }
    # The e-mail subscription exists only with AlarmEmail set (its condition is false here).
    assert set(template.monitoring) == monitoring
    assert {
        "ConvergeGateFunction",
        "SureCartFunction",
        "Gr4vyFunction",
        "ShoplazzaFunction",
    } <= set(template.functions)


def test_real_template_functions_get_globals_and_resolved_environment() -> None:
    template = load_template(TEMPLATE)
    globals_ = decoded_template()["Globals"]["Function"]

    for function in template.functions.values():
        # Globals apply unless the function sets its own value
        own = decoded_template()["Resources"][function.logical_id]["Properties"]
        assert function.runtime == globals_["Runtime"]
        assert function.timeout == own.get("Timeout", globals_["Timeout"])
        assert function.memory_mb == own.get("MemorySize", globals_["MemorySize"])
        assert set(globals_["Environment"]["Variables"]) <= set(function.environment)
        # Every value is a plain, resolved string
        assert all(isinstance(v, str) for v in function.environment.values())
        assert not _leftover_intrinsics(function.environment), function.logical_id
        assert function.code_dir.is_dir()
        assert (function.code_dir / "app.py").is_file()
        assert function.arn == ARN_PREFIX + function.logical_id
        # The shared layer, as Lambda would mount it
        assert REPO / "layers" / "refund_core" in function.layer_dirs

    gr4vy = template.functions["Gr4vyFunction"]
    assert gr4vy.environment["POWERTOOLS_LOG_LEVEL"] == "INFO"  # parameter default
    assert gr4vy.environment["PROVIDER_SECRET_ID"] == template.secrets["Gr4vySecret"].arn
    assert template.secrets["Gr4vySecret"].name == "refund-status/gr4vy"


@pytest.mark.parametrize("provider", ["convergegate", "surecart", "gr4vy", "shoplazza"])
def test_real_template_routes_each_provider_to_its_function(provider: str) -> None:
    template = load_template(TEMPLATE)
    assert template.api is not None

    function = template.api.route_map()[("GET", f"/refunds/{provider}/{{refund_id}}")]

    assert template.functions[function].code_dir == REPO / "functions" / provider
    assert template.api.default_authorizer == "AWS_IAM"


def test_real_template_state_machines_have_no_placeholder_left() -> None:
    template = load_template(TEMPLATE)

    for machine in template.state_machines.values():
        assert "${" not in machine.definition, machine.logical_id
        json.loads(machine.definition)
        assert machine.arn.endswith(f":stateMachine:{machine.name}")


def test_real_template_secrets_start_as_their_template_value() -> None:
    raw = decoded_template()["Resources"]
    template = load_template(TEMPLATE)

    for secret in template.secrets.values():
        assert secret.secret_string == raw[secret.logical_id]["Properties"]["SecretString"]


# ---------------------------------------------------------------------- modified copies


def test_a_renamed_table_reaches_the_model_and_its_references(tmp_path: Path) -> None:
    # Given the real template and where it refers to its table by name
    raw = decoded_template()
    table_id = next(iter(_of_type(raw, "AWS::DynamoDB::Table")))
    before = load_template(TEMPLATE)
    old_name = before.tables[table_id].name
    env_refs = {
        (f.logical_id, key)
        for f in before.functions.values()
        for key, value in f.environment.items()
        if value == old_name
    }
    machine_refs = {
        (m.logical_id, key)
        for m in before.state_machines.values()
        for key, value in m.substitutions.items()
        if value == old_name
    }

    # When only the table's name changes in a copy of the template
    raw["Resources"][table_id]["Properties"]["TableName"] = "renamed-records"
    template = load_template(write_template_copy(tmp_path, raw))

    # Then the table and every reference to it follow
    assert template.tables[table_id].name == "renamed-records"
    for function_id, key in env_refs:
        assert template.functions[function_id].environment[key] == "renamed-records"
    for machine_id, key in machine_refs:
        assert template.state_machines[machine_id].substitutions[key] == "renamed-records"
    assert env_refs | machine_refs  # the template does refer to its table somewhere


def test_a_new_route_and_a_changed_env_var_reach_the_model(tmp_path: Path) -> None:
    raw = decoded_template()
    props = raw["Resources"]["SureCartFunction"]["Properties"]
    props["Events"]["History"] = {
        "Type": "Api",
        "Properties": {
            "RestApiId": {"Ref": "RefundApi"},
            "Path": "/refunds/surecart/{refund_id}/history",
            "Method": "get",
        },
    }
    props["Environment"]["Variables"]["FEATURE"] = {"Fn::Sub": "on-${AWS::Region}"}
    raw["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] = "renamed"

    template = load_template(write_template_copy(tmp_path, raw))

    assert template.api is not None
    routes = template.api.route_map()
    assert routes[("GET", "/refunds/surecart/{refund_id}/history")] == "SureCartFunction"
    assert ("GET", "/refunds/surecart/{refund_id}/history") in template.functions[
        "SureCartFunction"
    ].routes
    assert template.functions["SureCartFunction"].environment["FEATURE"] == "on-us-east-1"
    assert all(
        f.environment["POWERTOOLS_SERVICE_NAME"] == "renamed" for f in template.functions.values()
    )


def test_parameter_overrides_and_stack_name_reach_the_environment() -> None:
    template = load_template(
        TEMPLATE, {"ProviderTimeoutSeconds": 5, "LogLevel": "DEBUG"}, stack_name="dev"
    )

    gr4vy = template.functions["Gr4vyFunction"]
    assert gr4vy.environment["PROVIDER_TIMEOUT_SECONDS"] == "5"
    assert gr4vy.environment["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert gr4vy.name == "dev-Gr4vyFunction"
    assert template.secrets["Gr4vySecret"].name == "dev/gr4vy"


def test_an_unknown_resource_type_is_refused_by_name(tmp_path: Path) -> None:
    raw = decoded_template()
    raw["Resources"]["RefundStream"] = {"Type": "AWS::Kinesis::Stream", "Properties": {}}
    raw["Resources"]["SomeRole"] = {"Type": "AWS::IAM::Role", "Properties": {}}  # ignored

    with pytest.raises(UnsupportedResource, match="RefundStream") as caught:
        load_template(write_template_copy(tmp_path, raw))

    assert caught.value.logical_id == "RefundStream"
    assert caught.value.resource_type == "AWS::Kinesis::Stream"
    assert "AWS::Kinesis::Stream" in str(caught.value)


@pytest.mark.parametrize(
    ("logical_id", "path", "value", "key"),
    [
        ("RefundRecordsTable", ("Tags",), [{"Key": "team", "Value": "x"}], "Tags"),
        ("RefundRecordsTable", ("SSESpecification", "SSEColour"), "blue", "SSEColour"),
        ("RefundPollerLogs", ("KmsKeyId",), "alias/logs", "KmsKeyId"),
        # a function setting SAM passes through to the function it creates
        (
            "ConvergeGateFunction",
            ("ReservedConcurrentExecutions",),
            5,
            "ReservedConcurrentExecutions",
        ),
        ("ConvergeGateFunction", ("EphemeralStorage",), {"Size": 1024}, "EphemeralStorage"),
        ("RefundPoller", ("Logging", "Verbosity"), "high", "Verbosity"),
        ("RefundPoller", ("Tracing", "SamplingRate"), 1, "SamplingRate"),
        ("ConvergeGateSecret", ("GenerateSecretString",), {}, "GenerateSecretString"),
    ],
)
def test_a_setting_the_local_stack_cannot_create_is_refused_by_name(
    tmp_path: Path, logical_id: str, path: tuple[str, ...], value: Any, key: str
) -> None:
    raw = decoded_template()
    node = raw["Resources"][logical_id]["Properties"]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value

    with pytest.raises(UnsupportedProperty, match=key) as caught:
        load_template(write_template_copy(tmp_path, raw))

    assert caught.value.logical_id == logical_id
    assert caught.value.key == key


def test_real_template_settings_reach_the_models() -> None:
    template = load_template(TEMPLATE)

    table = template.tables["RefundRecordsTable"]
    assert table.create_table_kwargs()["SSESpecification"] == {"Enabled": True}
    group = template.log_groups["RefundPollerLogs"]
    assert group.name == "/aws/vendedlogs/states/refund-status-refund-poller"
    assert group.retention_in_days == 30
    kwargs = template.state_machines["RefundPoller"].create_state_machine_kwargs("role")
    assert kwargs["loggingConfiguration"] == {
        "level": "ERROR",
        "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group.arn}}],
    }
    assert kwargs["tracingConfiguration"] == {"enabled": True}


# ---------------------------------------------------------------------- intrinsics

TINY = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Zones:
    Type: CommaDelimitedList
    Default: "a, b"
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsNotProd: !Not [!Condition IsProd]
Mappings:
  Sizes:
    dev: {Memory: 128}
    prod: {Memory: 1024}
Globals:
  Function:
    Runtime: python3.13
    Handler: app.lambda_handler
    Environment:
      Variables:
        FROM_GLOBALS: "yes"
        OVERRIDDEN: global
Resources:
  Records:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-records-${Stage}"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: gsi_pk, AttributeType: S}
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: by-gsi
          KeySchema: [{AttributeName: gsi_pk, KeyType: HASH}]
          Projection: {ProjectionType: KEYS_ONLY}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
  Creds:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: '{"k": "v"}'
  ProdOnly:
    Type: AWS::SecretsManager::Secret
    Condition: IsProd
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      MemorySize: !FindInMap [Sizes, !Ref Stage, Memory]
      Environment:
        Variables:
          OVERRIDDEN: local
          TABLE: !Ref Records
          TABLE_ARN: !GetAtt Records.Arn
          SECRET: !Ref Creds
          JOINED: !Join ["/", [!Ref "AWS::Region", !Ref "AWS::AccountId", !Ref "AWS::Partition"]]
          SUB_LIST: !Sub ["${Name}:${AWS::URLSuffix}", {Name: !Select [1, !Ref Zones]}]
          LITERAL: !Sub "${!NotAVariable}"
          BY_CONDITION: !If [IsProd, prod-value, !Ref "AWS::NoValue"]
          NOT_PROD: !If [IsNotProd, "true", "false"]
          MACHINE: !GetAtt Machine.Name
          NUMBER: 42
          FLAG: true
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      Definition:
        StartAt: Go
        States:
          Go: {Type: Task, Resource: "${FnArn}", Comment: "${Unknown} stays", End: true}
      DefinitionSubstitutions:
        FnArn: !GetAtt Fn.Arn
"""


def _tiny(tmp_path: Path, text: str = TINY) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_intrinsics_resolve_with_the_local_naming_scheme(tmp_path: Path) -> None:
    template = load_template(_tiny(tmp_path), stack_name="s")

    env = template.functions["Fn"].environment
    assert env == {
        "FROM_GLOBALS": "yes",
        "OVERRIDDEN": "local",
        "TABLE": "s-records-dev",
        "TABLE_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/s-records-dev",
        "SECRET": "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-Creds",
        "JOINED": "us-east-1/123456789012/aws",
        "SUB_LIST": "b:amazonaws.com",
        "LITERAL": "${NotAVariable}",
        "NOT_PROD": "true",
        "MACHINE": "s-Machine",
        "NUMBER": "42",
        "FLAG": "true",
    }
    assert template.functions["Fn"].memory_mb == 128
    assert template.functions["Fn"].code_dir == tmp_path / "fn"
    assert set(template.secrets) == {"Creds"}  # ProdOnly's condition is false
    assert template.api is None


def test_conditions_follow_parameter_overrides(tmp_path: Path) -> None:
    template = load_template(_tiny(tmp_path), {"Stage": "prod"})

    assert template.functions["Fn"].environment["BY_CONDITION"] == "prod-value"
    assert template.functions["Fn"].memory_mb == 1024
    assert set(template.secrets) == {"Creds", "ProdOnly"}


def test_table_model_carries_keys_indexes_and_ttl(tmp_path: Path) -> None:
    table = load_template(_tiny(tmp_path)).tables["Records"]

    assert table.hash_key == "pk"
    assert table.range_key is None
    assert table.ttl_attribute == "ttl"
    assert table.point_in_time_recovery is False
    kwargs = table.create_table_kwargs()
    assert kwargs["BillingMode"] == "PAY_PER_REQUEST"
    assert kwargs["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-gsi",
            "KeySchema": [{"AttributeName": "gsi_pk", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]


def test_definition_substitutions_are_textual_and_only_for_known_keys(tmp_path: Path) -> None:
    machine = load_template(_tiny(tmp_path), stack_name="s").state_machines["Machine"]

    definition = json.loads(machine.definition)
    assert (
        definition["States"]["Go"]["Resource"]
        == "arn:aws:lambda:us-east-1:123456789012:function:s-Fn"
    )
    assert definition["States"]["Go"]["Comment"] == "${Unknown} stays"
    assert machine.type == "EXPRESS"


def test_physical_ids_replace_generated_ones(tmp_path: Path) -> None:
    real = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-Creds-AbC123"
    template = load_template(_tiny(tmp_path), stack_name="s", physical_ids={"Creds": real})

    assert template.functions["Fn"].environment["SECRET"] == real
    assert template.secret(real).logical_id == "Creds"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (("TABLE: !Ref Records", "TABLE: !Ref Nowhere"), UnresolvableReference, "Nowhere"),
        (("TABLE: !Ref Records", "TABLE: !GetAtt Records.Colour"), UnresolvableReference, "Colour"),
        (
            ("TABLE: !Ref Records", "TABLE: !ImportValue shared"),
            UnsupportedIntrinsic,
            "ImportValue",
        ),
        (("Default: dev", "Default: staging"), ParameterError, "staging"),
    ],
)
def test_template_mistakes_are_named(
    tmp_path: Path, change: tuple[str, str], error: type[Exception], message: str
) -> None:
    path = _tiny(tmp_path, TINY.replace(*change))

    with pytest.raises(error, match=message):
        load_template(path)


def test_unknown_parameter_override_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="Stge"):
        load_template(_tiny(tmp_path), {"Stge": "prod"})


def test_the_alarm_email_parameter_subscribes_it_to_the_alarm_topic() -> None:
    template = load_template(TEMPLATE, {"AlarmEmail": "oncall@example.com"})
    subscription = template.monitoring["AlarmEmailSubscription"].properties
    topic = template.monitoring["AlarmTopic"]
    assert subscription == {
        "TopicArn": f"arn:aws:sns:us-east-1:123456789012:{topic.name}",
        "Protocol": "email",
        "Endpoint": "oncall@example.com",
    }


def test_env_json_sets_only_what_each_function_declares() -> None:
    """`sam local --env-vars events/env.json` passes a function only the variables its
    template declares: anything else in env.json would be silently dropped."""
    import json

    env = json.loads((TEMPLATE.parent / "events" / "env.json").read_text())
    functions = load_template(TEMPLATE).functions
    for logical_id, variables in env.items():
        assert logical_id in functions, f"env.json names {logical_id}, not in template.yaml"
        undeclared = set(variables) - set(functions[logical_id].environment)
        assert not undeclared, f"{logical_id}: {sorted(undeclared)} not declared by the template"
    for provider in ("ConvergeGate", "SureCart", "Gr4vy", "Shoplazza"):
        assert env[f"{provider}Function"]["ACCOUNT_SECRET_PREFIX"].endswith(f"/{provider.lower()}/")


def test_a_property_the_template_leaves_out_is_absent_and_refused_when_given() -> None:
    """`KmsKeyId: !If [HasSecretsKmsKey, ..., !Ref AWS::NoValue]`: without the parameter the
    secret has no such property; with it, the local stack says it cannot create it."""
    assert "KmsKeyId" not in str(load_template(TEMPLATE).secrets["Gr4vySecret"])
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with pytest.raises(UnsupportedProperty, match="KmsKeyId"):
        load_template(TEMPLATE, {"SecretsKmsKeyArn": key})


def test_what_sam_itself_refuses_stops_the_local_stack_with_sams_reason(tmp_path: Path) -> None:
    """The local stack is SAM's transform: an `Api` event SAM cannot turn into a route (no
    Method) is refused with SAM's own message, naming the resource, as `sam deploy` would."""
    raw = decoded_template()
    events = raw["Resources"]["SureCartFunction"]["Properties"]["Events"]
    events["Broken"] = {"Type": "Api", "Properties": {"Path": "/refunds/surecart/x"}}

    with pytest.raises(TemplateError, match=r"\[SureCartFunction\].*\[Broken\]") as caught:
        load_template(write_template_copy(tmp_path, raw))

    assert "SAM's transform refused" in str(caught.value)
    assert "Method" in str(caught.value)


def test_the_routes_and_gateway_responses_are_those_sam_wrote_into_the_api_body() -> None:
    from devstack.aws.transform import transformed_template

    body = transformed_template(TEMPLATE)["Resources"]["RefundApi"]["Properties"]["Body"]
    api = load_template(TEMPLATE).api
    assert api is not None

    written = {
        ("ANY" if method == "x-amazon-apigateway-any-method" else method.upper(), path)
        for path, operations in body["paths"].items()
        for method in operations
    }
    assert {(r.method, r.path) for r in api.routes} == written
    assert api.gateway_responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    assert api.stage_name == "v1"
