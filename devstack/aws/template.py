"""template.yaml as typed models: what the local stack creates, read from SAM's own transform.

The template goes through samtranslator (`devstack.aws.transform`), as `sam deploy` sends it
through CloudFormation's SAM macro: Globals, `Events`, generated roles, aliases and the API's
OpenAPI body all come from SAM. What it makes is then read here: parameters get their
defaults or the caller's overrides, and the intrinsics are evaluated with a deterministic
local naming scheme (see `_intrinsics`). Nothing here talks to AWS or moto.

One module past 500 lines because it is one table: each CloudFormation type the local stack
creates, the properties it accepts for it (any other is refused by name), and its model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Final

from cfnlint.decode import decode  # type: ignore[import-untyped]

from devstack.aws import transform
from devstack.aws._intrinsics import NO_VALUE, Pseudo, Resolver, stringify
from devstack.aws.errors import (
    ParameterError,
    TemplateError,
    UnsupportedProperty,
    UnsupportedResource,
)

ACCOUNT_ID: Final = "123456789012"
REGION: Final = "us-east-1"
DEFAULT_STACK_NAME: Final = "refund-status"

FUNCTION: Final = "AWS::Lambda::Function"
LAYER: Final = "AWS::Lambda::LayerVersion"
REST_API: Final = "AWS::ApiGateway::RestApi"
STAGE: Final = "AWS::ApiGateway::Stage"
STATE_MACHINE: Final = "AWS::StepFunctions::StateMachine"
TABLE: Final = "AWS::DynamoDB::Table"
SECRET: Final = "AWS::SecretsManager::Secret"  # noqa: S105 - a type name
LOG_GROUP: Final = "AWS::Logs::LogGroup"
ALARM: Final = "AWS::CloudWatch::Alarm"
DASHBOARD: Final = "AWS::CloudWatch::Dashboard"
TOPIC: Final = "AWS::SNS::Topic"
SUBSCRIPTION: Final = "AWS::SNS::Subscription"
QUEUE: Final = "AWS::SQS::Queue"
QUEUE_POLICY: Final = "AWS::SQS::QueuePolicy"
EVENT_BUS: Final = "AWS::Events::EventBus"
ARCHIVE: Final = "AWS::Events::Archive"
RULE: Final = "AWS::Events::Rule"
PIPE: Final = "AWS::Pipes::Pipe"
SCHEDULE: Final = "AWS::Scheduler::Schedule"
# Created in moto as declared (their properties are the API's own parameters).
MONITORING_TYPES: Final = (TOPIC, SUBSCRIPTION, ALARM, DASHBOARD)
# The events path, in creation order; the pipe is run by devstack.aws.pipes (moto moves
# nothing through a pipe), the queue policy accepted and not enforced, like IAM.
EVENT_TYPES: Final = (QUEUE, QUEUE_POLICY, EVENT_BUS, ARCHIVE, RULE, PIPE, SCHEDULE)

SUPPORTED_TYPES: Final = frozenset(
    {FUNCTION, LAYER, REST_API, STAGE, STATE_MACHINE, TABLE, SECRET, LOG_GROUP}
    | set(MONITORING_TYPES)
    | set(EVENT_TYPES)
)
# Accepted and not created, each for a reason:
IGNORED_TYPE_PREFIXES: Final = (
    # Permissions are not enforced at call time: devstack.iam_check evaluates every call the
    # run recorded against these roles and policies afterwards.
    "AWS::IAM::",
    "AWS::Lambda::Permission",
    "AWS::SecretsManager::ResourcePolicy",
    # Locally a function has one version, its code on disk: an alias or a version is that
    # function, a deployment is all at once, and the API's deployment is the running gateway.
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::CodeDeploy::",
    "AWS::ApiGateway::Deployment",
    # The account-wide API Gateway setting: the role access logs are written with.
    "AWS::ApiGateway::Account",
    # Provisioned capacity's auto scaling (RecordsCapacityMode=provisioned): moto's DynamoDB
    # does not meter capacity, so there is nothing locally to scale.
    "AWS::ApplicationAutoScaling::",
)

# For each type the local stack creates in moto: the properties it creates the resource with.
# Any other property of such a resource is refused (UnsupportedProperty): a declared setting is
# created or named as an error, never silently dropped.
CREATED_PROPERTIES: Final[Mapping[str, frozenset[str]]] = {
    TABLE: frozenset(
        {
            "TableName",
            "KeySchema",
            "AttributeDefinitions",
            "BillingMode",
            "ProvisionedThroughput",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "TimeToLiveSpecification",
            "PointInTimeRecoverySpecification",
            "StreamSpecification",
            "SSESpecification",
        }
    ),
    LOG_GROUP: frozenset({"LogGroupName", "RetentionInDays"}),
    FUNCTION: frozenset(
        {
            "FunctionName",
            "Description",
            "Code",  # an S3 location whose key is the local directory (transform.py)
            "Handler",
            "Runtime",
            "Timeout",
            "MemorySize",
            "Environment",
            "Layers",
            "Role",  # checked after the run (devstack.iam_check), not at call time
            # Not emulated, and no behaviour of the code depends on them: the worker runs the
            # host's architecture, logs to the terminal, and Powertools' tracer is off locally.
            "Architectures",
            "LoggingConfig",
            "TracingConfig",
            "Tags",  # SAM's own `lambda:createdBy` tag
        }
    ),
    LAYER: frozenset(
        {"LayerName", "Description", "Content", "CompatibleArchitectures", "CompatibleRuntimes"}
    ),
    # The API is the local gateway serving the routes of the OpenAPI body SAM wrote; its
    # stage's access log, tracing and throttling are API Gateway's, not emulated.
    REST_API: frozenset({"Name", "Body"}),
    STAGE: frozenset(
        {
            "RestApiId",
            "StageName",
            "DeploymentId",
            "AccessLogSetting",
            "TracingEnabled",
            "MethodSettings",
        }
    ),
    STATE_MACHINE: frozenset(
        {
            "StateMachineName",
            "StateMachineType",
            "Definition",
            "DefinitionString",
            "DefinitionS3Location",  # an S3 location whose key is the local file (transform.py)
            "DefinitionSubstitutions",
            "LoggingConfiguration",
            "TracingConfiguration",
            "RoleArn",  # checked after the run (devstack.iam_check), not at call time
            "Tags",  # SAM's own `stateMachine:createdBy` tag
        }
    ),
    SECRET: frozenset({"Name", "Description", "SecretString"}),
    TOPIC: frozenset({"TopicName"}),
    SUBSCRIPTION: frozenset({"TopicArn", "Protocol", "Endpoint"}),
    ALARM: frozenset(
        {
            "AlarmName",
            "AlarmDescription",
            "Namespace",
            "MetricName",
            "Dimensions",
            "Statistic",
            "ExtendedStatistic",
            "Unit",
            "Period",
            "EvaluationPeriods",
            "DatapointsToAlarm",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "ActionsEnabled",
            "AlarmActions",
            "OKActions",
            "InsufficientDataActions",
            "Metrics",
        }
    ),
    DASHBOARD: frozenset({"DashboardName", "DashboardBody"}),
    QUEUE: frozenset(
        {"QueueName", "MessageRetentionPeriod", "SqsManagedSseEnabled", "VisibilityTimeout"}
    ),
    QUEUE_POLICY: frozenset({"Queues", "PolicyDocument"}),
    EVENT_BUS: frozenset({"Name"}),
    ARCHIVE: frozenset(
        {"ArchiveName", "Description", "SourceArn", "RetentionDays", "EventPattern"}
    ),
    RULE: frozenset({"Name", "Description", "EventBusName", "EventPattern", "State", "Targets"}),
    # devstack.aws.pipes refuses, by name, the parameters inside these it cannot run.
    PIPE: frozenset(
        {
            "Name",
            "Description",
            "RoleArn",  # not enforced
            "Source",
            "SourceParameters",
            "Enrichment",
            "Target",
            "TargetParameters",
            "LogConfiguration",  # the local pipe logs to the terminal
            "DesiredState",
        }
    ),
    # Kept in moto and fired by devstack.aws.schedules (moto fires nothing), which refuses
    # by name what inside it cannot run.
    SCHEDULE: frozenset(
        {"Name", "Description", "ScheduleExpression", "FlexibleTimeWindow", "State", "Target"}
    ),
}


# ---------------------------------------------------------------------- models


@dataclass(frozen=True)
class Function:
    """An `AWS::Lambda::Function` as SAM made it (Globals applied, routes from the API's
    body), its environment resolved."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    timeout: int
    memory_mb: int
    environment: Mapping[str, str]
    layer_dirs: tuple[Path, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DeclaredResource:
    """A resource created from its declared properties, resolved (an SNS topic, an alarm, a
    queue, an event bus or rule, a pipe...)."""

    logical_id: str
    resource_type: str
    name: str
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class KeyElement:
    """One attribute of a key schema (`HASH` or `RANGE`)."""

    attribute: str
    key_type: str


@dataclass(frozen=True)
class SecondaryIndex:
    """A global or local secondary index, in the shape CreateTable takes."""

    name: str
    key_schema: tuple[KeyElement, ...]
    projection: Mapping[str, Any]
    provisioned_throughput: Mapping[str, int] | None = None

    def to_api(self) -> dict[str, Any]:
        """The index as a CreateTable `GlobalSecondaryIndexes`/`LocalSecondaryIndexes` item."""
        index: dict[str, Any] = {
            "IndexName": self.name,
            "KeySchema": [_key_to_api(k) for k in self.key_schema],
            "Projection": dict(self.projection),
        }
        if self.provisioned_throughput:
            index["ProvisionedThroughput"] = dict(self.provisioned_throughput)
        return index


@dataclass(frozen=True)
class Table:
    """An `AWS::DynamoDB::Table`."""

    logical_id: str
    name: str
    arn: str
    key_schema: tuple[KeyElement, ...]
    attribute_definitions: Mapping[str, str]
    billing_mode: str
    ttl_attribute: str | None
    point_in_time_recovery: bool
    global_secondary_indexes: tuple[SecondaryIndex, ...] = ()
    local_secondary_indexes: tuple[SecondaryIndex, ...] = ()
    provisioned_throughput: Mapping[str, int] | None = None
    stream_view_type: str | None = None
    sse_specification: Mapping[str, Any] | None = None

    @property
    def hash_key(self) -> str:
        """The partition key's attribute name."""
        return next(k.attribute for k in self.key_schema if k.key_type == "HASH")

    @property
    def range_key(self) -> str | None:
        """The sort key's attribute name, if the table has one."""
        return next((k.attribute for k in self.key_schema if k.key_type == "RANGE"), None)

    def create_table_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for boto3 `create_table` (TTL and PITR are separate calls)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeySchema": [_key_to_api(k) for k in self.key_schema],
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in self.attribute_definitions.items()
            ],
            "BillingMode": self.billing_mode,
        }
        if self.provisioned_throughput:
            kwargs["ProvisionedThroughput"] = dict(self.provisioned_throughput)
        if self.global_secondary_indexes:
            kwargs["GlobalSecondaryIndexes"] = [i.to_api() for i in self.global_secondary_indexes]
        if self.local_secondary_indexes:
            kwargs["LocalSecondaryIndexes"] = [i.to_api() for i in self.local_secondary_indexes]
        if self.stream_view_type:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": self.stream_view_type,
            }
        if self.sse_specification:
            kwargs["SSESpecification"] = dict(self.sse_specification)
        return kwargs


@dataclass(frozen=True)
class StateMachine:
    """A state machine whose definition has its `DefinitionSubstitutions` applied."""

    logical_id: str
    name: str
    arn: str
    definition: str
    type: str
    substitutions: Mapping[str, str] = field(default_factory=dict)
    logging: Mapping[str, Any] | None = None
    tracing: Mapping[str, Any] | None = None

    def create_state_machine_kwargs(self, role_arn: str) -> dict[str, Any]:
        """Keyword arguments for boto3 `create_state_machine`."""
        kwargs: dict[str, Any] = {
            "name": self.name,
            "definition": self.definition,
            "roleArn": role_arn,
            "type": "EXPRESS" if self.type.upper() == "EXPRESS" else "STANDARD",
        }
        if self.logging is not None:
            kwargs["loggingConfiguration"] = dict(self.logging)
        if self.tracing is not None:
            kwargs["tracingConfiguration"] = dict(self.tracing)
        return kwargs


@dataclass(frozen=True)
class LogGroup:
    """An `AWS::Logs::LogGroup`."""

    logical_id: str
    name: str
    arn: str
    retention_in_days: int | None = None


@dataclass(frozen=True)
class Secret:
    """An `AWS::SecretsManager::Secret` and its initial value."""

    logical_id: str
    name: str
    arn: str
    secret_string: str | None
    description: str | None = None


@dataclass(frozen=True)
class Route:
    """One API route and the function serving it."""

    method: str
    path: str
    function: str


@dataclass(frozen=True)
class Api:
    """The REST API: its routes and the gateway settings a local gateway needs."""

    logical_id: str
    name: str
    stage_name: str
    routes: tuple[Route, ...]
    default_authorizer: str | None = None
    gateway_responses: Mapping[str, Any] = field(default_factory=dict)

    def route_map(self) -> dict[tuple[str, str], str]:
        """(method, path) → function logical id."""
        return {(r.method, r.path): r.function for r in self.routes}


@dataclass(frozen=True)
class Template:
    """The local stack's view of template.yaml."""

    path: Path
    stack_name: str
    region: str
    account_id: str
    parameters: Mapping[str, Any]
    functions: Mapping[str, Function]
    tables: Mapping[str, Table]
    state_machines: Mapping[str, StateMachine]
    secrets: Mapping[str, Secret]
    api: Api | None
    log_groups: Mapping[str, LogGroup] = field(default_factory=dict)
    # SNS topics and subscriptions, CloudWatch alarms and dashboards, by logical id.
    monitoring: Mapping[str, DeclaredResource] = field(default_factory=dict)
    # Queues, event buses, archives, rules and pipes (EVENT_TYPES), by logical id.
    events: Mapping[str, DeclaredResource] = field(default_factory=dict)

    def function(self, key: str) -> Function:
        """A function by logical id, physical name or ARN."""
        for function in self.functions.values():
            if key in (function.logical_id, function.name, function.arn):
                return function
        raise KeyError(f"no function {key!r} in {self.path.name}")

    def secret(self, key: str) -> Secret:
        """A secret by logical id, name or ARN."""
        for secret in self.secrets.values():
            if key in (secret.logical_id, secret.name, secret.arn):
                return secret
        raise KeyError(f"no secret {key!r} in {self.path.name}")


def _key_to_api(key: KeyElement) -> dict[str, str]:
    return {"AttributeName": key.attribute, "KeyType": key.key_type}


# ---------------------------------------------------------------------- loading


def load_template(
    path: str | Path = "template.yaml",
    parameter_overrides: Mapping[str, str | int | float] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = REGION,
    account_id: str = ACCOUNT_ID,
    physical_ids: Mapping[str, str] | None = None,
) -> Template:
    """Read `path` into a `Template`.

    `physical_ids` maps logical ids to the physical ids AWS would generate (the emulator passes
    the ARNs moto gave the secrets, so `!Ref Secret` resolves to the real ARN).
    Raises `UnsupportedResource` for a resource type the local stack cannot run.
    """
    template_path = Path(path).resolve()
    transformed = transform.transformed_template(template_path, parameter_overrides)
    resources: Mapping[str, Any] = transformed.get("Resources") or {}
    for logical_id, resource in resources.items():
        resource_type = str(resource.get("Type"))
        if resource_type not in SUPPORTED_TYPES and not resource_type.startswith(
            IGNORED_TYPE_PREFIXES
        ):
            raise UnsupportedResource(logical_id, resource_type)

    parameters = _parameters(transformed.get("Parameters") or {}, parameter_overrides or {})
    resolver = Resolver(
        resources=resources,
        parameters=parameters,
        conditions=transformed.get("Conditions") or {},
        mappings=transformed.get("Mappings") or {},
        pseudo=Pseudo(stack_name=stack_name, region=region, account_id=account_id),
        physical_ids=physical_ids or {},
    )
    active = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if "Condition" not in resource or resolver.condition(str(resource["Condition"]))
    }
    builder = _Builder(template_path, active, resolver)
    return Template(
        path=template_path,
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        parameters=parameters,
        functions=builder.functions(),
        tables=builder.of_type(TABLE, builder.table),
        state_machines=builder.of_type(STATE_MACHINE, builder.state_machine),
        secrets=builder.of_type(SECRET, builder.secret),
        api=builder.api(),
        log_groups=builder.of_type(LOG_GROUP, builder.log_group),
        monitoring=builder.declared(MONITORING_TYPES),
        events=builder.declared(EVENT_TYPES),
    )


def read_raw(path: Path) -> dict[str, Any]:
    """The template as written, as plain data (short-form tags in their long form), for what
    SAM's transform does not carry (such as the reviewers' notes in `Metadata`)."""
    if not path.is_file():
        raise TemplateError(f"template not found: {path}")
    decoded, problems = decode(str(path))
    if decoded is None or problems:
        details = "; ".join(str(problem) for problem in problems) or "empty template"
        raise TemplateError(f"cannot parse {path}: {details}")
    plain = _plain(decoded)
    if not isinstance(plain, dict):
        raise TemplateError(f"{path}: the template is not a mapping")
    return plain


def _plain(node: Any) -> Any:
    """cfn-lint's node classes (str/dict subclasses with positions) as builtin types."""
    if isinstance(node, Mapping):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, str):
        return str(node)
    return node


def _parameters(
    declared: Mapping[str, Any], overrides: Mapping[str, str | int | float]
) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ParameterError(f"parameter overrides name no template parameter: {unknown}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = overrides.get(name, spec.get("Default"))
        if raw is None:
            raise ParameterError(f"parameter {name!r} has no default and no override")
        text = stringify(raw, f"parameter {name!r}")
        _check_parameter(name, spec, text)
        kind = str(spec.get("Type", "String"))
        # CloudFormation hands every parameter to intrinsics as a string, lists as lists.
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = [item.strip() for item in text.split(",")] if text else []
        else:
            values[name] = text
    return values


def _check_parameter(name: str, spec: Mapping[str, Any], text: str) -> None:
    allowed = spec.get("AllowedValues")
    if allowed is not None and text not in [stringify(v, name) for v in allowed]:
        raise ParameterError(f"parameter {name!r}={text!r} is not one of {allowed}")
    pattern = spec.get("AllowedPattern")
    if pattern is not None and not re.fullmatch(str(pattern), text):
        raise ParameterError(f"parameter {name!r}={text!r} does not match {pattern!r}")
    if spec.get("Type") == "Number":
        try:
            number = float(text)
        except ValueError:
            raise ParameterError(f"parameter {name!r}={text!r} is not a number") from None
        low, high = spec.get("MinValue"), spec.get("MaxValue")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            raise ParameterError(f"parameter {name!r}={text} is outside [{low}, {high}]")


class _Builder:
    """Turns resolved resources into models."""

    def __init__(self, template: Path, resources: Mapping[str, Any], resolver: Resolver) -> None:
        self._template = template
        self._resources = resources
        self._resolver = resolver

    def of_type[T](
        self, resource_type: str, build: Callable[[str, Mapping[str, Any]], T]
    ) -> dict[str, T]:
        """Every resource of `resource_type`, built by `build(logical_id, properties)`.

        A property the local stack does not create for that type is refused by name.
        """
        built: dict[str, T] = {}
        for logical_id, resource in self._resources.items():
            if resource.get("Type") != resource_type:
                continue
            props = self._props(logical_id)
            created = CREATED_PROPERTIES.get(resource_type)
            if created is not None:
                for key in list(props):
                    if key in created:
                        continue
                    # A property the template leaves out here (Fn::If to AWS::NoValue) is absent.
                    if self._resolver.resolve(props[key]) is NO_VALUE:
                        del props[key]
                        continue
                    raise UnsupportedProperty(logical_id, resource_type, key)
            built[logical_id] = build(logical_id, props)
        return built

    def _props(self, logical_id: str) -> dict[str, Any]:
        properties = self._resources[logical_id].get("Properties") or {}
        return dict(properties)

    def _value(self, properties: Mapping[str, Any], key: str, default: Any = None) -> Any:
        return self._resolver.resolve(properties[key]) if key in properties else default

    def _code(self, logical_id: str, key: str, location: Any, s3_key: str = "S3Key") -> Path:
        """The local path behind a transformed code location (`Code`, `Content`...)."""
        where = f"{logical_id}.{key}"
        if not isinstance(location, Mapping) or s3_key not in location:
            raise TemplateError(f"{where}: only a local path (SAM's CodeUri) runs locally")
        return transform.local_path(self._template, location[s3_key], where)

    # ------------------------------------------------------------------ functions

    def functions(self) -> dict[str, Function]:
        """Every function, with its routes and layer directories."""
        layers = {
            self._resolver.arn(logical_id): self._code(
                logical_id, "Content", self._value(self._props(logical_id), "Content")
            )
            for logical_id, resource in self._resources.items()
            if resource.get("Type") == LAYER
        }
        routes = self._routes
        return self.of_type(FUNCTION, lambda lid, props: self._function(lid, props, layers, routes))

    def _function(
        self,
        logical_id: str,
        props: Mapping[str, Any],
        layers: Mapping[str, Path],
        routes: list[Route],
    ) -> Function:
        environment = (self._value(props, "Environment") or {}).get("Variables") or {}
        layer_arns = self._value(props, "Layers") or []
        return Function(
            logical_id=logical_id,
            name=self._resolver.physical_name(logical_id),
            arn=self._resolver.arn(logical_id),
            code_dir=self._code(logical_id, "Code", self._value(props, "Code")),
            handler=str(self._value(props, "Handler")),
            runtime=str(self._value(props, "Runtime", "python3.13")),
            timeout=int(self._value(props, "Timeout", 3)),
            memory_mb=int(self._value(props, "MemorySize", 128)),
            environment={
                key: stringify(value, f"{logical_id} environment variable {key}")
                for key, value in environment.items()
            },
            # Layers published elsewhere (an ARN not in this template) cannot be fetched locally.
            layer_dirs=tuple(layers[arn] for arn in layer_arns if arn in layers),
            routes=tuple((r.method, r.path) for r in routes if r.function == logical_id),
        )

    # ------------------------------------------------------------------ API

    def _rest_api(self) -> str | None:
        apis = [lid for lid, r in self._resources.items() if r.get("Type") == REST_API]
        if len(apis) > 1:
            raise TemplateError(f"the local stack serves one API; the template has {apis}")
        return apis[0] if apis else None

    @cached_property
    def _routes(self) -> list[Route]:
        """The routes of the API's OpenAPI body (SAM writes one path per `Api` event), read
        once for the functions and the API."""
        logical_id = self._rest_api()
        if logical_id is None:
            return []
        body = self._value(self._props(logical_id), "Body") or {}
        functions = {
            self._resolver.arn(lid): lid
            for lid, resource in self._resources.items()
            if resource.get("Type") == FUNCTION
        }
        routes = []
        for path, operations in (body.get("paths") or {}).items():
            for method, operation in operations.items():
                if method != _ANY_METHOD and method.upper() not in _HTTP_METHODS:
                    continue  # (`parameters` and other path-level keys)
                target = _proxy_target(logical_id, path, operation)
                # The integration invokes a function, an alias or a version of it.
                function = functions.get(target) or functions.get(target.rsplit(":", 1)[0])
                if function is None:
                    raise TemplateError(
                        f"{logical_id}: {method} {path} invokes {target}, no function here"
                    )
                shown = "ANY" if method == _ANY_METHOD else method.upper()
                routes.append(Route(method=shown, path=str(path), function=function))
        return routes

    def api(self) -> Api | None:
        """The one REST API: the routes of its body, its stage, its own responses."""
        logical_id = self._rest_api()
        if logical_id is None:
            return None
        body = self._value(self._props(logical_id), "Body") or {}
        stages = [
            self._value(resource.get("Properties") or {}, "StageName")
            for resource in self._resources.values()
            if resource.get("Type") == STAGE
            and (resource.get("Properties") or {}).get("RestApiId") == {"Ref": logical_id}
        ]
        return Api(
            logical_id=logical_id,
            name=self._resolver.physical_name(logical_id),
            stage_name=str(stages[0]) if stages else "Prod",
            routes=tuple(self._routes),
            default_authorizer=_authorizer(logical_id, body),
            gateway_responses=body.get(_GATEWAY_RESPONSES) or {},
        )

    # ------------------------------------------------------------------ storage

    def table(self, logical_id: str, props: Mapping[str, Any]) -> Table:
        """A DynamoDB table model."""
        resolved = self._resolver.resolve(props)
        ttl = resolved.get("TimeToLiveSpecification") or {}
        pitr = resolved.get("PointInTimeRecoverySpecification") or {}
        stream = resolved.get("StreamSpecification") or {}
        return Table(
            logical_id=logical_id,
            name=self._resolver.physical_name(logical_id),
            arn=self._resolver.arn(logical_id),
            key_schema=_keys(resolved["KeySchema"]),
            attribute_definitions={
                a["AttributeName"]: a["AttributeType"]
                for a in resolved.get("AttributeDefinitions", [])
            },
            billing_mode=resolved.get("BillingMode", "PROVISIONED"),
            ttl_attribute=ttl.get("AttributeName") if _on(ttl.get("Enabled")) else None,
            point_in_time_recovery=_on(pitr.get("PointInTimeRecoveryEnabled")),
            global_secondary_indexes=tuple(
                _index(i) for i in resolved.get("GlobalSecondaryIndexes", [])
            ),
            local_secondary_indexes=tuple(
                _index(i) for i in resolved.get("LocalSecondaryIndexes", [])
            ),
            provisioned_throughput=_throughput(resolved.get("ProvisionedThroughput")),
            stream_view_type=stream.get("StreamViewType"),
            sse_specification=_sse(logical_id, resolved.get("SSESpecification")),
        )

    def log_group(self, logical_id: str, props: Mapping[str, Any]) -> LogGroup:
        """A CloudWatch Logs log group model."""
        retention = self._value(props, "RetentionInDays")
        return LogGroup(
            logical_id=logical_id,
            name=self._resolver.physical_name(logical_id),
            arn=self._resolver.arn(logical_id),
            retention_in_days=None if retention is None else int(retention),
        )

    def declared(self, resource_types: tuple[str, ...]) -> dict[str, DeclaredResource]:
        """Every resource of `resource_types`, in that order, its properties resolved."""
        found: dict[str, DeclaredResource] = {}
        for resource_type in resource_types:
            found |= self.of_type(resource_type, partial(self._declared, kind=resource_type))
        return found

    def _declared(
        self, logical_id: str, props: Mapping[str, Any], *, kind: str
    ) -> DeclaredResource:
        return DeclaredResource(
            logical_id=logical_id,
            resource_type=kind,
            name=self._resolver.physical_name(logical_id),
            properties={key: self._resolver.resolve(value) for key, value in props.items()},
        )

    def secret(self, logical_id: str, props: Mapping[str, Any]) -> Secret:
        """A Secrets Manager secret model."""
        secret_string = self._value(props, "SecretString")
        description = self._value(props, "Description")
        return Secret(
            logical_id=logical_id,
            name=self._resolver.physical_name(logical_id),
            arn=self._resolver.arn(logical_id),
            secret_string=None if secret_string is None else str(secret_string),
            description=None if description is None else str(description),
        )

    # ------------------------------------------------------------------ workflows

    def state_machine(self, logical_id: str, props: Mapping[str, Any]) -> StateMachine:
        """A state machine, its definition substituted as CloudFormation substitutes it."""
        if "DefinitionS3Location" in props:
            location = self._value(props, "DefinitionS3Location")
            path = self._code(logical_id, "DefinitionS3Location", location, s3_key="Key")
            definition = path.read_text(encoding="utf-8")
        elif "Definition" in props:
            definition = json.dumps(self._value(props, "Definition"), indent=2)
        elif "DefinitionString" in props:
            definition = str(self._value(props, "DefinitionString"))
        else:
            raise TemplateError(f"{logical_id}: no Definition, DefinitionUri or DefinitionString")
        substitutions = {
            key: stringify(value, f"{logical_id} DefinitionSubstitutions.{key}")
            for key, value in (self._value(props, "DefinitionSubstitutions") or {}).items()
        }
        # CloudFormation's substitution is textual: each ${key} it knows, nothing else.
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", value)
        logging = self._value(props, "LoggingConfiguration")
        tracing = self._value(props, "TracingConfiguration")
        return StateMachine(
            logical_id=logical_id,
            name=self._resolver.physical_name(logical_id),
            arn=self._resolver.arn(logical_id),
            definition=definition,
            type=str(self._value(props, "StateMachineType", "STANDARD")),
            substitutions=substitutions,
            logging=None if logging is None else _logging(logical_id, logging),
            tracing=None if tracing is None else _tracing(logical_id, tracing),
        )


_ANY_METHOD: Final = "x-amazon-apigateway-any-method"
_HTTP_METHODS: Final = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"})
_INTEGRATION: Final = "x-amazon-apigateway-integration"
_GATEWAY_RESPONSES: Final = "x-amazon-apigateway-gateway-responses"
# `arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations`
_INVOCATION_URI: Final = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(.+)/invocations$"
)


def _proxy_target(logical_id: str, path: str, operation: Mapping[str, Any]) -> str:
    """The function ARN an operation's Lambda proxy integration invokes."""
    integration = operation.get(_INTEGRATION) or {}
    if integration.get("type") != "aws_proxy":
        raise UnsupportedProperty(logical_id, f"{path} {_INTEGRATION}", "type")
    match = _INVOCATION_URI.match(str(integration.get("uri")))
    if match is None:
        raise UnsupportedProperty(logical_id, f"{path} {_INTEGRATION}", "uri")
    return match.group(1)


def _authorizer(logical_id: str, body: Mapping[str, Any]) -> str | None:
    """The one way every route is authorized (`AWS_IAM` for SigV4), None for none."""
    schemes = body.get("securityDefinitions") or {}
    used = {
        name
        for operations in (body.get("paths") or {}).values()
        for operation in operations.values()
        if isinstance(operation, Mapping) and _INTEGRATION in operation
        for requirement in (operation.get("security") or [{}])
        for name in (requirement or {None: []})
    }
    if len(used) > 1:
        raise TemplateError(f"{logical_id}: the local gateway serves one authorizer, not {used}")
    name = next(iter(used), None)
    if name is None:
        return None
    if (schemes.get(name) or {}).get("x-amazon-apigateway-authtype") != "awsSigv4":
        raise UnsupportedProperty(logical_id, "securityDefinitions", str(name))
    return "AWS_IAM"


def _on(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _keys(schema: Any) -> tuple[KeyElement, ...]:
    return tuple(KeyElement(k["AttributeName"], k["KeyType"]) for k in schema)


def _throughput(value: Any) -> dict[str, int] | None:
    if not value:
        return None
    return {k: int(v) for k, v in value.items()}


def _index(index: Mapping[str, Any]) -> SecondaryIndex:
    return SecondaryIndex(
        name=index["IndexName"],
        key_schema=_keys(index["KeySchema"]),
        projection=index.get("Projection", {"ProjectionType": "ALL"}),
        provisioned_throughput=_throughput(index.get("ProvisionedThroughput")),
    )


def _settings(
    logical_id: str, setting: str, value: Any, allowed: frozenset[str]
) -> Mapping[str, Any]:
    """`value` as a mapping with only `allowed` keys (anything else is refused by name)."""
    if not isinstance(value, Mapping):
        raise TemplateError(f"{logical_id}.{setting}: expected a mapping, got {value!r}")
    for key in value:
        if key not in allowed:
            raise UnsupportedProperty(logical_id, setting, key)
    return value


def _sse(logical_id: str, value: Any) -> dict[str, Any] | None:
    """CloudFormation's `SSESpecification` in CreateTable's shape (`SSEEnabled` → `Enabled`)."""
    if value is None:
        return None
    spec = _settings(
        logical_id,
        "SSESpecification",
        value,
        frozenset({"SSEEnabled", "SSEType", "KMSMasterKeyId"}),
    )
    api: dict[str, Any] = {"Enabled": _on(spec.get("SSEEnabled"))}
    if "SSEType" in spec:
        api["SSEType"] = str(spec["SSEType"])
    if "KMSMasterKeyId" in spec:
        api["KMSMasterKeyId"] = str(spec["KMSMasterKeyId"])
    return api


def _logging(logical_id: str, value: Any) -> dict[str, Any]:
    """A state machine's `Logging` in CreateStateMachine's `loggingConfiguration` shape."""
    spec = _settings(
        logical_id, "Logging", value, frozenset({"Level", "IncludeExecutionData", "Destinations"})
    )
    api: dict[str, Any] = {}
    if "Level" in spec:
        api["level"] = str(spec["Level"])
    if "IncludeExecutionData" in spec:
        api["includeExecutionData"] = _on(spec["IncludeExecutionData"])
    if "Destinations" in spec:
        if not isinstance(spec["Destinations"], list):
            raise TemplateError(f"{logical_id}.Logging.Destinations: expected a list")
        destinations = []
        for destination in spec["Destinations"]:
            where = "Logging.Destinations"
            group = _settings(logical_id, where, destination, frozenset({"CloudWatchLogsLogGroup"}))
            where += ".CloudWatchLogsLogGroup"
            arn = _settings(
                logical_id, where, group.get("CloudWatchLogsLogGroup"), frozenset({"LogGroupArn"})
            ).get("LogGroupArn")
            if not isinstance(arn, str):
                raise TemplateError(f"{logical_id}.{where}: LogGroupArn must be an ARN")
            destinations.append({"cloudWatchLogsLogGroup": {"logGroupArn": arn}})
        api["destinations"] = destinations
    return api


def _tracing(logical_id: str, value: Any) -> dict[str, bool]:
    """A state machine's `Tracing` in CreateStateMachine's `tracingConfiguration` shape."""
    spec = _settings(logical_id, "Tracing", value, frozenset({"Enabled"}))
    return {"enabled": _on(spec.get("Enabled"))}
