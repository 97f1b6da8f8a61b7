"""Run by the deploy-check tools venv (`.tools-venv/bin/python`, which has parliament): policy
documents as JSON on stdin (`{"name": document}`), parliament's findings as JSON on stdout.

Standalone on purpose: that venv has parliament and checkov, not this project.
"""

import json
import sys
import warnings


def main() -> int:
    warnings.simplefilter("ignore")  # parliament imports pkg_resources, which warns
    from parliament import analyze_policy_string  # type: ignore[import-not-found]

    documents = json.load(sys.stdin)
    findings = []
    for name, document in documents.items():
        policy = analyze_policy_string(json.dumps(document), include_community_auditors=False)
        for finding in policy.findings:
            findings.append(
                {
                    "policy": name,
                    "issue": finding.issue,
                    "severity": finding.severity,
                    "title": finding.title,
                    "detail": json.loads(json.dumps(finding.detail, default=str)),
                }
            )
    json.dump(findings, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
