"""Contract section 6 through the provider function as deployed: many merchant accounts at one
provider, each with its own secret, answers, records and errors; secrets read once per cache
period, re-read on rotation, a bounded cache; and IAM that lets each function read only its
own provider's accounts. Secrets Manager and DynamoDB are moto; the provider is respx."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import boto3
import httpx
import pytest
import respx
from moto import mock_aws

from refund_core.clients import ProviderClients
from refund_core.events.outbox import outbox_key
from refund_core.fleet.registry import FleetRegistry, queue_name
from refund_core.handler import build_lambda_handler
from refund_core.model import Refund, RefundStatus
from refund_core.poller.records import RefundRecords, record_key
from refund_core.watch import AccountDirectory, build_watch_handler
from tests.helpers import (
    SURECART_API_TOKEN,
    FakeLambdaContext,
    create_records_table,
    load_event,
    observed_refund,
    powertools_secrets_from,
    role_statements,
    secret_for,
)

PROVIDER = "surecart"
# Each provider function of the template and the provider it serves.
PROVIDER_FUNCTIONS = [
    ("ConvergeGateFunction", "convergegate"),
    ("SureCartFunction", "surecart"),
    ("Gr4vyFunction", "gr4vy"),
    ("ShoplazzaFunction", "shoplazza"),
]
DEFAULT_URL = "https://default.surecart.test"
PREFIX = "refund-status/surecart/"


def store_url(account: str) -> str:
    return f"https://{account}.surecart.test"


def surecart_refund(refund_id: str, status: str, amount: int = 1450) -> dict[str, Any]:
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "usd",
        "status": status,
        "reason": "requested_by_customer",
        "charge": "ch_1",
        "live_mode": False,
        "created_at": 1770234892,
        "updated_at": 1770234892,
    }


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Deployment:
    """The SureCart function with its secrets in moto, counting every Secrets Manager call."""

    secrets: Any
    clock: FakeClock
    clients: ProviderClients
    handler: Any
    aws_calls: list[str] = field(default_factory=list)

    def add_account(self, account: str, secret: dict[str, Any] | str) -> None:
        text = secret if isinstance(secret, str) else json.dumps(secret)
        self.secrets.create_secret(Name=PREFIX + account, SecretString=text)

    def add_store(self, account: str) -> None:
        """An account whose valid secret points at its own host, `store_url(account)`."""
        self.add_account(account, secret_for(PROVIDER, base_url=store_url(account)))

    def get(self, refund_id: str, account: str | None = None) -> tuple[int, dict[str, Any]]:
        event = load_event(PROVIDER, "get_refund")
        path = f"/refunds/{PROVIDER}/{refund_id}"
        parameters: dict[str, str] = {"refund_id": refund_id}
        event["resource"] = f"/refunds/{PROVIDER}/{{refund_id}}"
        if account is not None:
            path = f"/accounts/{account}{path}"
            parameters["account"] = account
            event["resource"] = "/accounts/{account}" + event["resource"]
        event |= {"path": path, "pathParameters": parameters}
        event["requestContext"] |= {"path": "/v1" + path, "resourcePath": event["resource"]}
        result = self.handler(event, FakeLambdaContext())
        return result["statusCode"], json.loads(result["body"])

    def reads(self) -> int:
        return self.aws_calls.count("GetSecretValue")


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        secrets.create_secret(
            Name="refund-status/surecart",
            SecretString=json.dumps(secret_for(PROVIDER, base_url=DEFAULT_URL)),
        )
        monkeypatch.setenv("PROVIDER_SECRET_ID", "refund-status/surecart")
        monkeypatch.setenv("ACCOUNT_SECRET_PREFIX", PREFIX)
        monkeypatch.setenv("ACCOUNT_CACHE_SIZE", "3")
        monkeypatch.setenv("SECRET_CACHE_SECONDS", "300")
        clock = FakeClock()
        clients = ProviderClients(PROVIDER, clock=clock)
        deployment = Deployment(
            secrets, clock, clients, build_lambda_handler(PROVIDER, clients=clients)
        )

        def count(event_name: str, **_: Any) -> None:
            deployment.aws_calls.append(event_name.rsplit(".", 1)[-1])

        secrets.meta.events.register("before-call.secrets-manager", count)
        with powertools_secrets_from(secrets):
            yield deployment


def test_two_accounts_holding_one_refund_id_each_get_their_own(deployment: Deployment) -> None:
    deployment.add_store("store-a")
    deployment.add_store("store-b")
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{store_url('store-a')}/v1/refunds/re_1").respond(
            200, json=surecart_refund("re_1", "pending", 100)
        )
        mock.get(f"{store_url('store-b')}/v1/refunds/re_1").respond(
            200, json=surecart_refund("re_1", "succeeded", 200)
        )
        mock.get(f"{DEFAULT_URL}/v1/refunds/re_1").respond(
            200, json=surecart_refund("re_1", "failed", 300)
        )
        a = deployment.get("re_1", "store-a")
        b = deployment.get("re_1", "store-b")
        legacy = deployment.get("re_1")
    assert [status for status, _ in (a, b, legacy)] == [200, 200, 200]
    seen = [(body["account"], body["status"], body["amount"]) for _, body in (a, b, legacy)]
    assert seen == [
        ("store-a", "pending", 100),
        ("store-b", "succeeded", 200),
        ("default", "failed", 300),
    ]


def test_the_legacy_route_is_the_default_account(deployment: Deployment) -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{DEFAULT_URL}/v1/refunds/re_9").respond(
            200, json=surecart_refund("re_9", "pending")
        )
        _, legacy = deployment.get("re_9")
        _, named = deployment.get("re_9", "default")
    legacy.pop("fetched_at"), named.pop("fetched_at")
    assert legacy == named
    assert legacy["account"] == "default"


@pytest.mark.parametrize(
    "account",
    ["Store-42", "-store", "store-", "store_42", "store.42", "a" * 65, "st%C3%B6re", "störe", " "],
)
def test_an_account_id_outside_its_alphabet_is_400_before_any_call(
    deployment: Deployment, account: str
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        provider = mock.route().respond(200, json=surecart_refund("re_1", "pending"))
        status, body = deployment.get("re_1", account)
    assert status == 400
    assert body["error"] == {
        "code": "invalid_account_id",
        "message": body["error"]["message"],
        "provider": PROVIDER,
        "account": None,
        "retryable": False,
    }
    assert "a-z" in body["error"]["message"]
    assert deployment.aws_calls == []
    assert provider.call_count == 0


def test_an_account_without_a_secret_is_404_account_not_found(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    deployment.add_store("store-a")
    caplog.set_level(logging.INFO)
    with respx.mock(assert_all_called=False) as mock:
        provider = mock.route().respond(200, json=surecart_refund("re_1", "pending"))
        status, body = deployment.get("re_1", "store-b")
    # Its log line names the account (the runbook's Logs Insights queries filter on it).
    (logged,) = [r for r in caplog.records if r.getMessage() == "request failed"]
    assert (logged.error_code, logged.account) == ("account_not_found", "store-b")  # type: ignore[attr-defined]
    assert status == 404
    error = body["error"]
    assert (error["code"], error["account"], error["retryable"]) == (
        "account_not_found", "store-b", False,
    )  # fmt: skip
    text = json.dumps(body)
    # Neither the secret's name nor a neighbour account, nor anything of its secret.
    assert PREFIX not in text
    assert "store-a" not in text
    assert SURECART_API_TOKEN not in text
    assert provider.call_count == 0


def test_a_removed_account_is_404_once_its_cache_period_is_over(deployment: Deployment) -> None:
    deployment.add_store("store-a")
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{store_url('store-a')}/v1/refunds/re_1").respond(
            200, json=surecart_refund("re_1", "pending")
        )
        assert deployment.get("re_1", "store-a")[0] == 200
        # `refund-accounts remove` without --now: scheduled for deletion, not yet gone.
        deployment.secrets.delete_secret(SecretId=PREFIX + "store-a", RecoveryWindowInDays=7)
        assert deployment.get("re_1", "store-a")[0] == 200  # cached, as documented
        deployment.clock.now += 301
        status, body = deployment.get("re_1", "store-a")
    assert (status, body["error"]["code"], body["error"]["account"]) == (
        404, "account_not_found", "store-a",
    )  # fmt: skip


@pytest.mark.parametrize(
    "secret",
    [
        "not json at all: hunter2-LEAKCHECK",
        json.dumps({"api_token": 42, "base_url": "https://x.test", "note": "hunter2-LEAKCHECK"}),
        json.dumps({"base_url": "http://plain-http.test", "api_token": "hunter2-LEAKCHECK"}),
    ],
    ids=["not-json", "wrong-types", "insecure-url"],
)
def test_a_malformed_account_secret_is_500_configuration_error_without_the_secret(
    deployment: Deployment, secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    deployment.add_account("store-a", secret)
    caplog.set_level(logging.DEBUG)
    with respx.mock(assert_all_called=False) as mock:
        provider = mock.route().respond(200, json=surecart_refund("re_1", "pending"))
        status, body = deployment.get("re_1", "store-a")
    assert status == 500
    error = body["error"]
    assert (error["code"], error["account"], error["retryable"]) == (
        "configuration_error", "store-a", False,
    )  # fmt: skip
    assert "hunter2" not in json.dumps(body)
    assert "hunter2" not in caplog.text
    assert provider.call_count == 0


def test_each_secret_is_read_once_per_cache_period(deployment: Deployment) -> None:
    deployment.add_store("store-a")
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{store_url('store-a')}/v1/refunds/re_1").respond(
            200, json=surecart_refund("re_1", "pending")
        )
        for _ in range(5):
            assert deployment.get("re_1", "store-a")[0] == 200
        assert deployment.reads() == 1
        deployment.clock.now += 299
        assert deployment.get("re_1", "store-a")[0] == 200
        assert deployment.reads() == 1
        deployment.clock.now += 2  # past SECRET_CACHE_SECONDS
        assert deployment.get("re_1", "store-a")[0] == 200
        assert deployment.reads() == 2


def test_a_rotated_secret_is_read_again_at_the_first_401(deployment: Deployment) -> None:
    old = secret_for(PROVIDER, base_url=store_url("store-a"))
    deployment.add_account("store-a", old)
    new = old | {"api_token": "st_rotated_token_2"}
    accepted = {f"Bearer {old['api_token']}"}

    def by_token(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] in accepted:
            return httpx.Response(200, json=surecart_refund("re_1", "succeeded"))
        return httpx.Response(401, json={"http_status": "unauthorized", "type": "unauthorized"})

    with respx.mock(assert_all_called=True) as mock:
        provider = mock.get(f"{store_url('store-a')}/v1/refunds/re_1").mock(side_effect=by_token)
        assert deployment.get("re_1", "store-a")[0] == 200  # the old secret, now cached
        # Rotation: the provider takes the new token only, and the secret holds it.
        accepted = {"Bearer st_rotated_token_2"}
        deployment.secrets.put_secret_value(
            SecretId=PREFIX + "store-a", SecretString=json.dumps(new)
        )
        status, body = deployment.get("re_1", "store-a")
    assert (status, body["status"]) == (200, "succeeded")
    assert deployment.reads() == 2  # once cold, once at the 401: not once per request
    assert provider.call_count == 3  # ok, 401, ok with the new token


def test_a_rejected_secret_that_was_not_rotated_is_provider_auth_failed(
    deployment: Deployment,
) -> None:
    deployment.add_store("store-a")
    with respx.mock(assert_all_called=True) as mock:
        provider = mock.get(f"{store_url('store-a')}/v1/refunds/re_1").respond(
            401, json={"http_status": "unauthorized", "type": "unauthorized"}
        )
        status, body = deployment.get("re_1", "store-a")
    assert (status, body["error"]["code"], body["error"]["account"]) == (
        502, "provider_auth_failed", "store-a",
    )  # fmt: skip
    assert provider.call_count == 1  # same secret again: no second provider call
    assert deployment.reads() == 2


def test_the_account_cache_is_capped_and_evicts_the_least_recent(deployment: Deployment) -> None:
    accounts = [f"store-{n}" for n in range(5)]
    for account in accounts:
        deployment.add_store(account)
    with respx.mock(assert_all_called=True) as mock:
        for account in accounts:
            mock.get(f"{store_url(account)}/v1/refunds/re_1").respond(
                200, json=surecart_refund("re_1", "pending")
            )
        for account in accounts:
            assert deployment.get("re_1", account)[0] == 200
        assert len(deployment.clients) == 3  # ACCOUNT_CACHE_SIZE
        assert deployment.reads() == 5
        deployment.get("re_1", "store-4")  # held: no read
        assert deployment.reads() == 5
        deployment.get("re_1", "store-0")  # evicted: read again
        assert deployment.reads() == 6
        assert len(deployment.clients) == 3


def test_accounts_share_one_connection_pool(deployment: Deployment) -> None:
    deployment.add_store("store-a")
    deployment.add_store("store-b")
    a, b = deployment.clients.get("store-a"), deployment.clients.get("store-b")
    assert a is not b
    assert a.client is b.client  # one httpx.Client: connections pooled per host


# --- records ---------------------------------------------------------------------------------


@pytest.fixture
def records() -> Iterator[RefundRecords]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        yield RefundRecords(dynamodb, create_records_table(dynamodb))


def _refund(account: str, status: RefundStatus) -> Refund:
    refund: Refund = observed_refund(PROVIDER, "re_1", status, datetime.now(UTC), account=account)
    return refund


def test_two_accounts_keep_separate_records_of_one_refund_id(records: RefundRecords) -> None:
    now = datetime.now(UTC)
    records.record_observation(
        _refund("store-a", RefundStatus.PENDING), execution_arn=None, checked_at=now
    )
    records.record_observation(
        _refund("store-b", RefundStatus.SUCCEEDED), execution_arn=None, checked_at=now
    )
    records.record_observation(
        _refund("default", RefundStatus.FAILED), execution_arn=None, checked_at=now
    )
    seen = {
        account: records.get(PROVIDER, "re_1", account=account)
        for account in ("store-a", "store-b", "default")
    }
    assert {a: (r or {}).get("status") for a, r in seen.items()} == {
        "store-a": "pending",
        "store-b": "succeeded",
        "default": "failed",
    }
    assert records.get(PROVIDER, "re_1", account="store-c") is None


def test_the_default_accounts_record_keys_are_unchanged() -> None:
    assert record_key("surecart", "re_1") == {"pk": {"S": "surecart#re_1"}}
    assert record_key("surecart", "re_1", "default") == {"pk": {"S": "surecart#re_1"}}
    assert record_key("surecart", "re_1", "store-42") == {"pk": {"S": "surecart#store-42#re_1"}}
    # Refund ids hold no `#` (they are refused first), so no default key looks like these.


# --- IAM -------------------------------------------------------------------------------------


def secret_read_patterns(function: str) -> list[str]:
    """The secret ARN patterns `function`'s role may GetSecretValue on, as deployed."""
    patterns: list[str] = []
    for statement in role_statements(function):
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        if statement["Effect"] == "Allow" and any(
            fnmatchcase("secretsmanager:GetSecretValue", action) for action in actions
        ):
            resources = statement["Resource"]
            patterns += [resources] if isinstance(resources, str) else resources
    return patterns


@pytest.mark.parametrize(("function", "provider"), PROVIDER_FUNCTIONS)
def test_each_function_reads_its_own_providers_accounts_only(function: str, provider: str) -> None:
    patterns = secret_read_patterns(function)

    def readable(name: str) -> bool:
        arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbC123"
        return any(fnmatchcase(arn, pattern) for pattern in patterns)

    assert readable(f"refund-status/{provider}/store-42")
    # Its default account's secret, by its own ARN (the stack's `<stack>/<provider>`).
    exact = [pattern for pattern in patterns if "*" not in pattern]
    assert [arn.rsplit(":secret:", 1)[1] for arn in exact] == [f"refund-status/{provider}"]
    for other in {"convergegate", "surecart", "gr4vy", "shoplazza"} - {provider}:
        assert not readable(f"refund-status/{other}/store-42")
        assert not readable(f"refund-status/{other}")
    assert not readable("refund-status/other-app/secret")
    assert not readable(f"refund-status/{provider}-evil/store-42")


# --- the watch routes ------------------------------------------------------------------------


@dataclass
class Watch:
    handler: Any
    secrets: Any
    records: RefundRecords
    fleet: FleetRegistry
    dynamodb: Any

    def call(
        self, method: str, account: str, refund_id: str = "re_1"
    ) -> tuple[int, dict[str, Any]]:
        path = f"/accounts/{account}/refunds/surecart/{refund_id}/watch"
        event = load_event(PROVIDER, "get_refund") | {
            "httpMethod": method,
            "resource": "/accounts/{account}/refunds/{provider}/{refund_id}/watch",
            "path": path,
            "pathParameters": {"account": account, "provider": PROVIDER, "refund_id": refund_id},
            "queryStringParameters": None,
            "body": None,
        }
        result = self.handler(event, FakeLambdaContext())
        return result["statusCode"], json.loads(result["body"])

    def queued(self, account: str) -> list[str]:
        """The refund ids in `account`'s fleet queue."""
        later = datetime.now(UTC) + timedelta(days=1)
        due, _ = self.fleet.due(PROVIDER, account, now=later, limit=100)
        return [d.refund_id for d in due]


@pytest.fixture
def watch() -> Iterator[Watch]:
    with mock_aws():
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        for account in ("store-a", "store-b"):
            secrets.create_secret(Name=PREFIX + account, SecretString="{}")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        records = RefundRecords(dynamodb, create_records_table(dynamodb))
        fleet = FleetRegistry(dynamodb, records.table_name)
        handler = build_watch_handler(
            records=lambda: records,
            fleet=lambda: fleet,
            accounts=lambda: AccountDirectory(secrets, "refund-status"),
        )
        yield Watch(handler, secrets, records, fleet, dynamodb)


def test_two_accounts_watch_one_refund_id_apart(watch: Watch) -> None:
    started = {account: watch.call("POST", account) for account in ("store-a", "store-b")}
    assert {a: s for a, (s, _) in started.items()} == {"store-a": 202, "store-b": 202}
    # One queue per account, each holding its own refund re_1.
    assert {account: watch.queued(account) for account in ("store-a", "store-b")} == {
        "store-a": ["re_1"],
        "store-b": ["re_1"],
    }
    for account in ("store-a", "store-b"):
        status, record = watch.call("GET", account)
        assert (status, record["account"], record["polling_state"]) == (200, account, "polling")
    assert watch.records.get(PROVIDER, "re_1") is None  # the default account has none


def test_a_watch_for_an_account_without_a_secret_is_404_and_starts_nothing(
    watch: Watch,
) -> None:
    status, body = watch.call("POST", "store-z")
    assert (status, body["error"]["code"], body["error"]["account"]) == (
        404, "account_not_found", "store-z",
    )  # fmt: skip
    assert watch.queued("store-z") == []
    assert watch.records.get(PROVIDER, "re_1", account="store-z") is None


def test_a_watch_for_a_removed_account_is_404(watch: Watch) -> None:
    watch.secrets.delete_secret(SecretId=PREFIX + "store-b", RecoveryWindowInDays=7)
    status, body = watch.call("POST", "store-b")
    assert (status, body["error"]["code"]) == (404, "account_not_found")
    assert watch.queued("store-b") == []


def test_a_watch_for_an_invalid_account_is_400_before_any_aws_call(watch: Watch) -> None:
    calls: list[str] = []
    for client in (watch.secrets, watch.dynamodb):
        client.meta.events.register("before-call", lambda event_name, **_: calls.append(event_name))
    status, body = watch.call("POST", "Store_A")
    assert (status, body["error"]["code"], body["error"]["account"]) == (
        400, "invalid_account_id", None,
    )  # fmt: skip
    assert calls == []


RECORDS_TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/refund-status-RefundRecordsTable"


def _dynamodb_grants(function: str) -> list[tuple[set[str], str, Any]]:
    grants = []
    for statement in role_statements(function):
        actions = statement["Action"]
        actions = {actions} if isinstance(actions, str) else set(actions)
        if any(action.startswith("dynamodb:") for action in actions):
            grants.append((actions, statement["Resource"], statement.get("Condition")))
    return grants


@pytest.mark.parametrize(("function", "provider"), PROVIDER_FUNCTIONS)
def test_each_function_may_update_its_own_providers_records_only(
    function: str, provider: str
) -> None:
    """Every record write is a conditional UpdateItem (records.py; a status change's is one
    of a TransactWriteItems, which IAM authorizes item by item), plus the GetItem of an ending
    poll, keyed `provider#...` for every account (record_key) and for the refund's outbox
    item (outbox_key), and the fleet's Query of its own accounts' queues (`<provider>#<account>`
    on the `due` index): nothing more is granted."""
    own = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{provider}#*"]}}
    records, queues = _dynamodb_grants(function)
    assert records == ({"dynamodb:UpdateItem", "dynamodb:GetItem"}, RECORDS_TABLE_ARN, own)
    assert queues == ({"dynamodb:Query"}, f"{RECORDS_TABLE_ARN}/index/due", own)
    assert fnmatchcase(queue_name(provider, "store-42"), f"{provider}#*")
    for account in ("default", "store-42"):
        key = record_key(provider, "re_1", account)["pk"]["S"]
        assert fnmatchcase(key, f"{provider}#*")
        assert fnmatchcase(outbox_key(provider, account, "re_1")["pk"]["S"], f"{provider}#*")
        for other in {"convergegate", "surecart", "gr4vy", "shoplazza"} - {provider}:
            assert not fnmatchcase(record_key(other, "re_1", account)["pk"]["S"], f"{provider}#*")


def test_the_watch_function_reads_updates_and_queries_nothing_more() -> None:
    grants = {
        frozenset(actions): resource for actions, resource, _ in _dynamodb_grants("WatchFunction")
    }
    assert set(grants) == {
        frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"}),
        frozenset({"dynamodb:Query"}),
        frozenset({"dynamodb:BatchGetItem"}),  # a listing page's records, by key
    }
    assert grants[frozenset({"dynamodb:BatchGetItem"})] == RECORDS_TABLE_ARN
    assert grants[frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"})] == RECORDS_TABLE_ARN
    assert grants[frozenset({"dynamodb:Query"})] == RECORDS_TABLE_ARN + "/index/by-account-changed"
