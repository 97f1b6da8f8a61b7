"""template.yaml as AWS deploys it: SAM's own transform (samtranslator, what `sam deploy` and
CloudFormation's SAM macro run), with its intrinsics resolved for one local stack.

`transformed_template()` is the CloudFormation template SAM makes (generated roles, policy
templates expanded, aliases, CodeDeploy groups, API stage); `resolved_policies()` reads every
IAM policy in it (each role's inline policies, each resource policy) with real local ARNs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from devstack.aws import transform
from devstack.aws._intrinsics import Pseudo, Resolver
from devstack.aws.template import ACCOUNT_ID, DEFAULT_STACK_NAME, REGION

REPO: Final = Path(__file__).resolve().parent.parent
TEMPLATE: Final = REPO / "template.yaml"


def transformed_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """template.yaml as SAM's transform makes it (devstack.aws.transform)."""
    return transform.transformed_template(path)


# The properties a resource policy lives in, per type (roles hold theirs in `Policies`).
_RESOURCE_POLICIES: Final[Mapping[str, str]] = {
    "AWS::SecretsManager::ResourcePolicy": "ResourcePolicy",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
}


def resolver(
    transformed: Mapping[str, Any],
    parameter_overrides: Mapping[str, Any] | None = None,
    *,
    physical_ids: Mapping[str, str] | None = None,
) -> Resolver:
    """Intrinsics of `transformed` as the local stack `refund-status` sees them
    (`physical_ids`: ARNs known from elsewhere, such as a secret's random suffix)."""
    declared = transformed.get("Parameters") or {}
    parameters = {k: v.get("Default") for k, v in declared.items()} | dict(
        parameter_overrides or {}
    )
    for name, spec in declared.items():
        # A CommaDelimitedList is a list to the intrinsics, given as "a,b" like CloudFormation.
        if spec.get("Type") == "CommaDelimitedList" and isinstance(parameters.get(name), str):
            parameters[name] = str(parameters[name]).split(",")
    return Resolver(
        resources=transformed["Resources"],
        parameters=parameters,
        conditions=transformed.get("Conditions") or {},
        mappings=transformed.get("Mappings") or {},
        pseudo=Pseudo(stack_name=DEFAULT_STACK_NAME, region=REGION, account_id=ACCOUNT_ID),
        physical_ids=dict(physical_ids or {}),
    )


def active_resources(transformed: Mapping[str, Any], using: Resolver) -> dict[str, Any]:
    """The resources whose Condition holds (all of those without one)."""
    return {
        logical_id: resource
        for logical_id, resource in transformed["Resources"].items()
        if "Condition" not in resource or using.condition(str(resource["Condition"]))
    }


def role_statements(
    transformed: Mapping[str, Any], role: str, using: Resolver
) -> list[dict[str, Any]]:
    """The inline policy statements of `role`, resolved (an Fn::If's AWS::NoValue dropped)."""
    properties = transformed["Resources"][role]["Properties"]
    statements: list[dict[str, Any]] = []
    for policy in using.resolve(properties.get("Policies") or []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def resolved_policies(transformed: Mapping[str, Any], using: Resolver) -> dict[str, dict[str, Any]]:
    """Every policy document of the active resources, resolved: `<Role>/<PolicyName>` for a
    role's inline policies, the resource's logical id for a resource policy."""
    found: dict[str, dict[str, Any]] = {}
    for logical_id, resource in active_resources(transformed, using).items():
        properties = resource.get("Properties") or {}
        if resource["Type"] == "AWS::IAM::Role":
            for policy in using.resolve(properties.get("Policies") or []):
                found[f"{logical_id}/{policy['PolicyName']}"] = policy["PolicyDocument"]
        elif resource["Type"] in _RESOURCE_POLICIES:
            found[logical_id] = using.resolve(properties[_RESOURCE_POLICIES[resource["Type"]]])
    return found
