"""Every recorded AWS call (devstack.aws.iam_calls) against the role that makes it in AWS.

The roles, their inline policies and the secrets' resource policies come from SAM's own
transform of template.yaml (devstack.sam); the evaluation is @cloud-copilot/iam-simulate's
(node_modules, run by iam_simulate.mjs), request by request: action, resource ARN, principal
(the role), condition keys (`dynamodb:LeadingKeys`). A call its role does not allow fails.

And the reverse: each action a recorded role grants and no recorded call used must be named
in the template's `Metadata.iam.unused` with the reason it stays.

Two local stand-ins are mapped back to what AWS would see, and only these: moto labels a
table's stream with its creation time where the resolved template says `stream/local`, and a
template secret's ARN gets moto's random suffix (read from the calls themselves).

    python -m devstack.iam_check [--calls DIR]      (DIR: REFUND_IAM_CALL_LOG of the run)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

from devstack import sam
from devstack.aws._intrinsics import Resolver
from devstack.aws.iam_calls import STATE_MACHINE_KEY, Call, read_log
from devstack.aws.template import ACCOUNT_ID, read_raw

SIMULATOR: Final = Path(__file__).resolve().parent / "iam_simulate.mjs"
DEFAULT_CALLS: Final = sam.REPO / ".iam-calls"
_STREAM_LABEL = re.compile(r"(:table/[^/]+/stream/)[^/]+$")
# Roles whose calls AWS services make for us, never our code: nothing local can record them.
SERVICE_ROLES_NOTE: Final = "calls made by an AWS service itself; not recorded locally"


@dataclass(frozen=True)
class Verdict:
    call: Call
    role: str
    result: str  # Allowed, ImplicitlyDenied, ExplicitlyDenied, Error


def _getatt_target(value: Any) -> str | None:
    if isinstance(value, Mapping) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def roles_of(call: Call, transformed: Mapping[str, Any], using: Resolver) -> list[str]:
    """The logical ids of the roles `call` may run as in AWS (none: not the template's).

    moto's interpreter signs every state machine's tasks alike, so a task's call is each
    machine's whose definition names what it calls (a function ARN, a table's name, a
    queue's URL): both machines invoke the provider functions, and each role is checked.
    """
    resources = transformed["Resources"]
    if call.caller == STATE_MACHINE_KEY:
        roles = []
        for resource in resources.values():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            props = resource["Properties"]
            named = using.resolve(props.get("DefinitionSubstitutions") or {}).values()
            role = _getatt_target(props.get("RoleArn"))
            if role is not None and any(_names(call.resource, str(value)) for value in named):
                roles.append(role)
        return roles
    resource = resources.get(call.caller)
    if resource is None:
        return []
    props = resource.get("Properties") or {}
    # (A schedule calls its target with the role its Target names.)
    target: Mapping[str, Any] = props["Target"] if isinstance(props.get("Target"), Mapping) else {}
    role = _getatt_target(props.get("Role") or props.get("RoleArn") or target.get("RoleArn"))
    return [] if role is None else [role]


def _names(resource_arn: str, value: str) -> bool:
    """Whether a definition's substituted `value` names the resource `resource_arn`: the ARN
    itself, or its last part (a table's name, the name at the end of a queue's URL)."""
    if not value:
        return False
    last = value.rstrip("/").rsplit("/", 1)[-1]
    return resource_arn == value or resource_arn.endswith(("/" + last, ":" + last))


def _secret_physical_ids(call: Call, raw: Mapping[str, Any], using: Resolver) -> dict[str, str]:
    """The template secret `call` names, with its real ARN (moto's random suffix: each local
    stack of a test run makes its own), so `!Ref` resolves to what the call used."""
    for logical_id, resource in raw["Resources"].items():
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        name = using.physical_name(logical_id)
        if re.fullmatch(rf".*:secret:{re.escape(name)}-[A-Za-z0-9]{{6}}", call.resource):
            return {logical_id: call.resource}
    return {}


def _request_resource(call: Call) -> str:
    return _STREAM_LABEL.sub(r"\1local", call.resource)


def simulations(
    calls: Sequence[Call], transformed: Mapping[str, Any]
) -> list[tuple[Call, str, dict[str, Any]]]:
    """(call, role, iam-simulate Simulation) for each call of a template resource."""
    plain = sam.resolver(transformed)
    resolvers: dict[str, Resolver] = {}
    found = []
    for call in calls:
        physical_ids = _secret_physical_ids(call, transformed, plain)
        cache_key = json.dumps(physical_ids, sort_keys=True)
        if cache_key not in resolvers:
            resolvers[cache_key] = sam.resolver(transformed, physical_ids=physical_ids)
        using = resolvers[cache_key]
        for role in roles_of(call, transformed, using):
            properties = transformed["Resources"][role]["Properties"]
            policies = using.resolve(properties.get("Policies") or [])
            principal = using.arn(role)
            simulation: dict[str, Any] = {
                "identityPolicies": [
                    {"name": p["PolicyName"], "policy": p["PolicyDocument"]} for p in policies
                ],
                "serviceControlPolicies": [],
                "resourceControlPolicies": [],
                "request": {
                    "action": call.action,
                    "principal": principal,
                    "resource": {"accountId": ACCOUNT_ID, "resource": _request_resource(call)},
                    # What IAM sets on every request of a role session, and the call's keys.
                    "contextVariables": {
                        "aws:PrincipalArn": principal,
                        "aws:PrincipalAccount": ACCOUNT_ID,
                        **{k: list(v) for k, v in call.context.items()},
                    },
                },
            }
            policy = _secret_policy(call, transformed, using)
            if policy is not None:
                simulation["resourcePolicy"] = policy
            found.append((call, role, simulation))
    return found


def _secret_policy(
    call: Call, transformed: Mapping[str, Any], using: Resolver
) -> dict[str, Any] | None:
    """The resource policy of the template secret `call` is on, if it has one."""
    for resource in sam.active_resources(transformed, using).values():
        if resource["Type"] != "AWS::SecretsManager::ResourcePolicy":
            continue
        properties = resource["Properties"]
        if using.resolve(properties["SecretId"]) == call.resource:
            policy: dict[str, Any] = using.resolve(properties["ResourcePolicy"])
            return policy
    return None


def evaluate(calls: Sequence[Call], transformed: Mapping[str, Any]) -> list[Verdict]:
    planned = simulations(calls, transformed)
    answer = subprocess.run(  # noqa: S603 - node on our own script and data
        ["node", str(SIMULATOR)],  # noqa: S607 - node from PATH, as `make node` installs for
        input=json.dumps([simulation for _, _, simulation in planned]),
        capture_output=True, text=True, check=False, cwd=sam.REPO,
    )  # fmt: skip
    if answer.returncode != 0:
        raise RuntimeError(f"iam-simulate failed: {answer.stderr.strip()[-800:]}")
    results = json.loads(answer.stdout)
    return [
        Verdict(call, role, str(result["overallResult"]))
        for (call, role, _), result in zip(planned, results, strict=True)
    ]


def unused_grants(
    verdicts: Sequence[Verdict], transformed: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Per role seen making calls: the actions it grants that no recorded call used."""
    using = sam.resolver(transformed)
    used: dict[str, set[str]] = defaultdict(set)
    for verdict in verdicts:
        used[verdict.role].add(verdict.call.action)
    unused = {}
    for role in sorted(used):
        granted: set[str] = set()
        for statement in sam.role_statements(transformed, role, using):
            if statement.get("Effect") == "Allow":
                actions = statement.get("Action", [])
                granted.update([actions] if isinstance(actions, str) else actions)
        unused[role] = sorted(granted - used[role])
    return unused


def report(
    calls_dir: Path,
    template: Path,
    out: TextIO,
    *,
    denied_only: bool = False,
    transformed: Mapping[str, Any] | None = None,
) -> int:
    """Print the verdicts and (unless `denied_only`) the unused grants; the number of
    problems. `transformed`: SAM's transform of `template`, when the caller has it."""
    calls = read_log(calls_dir) if calls_dir.is_dir() else []
    if not calls:
        out.write(f"iam calls: none recorded in {calls_dir} (run the tests or the demo first)\n")
        return 0
    if transformed is None:
        transformed = sam.transformed_template(template)
    verdicts = evaluate(calls, transformed)
    denied = [v for v in verdicts if v.result != "Allowed"]
    by_role: dict[str, set[str]] = defaultdict(set)
    for verdict in verdicts:
        by_role[verdict.role].add(verdict.call.action)
    out.write(
        f"iam calls: {len(calls)} distinct calls recorded, {len(verdicts)} by the template's "
        f"resources, {len(denied)} not allowed by their role\n"
    )
    for verdict in denied:
        call = verdict.call
        out.write(
            f"  DENIED ({verdict.result}) {verdict.role}: {call.action} on {call.resource}"
            f" {dict(call.context) or ''}\n"
        )
    explained = (read_raw(template).get("Metadata") or {}).get("iam", {}).get("unused") or []
    problems = len(denied)
    if denied_only:  # (a run that exercises part of the service: the demo)
        return problems
    for role, actions in unused_grants(verdicts, transformed).items():
        out.write(f"  {role} used: {', '.join(sorted(by_role[role]))}\n")
        for action in actions:
            reason = next(
                (e.get("comment", "") for e in explained
                 if e.get("role") == role and action in (e.get("actions") or [])),
                None,
            )  # fmt: skip
            if reason is None:
                out.write(f"    UNUSED {action}: granted, used by no test; trim it or say why\n")
                problems += 1
            else:
                out.write(f"    kept {action}: {' '.join(str(reason).split())[:100]}\n")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.iam_check", description=__doc__)
    parser.add_argument("--calls", type=Path, default=DEFAULT_CALLS)
    parser.add_argument("--template", type=Path, default=sam.TEMPLATE)
    parser.add_argument(
        "--denied-only", action="store_true", help="check the calls only, not the unused grants"
    )
    args = parser.parse_args(argv)
    problems = report(args.calls, args.template, sys.stdout, denied_only=args.denied_only)
    return 0 if problems == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
