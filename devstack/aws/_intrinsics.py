"""CloudFormation intrinsic functions, evaluated against a deterministic local naming scheme.

Physical names follow CloudFormation where the template names a resource (TableName,
FunctionName, Name...) and are `<stack>-<LogicalId>` where it does not, so every run of the
local stack sees the same names and ARNs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from devstack.aws.errors import TemplateError, UnresolvableReference, UnsupportedIntrinsic


class _NoValue:
    """`AWS::NoValue`: the property or list item holding it disappears."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()

# The property that names a resource, per type; absent → `<stack>-<LogicalId>`.
NAME_PROPERTY: Final[Mapping[str, str]] = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": "PolicyName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Events::Rule": "Name",
    "AWS::Pipes::Pipe": "Name",
}

# Types whose Ref is an ARN rather than a name (as CloudFormation documents them).
_REF_IS_ARN: Final = frozenset(
    {
        "AWS::StepFunctions::StateMachine",
        "AWS::SecretsManager::Secret",
        "AWS::Lambda::LayerVersion",
        "AWS::IAM::ManagedPolicy",
        "AWS::SNS::Topic",
    }
)

_SUB_VARIABLE: Final = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Pseudo:
    """The pseudo parameters of the local stack."""

    stack_name: str
    region: str
    account_id: str
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def value(self, name: str) -> Any:
        """The value of `AWS::<name>`, or KeyError."""
        values: dict[str, Any] = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/{_stable_uuid(self.stack_name)}"
            ),
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        return values[name]


def _stable_uuid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def stringify(value: Any, where: str) -> str:
    """A scalar as CloudFormation writes it into a string (env vars, Sub, substitutions)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"{where}: expected a string, got {type(value).__name__} {value!r}")


class Resolver:
    """Evaluates intrinsics over one template's parameters, conditions and resources."""

    def __init__(
        self,
        *,
        resources: Mapping[str, Mapping[str, Any]],
        parameters: Mapping[str, Any],
        conditions: Mapping[str, Any],
        mappings: Mapping[str, Any],
        pseudo: Pseudo,
        physical_ids: Mapping[str, str],
    ) -> None:
        self._resources = resources
        self._parameters = parameters
        self._conditions = conditions
        self._mappings = mappings
        self._pseudo = pseudo
        self._physical_ids = physical_ids
        self._condition_cache: dict[str, bool] = {}
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()

    # ------------------------------------------------------------------ names and ARNs

    def physical_name(self, logical_id: str) -> str:
        """The name the resource gets locally (its naming property, else `<stack>-<id>`)."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._naming:
            raise UnresolvableReference(f"the name of {logical_id!r} refers to itself")
        resource = self._resource(logical_id)
        prop = NAME_PROPERTY.get(str(resource.get("Type")))
        raw = (resource.get("Properties") or {}).get(prop) if prop else None
        self._naming.add(logical_id)
        try:
            name = (
                stringify(self.resolve(raw), f"{logical_id}.{prop}")
                if raw is not None
                else f"{self._pseudo.stack_name}-{logical_id}"
            )
        finally:
            self._naming.discard(logical_id)
        self._names[logical_id] = name
        return name

    def arn(self, logical_id: str) -> str:
        """The ARN of a resource in the local account and region."""
        if logical_id in self._physical_ids and self._type(logical_id) in _REF_IS_ARN:
            return self._physical_ids[logical_id]
        p, r, a = self._pseudo.partition, self._pseudo.region, self._pseudo.account_id
        name = self.physical_name(logical_id)
        arns = {
            "AWS::Lambda::Function": f"arn:{p}:lambda:{r}:{a}:function:{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
            "AWS::StepFunctions::StateMachine": f"arn:{p}:states:{r}:{a}:stateMachine:{name}",
            # A partial ARN (no random suffix): the emulator passes the real one in physical_ids.
            "AWS::SecretsManager::Secret": f"arn:{p}:secretsmanager:{r}:{a}:secret:{name}",
            "AWS::Lambda::LayerVersion": f"arn:{p}:lambda:{r}:{a}:layer:{name}:1",
            "AWS::Logs::LogGroup": f"arn:{p}:logs:{r}:{a}:log-group:{name}:*",
            "AWS::IAM::Role": f"arn:{p}:iam::{a}:role/{name}",
            "AWS::IAM::ManagedPolicy": f"arn:{p}:iam::{a}:policy/{name}",
            "AWS::SNS::Topic": f"arn:{p}:sns:{r}:{a}:{name}",
            "AWS::CloudWatch::Alarm": f"arn:{p}:cloudwatch:{r}:{a}:alarm:{name}",
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::Events::EventBus": f"arn:{p}:events:{r}:{a}:event-bus/{name}",
            "AWS::Events::Archive": f"arn:{p}:events:{r}:{a}:archive/{name}",
            "AWS::Events::Rule": f"arn:{p}:events:{r}:{a}:rule/{name}",
            "AWS::Pipes::Pipe": f"arn:{p}:pipes:{r}:{a}:pipe/{name}",
            "AWS::ApiGateway::RestApi": (
                f"arn:{p}:apigateway:{r}::/restapis/{self.rest_api_id(logical_id)}"
            ),
        }
        resource_type = self._type(logical_id)
        if resource_type not in arns:
            raise UnresolvableReference(f"{logical_id!r} ({resource_type}) has no ARN locally")
        return arns[resource_type]

    def queue_url(self, logical_id: str) -> str:
        """A queue's URL as SQS forms it (the local stack finds queues by name)."""
        pseudo = self._pseudo
        return (
            f"https://sqs.{pseudo.region}.{pseudo.url_suffix}/{pseudo.account_id}/"
            f"{self.physical_name(logical_id)}"
        )

    def rest_api_id(self, logical_id: str) -> str:
        """A stable 10-character id standing in for API Gateway's generated one."""
        if logical_id in self._physical_ids:
            return self._physical_ids[logical_id]
        digest = hashlib.sha256(f"{self._pseudo.stack_name}/{logical_id}".encode()).hexdigest()
        return digest[:10]

    def ref(self, name: str) -> Any:
        """`Ref`: a parameter's value, a pseudo parameter, or a resource's physical id."""
        if name in self._parameters:
            return self._parameters[name]
        if name.startswith("AWS::"):
            try:
                return self._pseudo.value(name)
            except KeyError:
                raise UnresolvableReference(f"unknown pseudo parameter {name!r}") from None
        resource_type = self._type(name)
        if resource_type == "AWS::ApiGateway::RestApi":
            return self.rest_api_id(name)
        if resource_type == "AWS::Lambda::Alias":  # (SAM's transform: `<Function>Alias<name>`)
            props = self._resource(name).get("Properties") or {}
            function = str(self.resolve(props["FunctionName"]))
            if not function.startswith("arn:"):  # a name: the function's own ARN
                pseudo = self._pseudo
                function = (
                    f"arn:{pseudo.partition}:lambda:{pseudo.region}:{pseudo.account_id}:"
                    f"function:{function}"
                )
            return f"{function}:{props['Name']}"
        if resource_type == "AWS::SQS::Queue":
            return self.queue_url(name)
        if resource_type in _REF_IS_ARN:
            return self.arn(name)
        if name in self._physical_ids:
            return self._physical_ids[name]
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """`Fn::GetAtt` for the attributes the local resources have."""
        resource_type = self._type(logical_id)
        if attribute == "Arn" or (
            attribute == "Id" and resource_type == "AWS::SecretsManager::Secret"
        ):
            return self.arn(logical_id)
        if attribute in ("Name", "QueueName"):
            return self.physical_name(logical_id)
        if attribute == "QueueUrl" and resource_type == "AWS::SQS::Queue":
            return self.queue_url(logical_id)
        if attribute == "StreamArn" and resource_type == "AWS::DynamoDB::Table":
            return f"{self.arn(logical_id)}/stream/local"
        if attribute == "RootResourceId" and resource_type == "AWS::ApiGateway::RestApi":
            return "root"
        raise UnresolvableReference(
            f"Fn::GetAtt {logical_id}.{attribute}: {resource_type} has no attribute "
            f"{attribute!r} locally"
        )

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        resource = self._resources.get(logical_id)
        if resource is None:
            raise UnresolvableReference(
                f"{logical_id!r} is neither a parameter nor a resource of the template"
            )
        return resource

    def _type(self, logical_id: str) -> str:
        return str(self._resource(logical_id).get("Type"))

    # ------------------------------------------------------------------ conditions

    def condition(self, name: str) -> bool:
        """The value of a named condition of the template's `Conditions`."""
        if name not in self._condition_cache:
            if name not in self._conditions:
                raise UnresolvableReference(f"unknown condition {name!r}")
            self._condition_cache[name] = self._truth(self._conditions[name], name)
        return self._condition_cache[name]

    def _truth(self, node: Any, where: str) -> bool:
        if isinstance(node, bool):
            return node
        if isinstance(node, str) and node.lower() in ("true", "false"):
            return node.lower() == "true"
        if isinstance(node, Mapping) and len(node) == 1:
            ((key, args),) = node.items()
            if key == "Condition":
                return self.condition(str(args))
            if key == "Fn::Equals":
                left, right = (stringify(self.resolve(arg), where) for arg in args)
                return left == right
            if key == "Fn::Not":
                return not self._truth(args[0], where)
            if key == "Fn::And":
                return all(self._truth(arg, where) for arg in args)
            if key == "Fn::Or":
                return any(self._truth(arg, where) for arg in args)
        raise TemplateError(f"condition {where!r}: cannot evaluate {node!r}")

    # ------------------------------------------------------------------ evaluation

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic evaluated (`AWS::NoValue` items removed)."""
        if isinstance(node, Mapping):
            if len(node) == 1:
                ((key, args),) = node.items()
                if key == "Ref" or key.startswith("Fn::"):
                    return self._intrinsic(key, args)
            out = {k: self.resolve(v) for k, v in node.items()}
            return {k: v for k, v in out.items() if v is not NO_VALUE}
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        return node

    def _intrinsic(self, key: str, args: Any) -> Any:
        if key == "Ref":
            return self.ref(str(self.resolve(args)))
        if key == "Fn::GetAtt":
            target = self.resolve(args)
            logical_id, attribute = (
                target.split(".", 1) if isinstance(target, str) else (target[0], target[1])
            )
            return self.get_att(logical_id, attribute)
        if key == "Fn::Sub":
            return self._sub(args)
        if key == "Fn::Join":
            delimiter, items = args[0], self.resolve(args[1])
            return str(delimiter).join(stringify(item, "Fn::Join") for item in items)
        if key == "Fn::If":
            name, when_true, when_false = args
            return self.resolve(when_true if self.condition(str(name)) else when_false)
        if key == "Fn::Select":
            index, items = self.resolve(args[0]), self.resolve(args[1])
            return items[int(index)]
        if key == "Fn::Split":
            return stringify(self.resolve(args[1]), "Fn::Split").split(str(args[0]))
        if key == "Fn::FindInMap":
            name, top, second = (self.resolve(arg) for arg in args)
            try:
                return self._mappings[name][top][second]
            except KeyError:
                raise UnresolvableReference(f"Fn::FindInMap {name}/{top}/{second}") from None
        if key == "Fn::Base64":
            text = stringify(self.resolve(args), "Fn::Base64")
            return base64.b64encode(text.encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{self._pseudo.region}{zone}" for zone in "abc"]
        if key in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or"):
            return self._truth({key: args}, key)
        raise UnsupportedIntrinsic(f"{key} is not supported by the local stack")

    def _sub(self, args: Any) -> str:
        if isinstance(args, list):
            text, variables = str(args[0]), {k: self.resolve(v) for k, v in args[1].items()}
        else:
            text, variables = str(args), {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is how Sub writes a literal "${Literal}"
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(name)
            return stringify(value, f"Fn::Sub variable {name!r}")

        return _SUB_VARIABLE.sub(replace, text)
