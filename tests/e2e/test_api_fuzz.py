"""API fuzzing: schemathesis generates requests (valid and invalid) from docs/openapi.yaml
against the local gateway; every answer must match its documented status, content type and
schema, errors the documented error shape, and invalid requests must be refused.

The local gateway does not check SigV4 (there are no IAM identities here, and `curl` must
work), so only the checks about the Authorization header are left out, and only for it.
"""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from devstack.stack import LocalStack

SCHEMA = schemathesis.openapi.from_path(
    Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
)
AUTH_ONLY_CHECKS = [checks.ignored_auth, checks.missing_required_header]


@SCHEMA.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_documented(case: schemathesis.Case, stack: LocalStack) -> None:
    response = case.call(base_url=stack.url)
    excluded = list(AUTH_ONLY_CHECKS)
    if _touches_authorization(case):
        # Deployed, IAM refuses an unsigned request (403) before anything else is looked at;
        # locally nothing checks signatures, so such a case says nothing about the API.
        excluded.append(checks.negative_data_rejection)
    if "cursor" in (case.query or {}):
        # A cursor is valid only when the API gave it (bound to an account and filters): no
        # schema can say which strings those are, so a generated one is refused, rightly.
        excluded.append(checks.positive_data_acceptance)
    case.validate_response(response, excluded_checks=excluded)


def _touches_authorization(case: schemathesis.Case) -> bool:
    data = case.meta.phase.data if case.meta is not None else None
    names = {getattr(data, "parameter", None)}
    names |= {getattr(m, "parameter", None) for m in getattr(data, "mutations", None) or ()}
    return "Authorization" in names or "Authorization" not in case.headers
