"""docs/openapi.yaml against the code: a valid OpenAPI 3.1 document, the template's routes, and
real answers (the provider functions against their sandboxes, the watch function in moto)
validated against its schemas. Its examples must be real answers too: each error example is
an answer this module saw, and every example validates against its own schema."""

from __future__ import annotations

import contextlib
import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from aws_lambda_powertools.utilities import parameters
from jsonschema import Draft202012Validator, FormatChecker
from moto import mock_aws
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from devstack.sandboxes import Sandbox, start_sandbox
from refund_core import errors
from refund_core.fleet.registry import FleetRegistry
from refund_core.model import Refund
from refund_core.poller.check import shared_records
from refund_core.poller.records import RefundRecords
from refund_core.settings import provider_function_settings
from refund_core.watch import AccountDirectory, build_watch_handler
from tests.helpers import (
    FakeLambdaContext,
    create_records_table,
    load_event,
    powertools_secrets_from,
)

ROOT = Path(__file__).parent.parent
OPENAPI = ROOT / "docs" / "openapi.yaml"
TEMPLATE = ROOT / "template.yaml"
DOC_URI = "urn:refund-status:openapi"
PROVIDERS = ("convergegate", "surecart", "gr4vy", "shoplazza")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
WATCH_PATH = "/refunds/{provider}/{refund_id}/watch"
ACCOUNT_WATCH_PATH = "/accounts/{account}/refunds/{provider}/{refund_id}/watch"
LIST_PATH = "/refunds"
ACCOUNT_LIST_PATH = "/accounts/{account}/refunds"
# The account the account-route answers are for (contract section 6), and one whose secret
# exists but is not the provider's JSON.
ACCOUNT = "store-42"
BROKEN_ACCOUNT = "store-broken"
MISSING_ACCOUNT = "store-43"
# Codes of the error classes that never reach an HTTP answer (raised to Step Functions only).
POLLER_ONLY_CODES = {"refund_polling_timed_out", "refund_pending"}


# --- the document --------------------------------------------------------------------------


def load_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return document


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_document()


def validator_for(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A 2020-12 validator for `schema`, its `#/components/...` refs resolved in `document`."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(DOC_URI, resource)
    return Draft202012Validator(
        _rooted(schema),
        registry=registry,
        format_checker=FormatChecker(),
    )


def _rooted(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its local refs pointing into the document (it is validated standalone)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (DOC_URI + v if k == "$ref" and v.startswith("#") else walk(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    rooted: dict[str, Any] = walk(schema)
    return rooted


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` (responses, parameters, headers...) within the document."""
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def response_of(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    operation = document["paths"][path][method.lower()]
    assert str(status) in operation["responses"], f"{method} {path}: {status} not documented"
    return resolve(document, operation["responses"][str(status)])


# --- the document is OpenAPI 3.1 -----------------------------------------------------------


def test_document_is_a_valid_openapi_3_1_document(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_schemathesis_loads_every_operation(document: dict[str, Any]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_path(str(OPENAPI))
    loaded = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in loaded} == {
        (method, path) for path, method, _ in operations(document)
    }
    for operation in loaded:  # every operation's requests can be generated

        @given(operation.as_strategy())
        @settings(max_examples=3, database=None, suppress_health_check=list(HealthCheck))
        def generate(case: Any) -> None:
            assert case.path_parameters or case.operation.path.count("{") == 0

        generate()


def test_security_is_sigv4_everywhere(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["sigv4"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "execute-api" in scheme["description"]
    assert document["security"] == [{"sigv4": []}]
    for path, method, operation in operations(document):
        assert "security" not in operation, f"{method} {path} overrides the IAM auth"
    urls = [server["url"] for server in document["servers"]]
    assert "http://127.0.0.1:3000" in urls
    assert any(".execute-api." in url and url.endswith("/v1") for url in urls)


# --- the document and template.yaml declare the same routes --------------------------------


def template_routes() -> tuple[set[tuple[str, str]], set[str]]:
    """(method, path) of every route SAM's transform gives the API, and the paths that have an
    ANY (SAM writes one per `Api` event)."""
    from devstack.aws.template import load_template

    api = load_template(TEMPLATE).api
    assert api is not None
    routes = {(r.method, r.path) for r in api.routes if r.method != "ANY"}
    return routes, {r.path for r in api.routes if r.method == "ANY"}


def test_documented_routes_are_the_template_routes(document: dict[str, Any]) -> None:
    routes, _ = template_routes()
    documented = {(method, path) for path, method, _ in operations(document)}
    assert documented == routes, (
        f"in template.yaml only: {sorted(routes - documented)}; "
        f"in docs/openapi.yaml only: {sorted(documented - routes)}"
    )


def test_every_documented_path_answers_405_for_other_methods(document: dict[str, Any]) -> None:
    """The template's `ANY` events send every other method to the function, which answers 405
    `method_not_allowed`: each documented operation documents that 405 (with `Allow`)."""
    _, any_paths = template_routes()
    assert any_paths == set(document["paths"]), "a documented path without its ANY event"
    for path, method, operation in operations(document):
        response = resolve(document, operation["responses"]["405"])
        assert "Allow" in response["headers"], f"{method} {path}"
        schema = response["content"]["application/json"]["schema"]
        assert resolve(document, schema) is document["components"]["schemas"]["Error"]


def gateway_codes() -> set[str]:
    """The error codes of the template's GatewayResponses (API Gateway's own answers)."""
    text = TEMPLATE.read_text()
    section = text[text.index("GatewayResponses:") :]
    return set(re.findall(r'"code": "([a-z_]+)"', section[: section.index("\n\n")]))


def test_error_code_enum_is_every_code_the_api_answers(document: dict[str, Any]) -> None:
    classes = [errors.RefundServiceError]
    codes: set[str] = set()
    while classes:
        cls = classes.pop()
        codes.add(cls.code)
        classes.extend(cls.__subclasses__())
    expected = (codes - POLLER_ONLY_CODES) | gateway_codes()
    error = document["components"]["schemas"]["Error"]["properties"]["error"]
    assert set(error["properties"]["code"]["enum"]) == expected


# --- every example validates against its schema --------------------------------------------


def media_examples(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) of every example under a media type, schema or parameter."""
    for path, method, operation in operations(document):
        where = f"{method} {path}"
        body = operation.get("requestBody")
        if body:
            for name, media in resolve(document, body)["content"].items():
                yield from _of_media(f"{where} request {name}", media, document)
        for status, response in operation["responses"].items():
            for name, media in (resolve(document, response).get("content") or {}).items():
                yield from _of_media(f"{where} {status} {name}", media, document)
        parameters_ = [*document["paths"][path].get("parameters", [])]
        for parameter in [*parameters_, *operation.get("parameters", [])]:
            parameter = resolve(document, parameter)
            label = f"{where} parameter {parameter['name']}"
            yield from _of_media(label, parameter, document)
    for name, schema in document["components"]["schemas"].items():
        for i, example in enumerate(schema.get("examples", [])):
            yield f"components.schemas.{name} examples[{i}]", schema, example


def _of_media(
    where: str, media: dict[str, Any], document: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], Any]]:
    schema = media["schema"]
    if "example" in media:
        yield f"{where} example", schema, media["example"]
    for key, example in (media.get("examples") or {}).items():
        yield f"{where} examples.{key}", schema, resolve(document, example)["value"]


def test_every_example_validates_against_its_schema(document: dict[str, Any]) -> None:
    found = list(media_examples(document))
    assert len(found) >= 40, "fewer examples than expected: is the walk finding them?"
    failures = []
    for where, schema, example in found:
        for failure in validator_for(document, schema).iter_errors(example):
            failures.append(f"{where}: {failure.message} at {list(failure.absolute_path)}")
    assert not failures, "\n".join(failures)


def test_every_function_answer_has_an_example(document: dict[str, Any]) -> None:
    """Examples wherever a function answers (API Gateway's own answers, which no test here can
    produce, are the shared `Gateway*` responses, and have none)."""
    missing = []
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if response.get("$ref", "").startswith("#/components/responses/Gateway"):
                continue
            media = resolve(document, response)["content"]["application/json"]
            if not media.get("examples"):
                missing.append(f"{method} {path} {status}")
    assert not missing, missing


# --- real answers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    """One real handler answer, and the documented operation it answers."""

    path: str
    method: str
    status: int
    headers: dict[str, str]
    body: Any


def _answer(result: dict[str, Any], path: str, method: str) -> Observed:
    headers = {k: v[-1] for k, v in (result.get("multiValueHeaders") or {}).items()}
    headers.update(result.get("headers") or {})
    return Observed(path, method, result["statusCode"], headers, json.loads(result["body"]))


def _event(provider: str, method: str, path: str, parameters_: dict[str, str]) -> dict[str, Any]:
    event = load_event(provider, "get_refund")
    event["httpMethod"] = method
    event["path"] = path
    event["requestContext"]["path"] = "/v1" + path
    event["requestContext"]["httpMethod"] = method
    event["pathParameters"] = parameters_
    return event


class ProviderFunction:
    """A provider function as deployed: its secret in moto, its sandbox as the provider."""

    def __init__(self, sandbox: Sandbox, secrets_manager: Any, mp: pytest.MonkeyPatch) -> None:
        self.sandbox = sandbox
        self.provider = sandbox.name
        self.secrets = secrets_manager
        self._mp = mp
        self.deploy(sandbox.credentials)

    def deploy(self, secret: dict[str, Any]) -> None:
        count = len(self.secrets.list_secrets()["SecretList"])
        name = f"refund-status/{self.provider}-default-{count}"
        self.secrets.create_secret(Name=name, SecretString=json.dumps(secret))
        self._secret_id = name
        self._use_my_secret()
        module = importlib.reload(importlib.import_module(f"functions.{self.provider}.app"))
        self._handler = module.lambda_handler

    def _use_my_secret(self) -> None:
        """The four functions share one process: each call sees its own function's env."""
        self._mp.setenv("PROVIDER_SECRET_ID", self._secret_id)
        self._mp.setenv("ACCOUNT_SECRET_PREFIX", self.account_prefix)
        parameters.clear_caches()
        provider_function_settings.cache_clear()

    @property
    def account_prefix(self) -> str:
        return f"refund-status/{self.provider}/"

    def add_account(self, account: str, secret: dict[str, Any]) -> None:
        name = self.account_prefix + account
        self.secrets.create_secret(Name=name, SecretString=json.dumps(secret))

    def call(self, refund_id: str, method: str = "GET", *, account: str | None = None) -> Observed:
        """Through `/refunds/...`, or `/accounts/{account}/refunds/...` when `account` is set."""
        self._use_my_secret()
        resource = self.path(account)
        path = resource.replace("{refund_id}", refund_id)
        parameters_ = {"refund_id": refund_id}
        if account is not None:
            path = path.replace("{account}", account)
            parameters_["account"] = account
        event = _event(self.provider, method, path, parameters_)
        event["resource"] = resource
        return _answer(self._handler(event, FakeLambdaContext()), resource, method)

    def path(self, account: str | None = None) -> str:
        prefix = "" if account is None else "/accounts/{account}"
        return f"{prefix}/refunds/{self.provider}/{{refund_id}}"


def provider_answers(function: ProviderFunction, account: str | None = None) -> dict[str, Observed]:
    """The function's answers through `/refunds/...` (`account` None) or that account's route."""
    sandbox = function.sandbox
    pending, succeeded = sandbox.provider.pending_status, "succeeded"
    answers: dict[str, Observed] = {}

    def call(refund_id: str, method: str = "GET") -> Observed:
        return function.call(refund_id, method, account=account)

    def faulted(fault: str, **options: Any) -> Observed:
        refund_id = sandbox.create_refund(amount=1299)
        sandbox.add_fault(fault, refund_id=refund_id, **options)
        return call(refund_id)

    answers["pending"] = call(sandbox.create_refund(amount=1299, life=pending))
    answers["succeeded"] = call(sandbox.create_refund(amount=5000, life=succeeded))
    answers["unknown_status"] = faulted("unknown_status", value="chargeback_review")
    answers["invalid_refund_id"] = call("not%20an%20id")
    answers["refund_id_too_long"] = call("r" * 129)
    answers["refund_not_found"] = call("never-created-0001")
    answers["method_not_allowed"] = call(sandbox.create_refund(), method="DELETE")
    answers["provider_auth_failed"] = faulted("unauthorized")
    answers["provider_unavailable"] = faulted("server_error")
    answers["provider_bad_response"] = faulted("html")
    answers["provider_rate_limited"] = faulted("rate_limited", retry_after=7)
    answers["provider_rate_limited_no_retry_after"] = faulted("rate_limited")
    with pytest.MonkeyPatch.context() as mp:  # a function deployed with a short timeout
        mp.setenv("PROVIDER_TIMEOUT_SECONDS", "0.5")
        function.deploy(sandbox.credentials)
        answers["provider_timeout"] = faulted("delay", seconds=2, times=1)
    sandbox.clear_faults()
    if account is None:
        function.deploy({})
        answers["configuration_error"] = call(sandbox.create_refund())
        function.deploy(sandbox.credentials)
        return answers
    refund_id = sandbox.create_refund()
    answers["configuration_error"] = function.call(refund_id, account=BROKEN_ACCOUNT)
    answers["invalid_account_id"] = function.call(refund_id, account="Store_42")
    answers["account_not_found"] = function.call(refund_id, account=MISSING_ACCOUNT)
    return answers


class WatchFunction:
    """The watch function, called on the `/refunds/...` routes or on `account`'s."""

    def __init__(self, handler: Any, account: str | None = None) -> None:
        self._handler = handler
        self._account = account

    def call(
        self,
        method: str,
        provider: str,
        refund_id: str,
        *,
        query: dict[str, str] | None = None,
        body: str | None = None,
    ) -> Observed:
        account = self._account
        resource = WATCH_PATH if account is None else ACCOUNT_WATCH_PATH
        parameters_ = {"provider": provider, "refund_id": refund_id}
        if account is not None:
            parameters_["account"] = account
        path = resource.format(**parameters_)
        event = _event("surecart", method, path, parameters_)
        event |= {"resource": resource, "queryStringParameters": query, "body": body}
        return _answer(self._handler(event, FakeLambdaContext()), resource, method)

    def list_call(self, query: dict[str, str] | None = None, method: str = "GET") -> Observed:
        """`GET /refunds` (or the account's listing)."""
        account = self._account
        resource = LIST_PATH if account is None else ACCOUNT_LIST_PATH
        parameters_ = None if account is None else {"account": account}
        path = "/refunds" if account is None else f"/accounts/{account}/refunds"
        event = _event("surecart", method, path, parameters_ or {})
        event |= {
            "resource": resource,
            "pathParameters": parameters_,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
            "body": None,
        }
        return _answer(self._handler(event, FakeLambdaContext()), resource, method)


def watch_answers(
    functions: dict[str, ProviderFunction],
    records: RefundRecords,
    fleet: FleetRegistry,
    account: str | None = None,
) -> dict[str, Observed]:
    """The watch function's answers (on `account`'s route when set), its records written from
    real provider answers; the accounts are the provider functions' secrets."""
    directory = AccountDirectory(functions["surecart"].secrets, "refund-status")
    handler = build_watch_handler(
        records=lambda: records, fleet=lambda: fleet, accounts=lambda: directory
    )
    watch = WatchFunction(handler, account)
    surecart = functions["surecart"]
    refund_id = surecart.sandbox.create_refund(amount=2500, life=["pending", "succeeded"])
    answers: dict[str, Observed] = {}

    answers["get_watch_not_found"] = watch.call("GET", "surecart", refund_id)
    overrides = {"first_check_seconds": 5, "max_interval_seconds": 60, "budget_seconds": 3600}
    answers["post_started"] = watch.call("POST", "surecart", refund_id, body=json.dumps(overrides))
    answers["post_running"] = watch.call("POST", "surecart", refund_id)
    answers["get_polling_before_first_check"] = watch.call("GET", "surecart", refund_id)
    (due,), _ = fleet.due(
        "surecart", account or "default", now=datetime.now(UTC) + timedelta(seconds=1), limit=1
    )

    def check() -> None:
        """What one fleet check does: count the call, store what the provider answered."""
        records.begin_check(
            "surecart", refund_id, poll_id=due.poll_id, account=account or "default"
        )
        refund = Refund.model_validate(surecart.call(refund_id, account=account).body)
        records.record_observation(refund, execution_arn=None, checked_at=datetime.now(UTC))

    check()  # pending
    answers["get_polling"] = watch.call("GET", "surecart", refund_id)
    check()  # succeeded
    answers["get_settled"] = watch.call("GET", "surecart", refund_id)
    answers["post_settled"] = watch.call("POST", "surecart", refund_id)
    answers["post_refresh"] = watch.call("POST", "surecart", refund_id, query={"refresh": "true"})
    answers["invalid_refund_id"] = watch.call("GET", "gr4vy", "bad.id")
    answers["invalid_request_field"] = watch.call(
        "POST", "gr4vy", "re_1", body=json.dumps({"first_check_seconds": 0, "every": 5})
    )
    answers["invalid_request_json"] = watch.call("POST", "gr4vy", "re_1", body="{not json")
    with pytest.MonkeyPatch.context() as floors:  # the template's default floors
        floors.setenv("POLL_MIN_FIRST_CHECK_SECONDS", "10")
        floors.setenv("POLL_MIN_INTERVAL_SECONDS", "60")
        answers["invalid_request_floor"] = watch.call(
            "POST", "gr4vy", "re_1", body=json.dumps({"max_interval_seconds": 30})
        )
    answers["post_invalid_refund_id"] = watch.call("POST", "gr4vy", "bad.id")
    answers["route_not_found"] = watch.call("GET", "stripe", "re_1")
    answers["post_route_not_found"] = watch.call("POST", "stripe", "re_1")
    answers["method_not_allowed"] = watch.call("DELETE", "gr4vy", "re_1")
    no_poller = WatchFunction(build_watch_handler(records=lambda: records), account)
    answers["configuration_error"] = no_poller.call("POST", "shoplazza", "re_2")
    # The records table as deployed functions find it (by env var; none set here), uncached.
    no_table = WatchFunction(build_watch_handler(records=shared_records.__wrapped__), account)
    answers["get_configuration_error"] = no_table.call("GET", "shoplazza", "re_2")
    answers["list"] = watch.list_call({"provider": "surecart", "limit": "1"})
    answers["list_invalid_request"] = watch.list_call({"status": "done"})
    answers["list_method_not_allowed"] = watch.list_call(method="DELETE")
    answers["list_configuration_error"] = no_table.list_call()
    if account is not None:
        answers["invalid_account_id"] = WatchFunction(handler, "-store").call(
            "GET", "gr4vy", "re_1"
        )
        answers["post_invalid_account_id"] = WatchFunction(handler, "Store_42").call(
            "POST", "gr4vy", "re_1"
        )
        answers["post_account_not_found"] = WatchFunction(handler, MISSING_ACCOUNT).call(
            "POST", "surecart", "re_1"
        )
        answers["list_invalid_account_id"] = WatchFunction(handler, "-store").list_call()
    return answers


@pytest.fixture(scope="module")
def real_answers() -> Iterator[dict[str, Observed]]:
    with collect_real_answers() as answers:
        yield answers


@contextlib.contextmanager
def collect_real_answers() -> Iterator[dict[str, Observed]]:
    """Every real answer, by case id (`<provider>-<case>` or `watch-<case>`)."""
    sandboxes = [start_sandbox(provider) for provider in PROVIDERS]
    try:
        with mock_aws(), pytest.MonkeyPatch.context() as mp, contextlib.ExitStack() as stack:
            mp.delenv("POLLER_STATE_MACHINE_ARN", raising=False)
            mp.delenv("RECORDS_TABLE_NAME", raising=False)
            secrets_manager = boto3.client("secretsmanager", region_name="us-east-1")
            stack.enter_context(powertools_secrets_from(secrets_manager))
            functions = {s.name: ProviderFunction(s, secrets_manager, mp) for s in sandboxes}
            for function in functions.values():
                function.add_account(ACCOUNT, function.sandbox.credentials)
                function.add_account(BROKEN_ACCOUNT, {"not": "this provider's secret"})
            answers = {
                f"{provider}-{route}{case}": answer
                for provider, function in functions.items()
                for route, account in (("", None), ("account-", ACCOUNT))
                for case, answer in provider_answers(function, account).items()
            }
            dynamodb = boto3.client("dynamodb", region_name="us-east-1")
            records = RefundRecords(dynamodb, create_records_table(dynamodb))
            fleet = FleetRegistry(dynamodb, records.table_name)
            for route, account in (("", None), ("account-", ACCOUNT)):
                for case, answer in watch_answers(functions, records, fleet, account).items():
                    answers[f"watch-{route}{case}"] = answer
            yield answers
    finally:
        parameters.clear_caches()
        provider_function_settings.cache_clear()
        for sandbox in sandboxes:
            sandbox.stop()


# (case, HTTP status, error code or None) expected of each real answer.
PROVIDER_CASES: dict[str, tuple[int, str | None]] = {
    "pending": (200, None),
    "succeeded": (200, None),
    "unknown_status": (200, None),
    "invalid_refund_id": (400, "invalid_refund_id"),
    "refund_id_too_long": (400, "invalid_refund_id"),
    "refund_not_found": (404, "refund_not_found"),
    "method_not_allowed": (405, "method_not_allowed"),
    "provider_auth_failed": (502, "provider_auth_failed"),
    "provider_unavailable": (502, "provider_unavailable"),
    "provider_bad_response": (502, "provider_bad_response"),
    "provider_rate_limited": (503, "provider_rate_limited"),
    "provider_rate_limited_no_retry_after": (503, "provider_rate_limited"),
    "provider_timeout": (504, "provider_timeout"),
    "configuration_error": (500, "configuration_error"),
}
WATCH_CASES: dict[str, tuple[int, str | None]] = {
    "get_watch_not_found": (404, "watch_not_found"),
    "post_started": (202, None),
    "post_running": (202, None),
    "get_polling_before_first_check": (200, None),
    "get_polling": (200, None),
    "get_settled": (200, None),
    "post_settled": (200, None),
    "post_refresh": (202, None),
    "invalid_refund_id": (400, "invalid_refund_id"),
    "invalid_request_field": (400, "invalid_request"),
    "invalid_request_json": (400, "invalid_request"),
    "invalid_request_floor": (400, "invalid_request"),
    "post_invalid_refund_id": (400, "invalid_refund_id"),
    "route_not_found": (404, "route_not_found"),
    "post_route_not_found": (404, "route_not_found"),
    "method_not_allowed": (405, "method_not_allowed"),
    "configuration_error": (500, "configuration_error"),
    "get_configuration_error": (500, "configuration_error"),
    "list": (200, None),
    "list_invalid_request": (400, "invalid_request"),
    "list_method_not_allowed": (405, "method_not_allowed"),
    "list_configuration_error": (500, "configuration_error"),
}
# What only the account routes answer (contract section 6).
ACCOUNT_CASES: dict[str, tuple[int, str | None]] = {
    "invalid_account_id": (400, "invalid_account_id"),
    "account_not_found": (404, "account_not_found"),
}
ACCOUNT_WATCH_CASES: dict[str, tuple[int, str | None]] = {
    "invalid_account_id": (400, "invalid_account_id"),
    "post_invalid_account_id": (400, "invalid_account_id"),
    "post_account_not_found": (404, "account_not_found"),
    "list_invalid_account_id": (400, "invalid_account_id"),
}
CASES = {
    **{f"{p}-{case}": expected for p in PROVIDERS for case, expected in PROVIDER_CASES.items()},
    **{
        f"{p}-account-{case}": expected
        for p in PROVIDERS
        for case, expected in (PROVIDER_CASES | ACCOUNT_CASES).items()
    },
    **{f"watch-{case}": expected for case, expected in WATCH_CASES.items()},
    **{
        f"watch-account-{case}": expected
        for case, expected in (WATCH_CASES | ACCOUNT_WATCH_CASES).items()
    },
}


def expected_account(case: str, code: str | None) -> str | None:
    """The account a case's refund, record or error names: the route's (`default` on
    `/refunds/...`), or none when the account id itself is invalid (it is not echoed)."""
    if code == "invalid_account_id":
        return None
    if code == "account_not_found":
        return MISSING_ACCOUNT
    if "-account-" not in case:
        return "default"
    if code == "configuration_error" and not case.startswith("watch-"):
        return BROKEN_ACCOUNT
    return ACCOUNT


def operation_for(document: dict[str, Any], answer: Observed) -> tuple[str, str]:
    """The documented (path, method) a real answer answers; a 405 is documented on the path's
    operations, not on the method that got it."""
    item = document["paths"][answer.path]
    method = answer.method.lower()
    if method not in item:
        assert answer.status == 405, answer
        method = next(m for m in HTTP_METHODS if m in item)
    return answer.path, method


@pytest.mark.parametrize("case", sorted(CASES))
def test_real_answer_matches_the_document(
    case: str, real_answers: dict[str, Observed], document: dict[str, Any]
) -> None:
    answer = real_answers[case]
    status, code = CASES[case]
    assert answer.status == status, answer.body
    if code is not None:
        assert answer.body["error"]["code"] == code
    if code is not None or "history" in answer.body or "terminal" in answer.body:
        account = answer.body["error"]["account"] if code else answer.body["account"]
        assert account == expected_account(case, code), answer.body
    path, method = operation_for(document, answer)
    response = response_of(document, path, method, answer.status)
    assert answer.headers["Content-Type"] == "application/json"
    media = response["content"]["application/json"]
    failures = [
        f"{failure.message} at {list(failure.absolute_path)}"
        for failure in validator_for(document, media["schema"]).iter_errors(answer.body)
    ]
    assert not failures, f"{case}: {answer.body}\n" + "\n".join(failures)
    for name, header in (response.get("headers") or {}).items():
        header = resolve(document, header)
        if header.get("required"):
            assert name in answer.headers, f"{case}: documented header {name} missing"
        if name in answer.headers:
            validator_for(document, header["schema"]).validate(answer.headers[name])
    if status == 503:
        assert ("Retry-After" in answer.headers) is (case.endswith("provider_rate_limited"))


def test_error_examples_are_real_answers(
    real_answers: dict[str, Observed], document: dict[str, Any]
) -> None:
    """An error example is an answer seen here for that operation and status, word for word
    (a 405, for that path: it answers the methods the path does not serve)."""

    def key(path: str, method: str, status: int) -> tuple[str, str, int]:
        return path, "*" if status == 405 else method.lower(), status

    seen: dict[tuple[str, str, int], list[Any]] = {}
    for answer in real_answers.values():
        seen.setdefault(key(answer.path, answer.method, answer.status), []).append(answer.body)
    checked, unreal = 0, []
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            media = resolve(document, response).get("content", {}).get("application/json", {})
            for name, example in (media.get("examples") or {}).items():
                value = resolve(document, example)["value"]
                if int(status) < 400:
                    continue
                checked += 1
                if value not in seen.get(key(path, method, int(status)), []):
                    unreal.append(f"{method} {path} {status} {name}: {value}")
    assert checked >= 40
    assert not unreal, "examples that no real answer gave:\n" + "\n".join(unreal)


def test_success_examples_have_the_shape_of_real_answers(
    real_answers: dict[str, Observed], document: dict[str, Any]
) -> None:
    """2xx examples: same keys, in the same order, as a real answer of that operation."""
    shapes: dict[tuple[str, str, int], set[tuple[str, ...]]] = {}
    for answer in real_answers.values():
        path, method = operation_for(document, answer)
        shapes.setdefault((path, method, answer.status), set()).add(tuple(answer.body))
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            media = resolve(document, response).get("content", {}).get("application/json", {})
            if int(status) >= 400:
                continue
            for name, example in (media.get("examples") or {}).items():
                keys = tuple(resolve(document, example)["value"])
                assert keys in shapes[(path, method.lower(), int(status))], (
                    f"{method} {path} {status} {name}"
                )
