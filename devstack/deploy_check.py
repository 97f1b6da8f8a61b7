"""`make deploy-check`: the template as AWS deploys it, reviewed by the tools a security
reviewer runs, with every finding fixed or explained in the template itself.

1. SAM's own transform of template.yaml (devstack.sam), checked by cfn-lint;
2. checkov on that transform, each skip one of the template's `Metadata.checkov.skip`
   entries (checkov reads a resource's own Metadata; these apply to every resource);
3. parliament on every IAM policy in it (each role's inline policies, each resource policy),
   resolved with real ARNs, for the default parameters and for every optional feature on
   (consumers, secret readers, a KMS key); each ignored finding one of
   `Metadata.parliament.ignore`, matched by issue and action;
4. every AWS call the tests recorded against its role, and each granted action no test used
   (devstack.iam_check);
5. per role: the actions it grants.

checkov and parliament live in their own venv (`.tools-venv`, pinned in
devstack/deploy-tools.txt): they pin libraries the project's own venv pins otherwise.
Exit 1 on any finding the template does not explain.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from devstack import iam_check, sam
from devstack.aws.template import read_raw

TOOLS_BIN: Final = sam.REPO / ".tools-venv" / "bin"
PARLIAMENT_RUNNER: Final = Path(__file__).resolve().parent / "parliament_runner.py"
# Every optional feature on, so its policies are reviewed too.
ALL_FEATURES: Final[Mapping[str, str]] = {
    "EventConsumerArns": (
        "arn:aws:events:us-east-1:210987654321:event-bus/payments,"
        "arn:aws:sqs:us-east-1:210987654321:refunds"
    ),
    "SecretReaderArns": "arn:aws:iam::123456789012:role/refund-ops",
    "SecretsKmsKeyArn": (
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ),
    "AlarmEmail": "oncall@example.com",
}


def checkov_findings(
    transformed: Mapping[str, Any], skips: Sequence[Mapping[str, str]], checkov: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(failed, skipped) checks of checkov on `transformed`, the template's skips applied to
    every resource (SAM does not copy an Api's Metadata to its Stage, so it is done here)."""
    marked = json.loads(json.dumps(transformed))
    for resource in marked["Resources"].values():
        metadata = resource.setdefault("Metadata", {})
        own = metadata.setdefault("checkov", {}).setdefault("skip", [])
        own.extend(dict(skip) for skip in skips)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "transformed.json"
        path.write_text(json.dumps(marked), encoding="utf-8")
        answer = subprocess.run(  # noqa: S603 - the pinned checkov on our own file
            [str(checkov), "-f", str(path), "--framework", "cloudformation", "-o", "json",
             "--compact", "--skip-download"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    if not answer.stdout.strip().startswith(("{", "[")):
        raise RuntimeError(f"checkov did not answer JSON: {answer.stderr.strip()[-500:]}")
    report = json.loads(answer.stdout)
    report = report[0] if isinstance(report, list) else report
    results = report.get("results", {})
    return list(results.get("failed_checks", [])), list(results.get("skipped_checks", []))


def parliament_findings(policies: Mapping[str, Any], python: Path) -> list[dict[str, Any]]:
    answer = subprocess.run(  # noqa: S603 - the pinned parliament on our own policies
        [str(python), str(PARLIAMENT_RUNNER)],
        input=json.dumps(policies), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if answer.returncode != 0:
        raise RuntimeError(f"parliament failed: {answer.stderr.strip()[-500:]}")
    findings: list[dict[str, Any]] = json.loads(answer.stdout)
    return findings


def explained(finding: Mapping[str, Any], ignores: Iterable[Mapping[str, str]]) -> str | None:
    """The template's reason for ignoring a parliament finding, or None."""
    actions = {str(d.get("action")) for d in finding.get("detail") or [] if isinstance(d, dict)}
    for ignore in ignores:
        named = ignore.get("actions") or ([ignore["action"]] if "action" in ignore else None)
        if ignore.get("issue") == finding["issue"] and (named is None or actions == set(named)):
            return str(ignore.get("comment", "")).strip()
    return None


def granted_actions(transformed: Mapping[str, Any]) -> dict[str, list[str]]:
    """Per role of the default deployment: the actions its inline policies allow."""
    using = sam.resolver(transformed)
    found: dict[str, list[str]] = {}
    for role, resource in sam.active_resources(transformed, using).items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        actions: set[str] = set()
        for statement in sam.role_statements(transformed, role, using):
            if statement.get("Effect") == "Allow":
                listed = statement.get("Action", [])
                actions.update([listed] if isinstance(listed, str) else listed)
        managed = resource["Properties"].get("ManagedPolicyArns") or []
        found[role] = sorted(actions) + [f"(managed) {arn}" for arn in using.resolve(managed)]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.deploy_check", description=__doc__)
    parser.add_argument("--template", type=Path, default=sam.TEMPLATE)
    parser.add_argument("--tools", type=Path, default=TOOLS_BIN, help="checkov/parliament venv bin")
    parser.add_argument(
        "--calls", type=Path, default=iam_check.DEFAULT_CALLS / "tests",
        help="the AWS calls a test run recorded (REFUND_IAM_CALL_LOG), checked against the roles",
    )  # fmt: skip
    args = parser.parse_args(argv)
    metadata = read_raw(args.template).get("Metadata") or {}
    skips = (metadata.get("checkov") or {}).get("skip") or []
    ignores = (metadata.get("parliament") or {}).get("ignore") or []
    out = sys.stdout
    problems = 0

    transformed = sam.transformed_template(args.template)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "transformed.json"
        path.write_text(json.dumps(transformed), encoding="utf-8")
        lint = subprocess.run(  # noqa: S603 - the venv's cfn-lint on our own file
            [str(Path(sys.executable).parent / "cfn-lint"), str(path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    # W2001 (a parameter the transform consumed, e.g. DeploymentType) is SAM's, not ours.
    lint_lines = [line for line in lint.stdout.splitlines() if line and "W2001" not in line]
    lint_findings = [line for line in lint_lines if not line.startswith(str(path))]
    out.write(f"cfn-lint (SAM-transformed): {len(lint_findings)} findings\n")
    for line in lint_findings:
        out.write(f"  {line}\n")
    problems += len(lint_findings)

    failed, skipped = checkov_findings(transformed, skips, args.tools / "checkov")
    out.write(f"checkov: {len(failed)} failed, {len(skipped)} skipped by the template's reasons\n")
    for check in failed:
        out.write(f"  FAILED {check['check_id']} {check['resource']}: {check['check_name']}\n")
    for check_id in sorted({c["check_id"] for c in skipped}):
        reason = next(str(s.get("comment", "")) for s in skips if s.get("id") == check_id)
        count = sum(1 for c in skipped if c["check_id"] == check_id)
        out.write(f"  skipped {check_id} ({count}): {' '.join(reason.split())[:110]}\n")
    problems += len(failed)
    # A skip that no longer matches anything is a reason nobody needs: it goes.
    for stale in sorted({str(s.get("id")) for s in skips} - {c["check_id"] for c in skipped}):
        out.write(f"  STALE skip {stale}: nothing it applies to fails any more; remove it\n")
        problems += 1

    for label, overrides in (("default parameters", {}), ("every feature on", ALL_FEATURES)):
        # (The transform does not depend on the parameters: they are resolved here.)
        policies = sam.resolved_policies(transformed, sam.resolver(transformed, overrides))
        findings = parliament_findings(policies, args.tools / "python")
        unexplained = [f for f in findings if explained(f, ignores) is None]
        out.write(
            f"parliament ({label}): {len(policies)} policies, {len(findings)} findings, "
            f"{len(unexplained)} unexplained\n"
        )
        for finding in findings:
            if (why := explained(finding, ignores)) is not None:
                out.write(f"  ignored {finding['policy']} {finding['issue']}: {why[:90]}\n")
        for finding in unexplained:
            out.write(
                f"  {finding['policy']}: {finding['issue']} {json.dumps(finding['detail'])}\n"
            )
        problems += len(unexplained)

    problems += iam_check.report(args.calls, args.template, out, transformed=transformed)

    out.write("actions each role grants (default parameters):\n")
    for role, actions in granted_actions(transformed).items():
        out.write(f"  {role}: {', '.join(actions) or '(none inline)'}\n")
    out.write("deploy-check: " + ("ok\n" if problems == 0 else f"{problems} problems\n"))
    return 0 if problems == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
