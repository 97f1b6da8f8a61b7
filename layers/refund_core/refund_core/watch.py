"""The watch endpoints (contract sections 5 and 8): register a refund with the fleet once,
read its record.

`POST /refunds/{provider}/{refund_id}/watch` puts the refund in its account's fleet queue
(`refund_core.fleet`), due now; a DynamoDB condition makes a second POST while it is polled
register nothing, and both answer the poll that stands: 202 `{polling_state, next_check_at}`.
A settled refund answers 200 with its record and polls nothing, unless `?refresh=true` asks
for a new poll. `GET` answers the record, or 404 `watch_not_found`. The same function lists
an account's records (`GET /refunds`, `GET /accounts/{account}/refunds`: refund_core.listing).
"""

# Powertools' route and exception decorators are untyped.
# mypy: disallow-untyped-decorators=False

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, ValidationError

from refund_core.accounts import DEFAULT_ACCOUNT, account_not_found, validate_account_id
from refund_core.aws_clients import aws_client
from refund_core.errors import (
    ConfigurationError,
    InvalidRequest,
    RefundServiceError,
    RouteNotFound,
    WatchNotFound,
)
from refund_core.fleet.registry import FleetRegistry
from refund_core.fleet.waiters import WaitRaced, is_fleet_wait, parse_wait
from refund_core.http_api import (
    RouteShape,
    answer_api_event,
    count_error,
    install_error_handlers,
    json_response,
    path_account,
    path_refund_id,
)
from refund_core.ids import validate_refund_id
from refund_core.listing import list_page, parse_list_query
from refund_core.poller.check import RECORDS_TABLE_ENV, shared_records
from refund_core.poller.records import PollingState, RefundRecords, public_record
from refund_core.poller.schedule import OverrideFloors, ScheduleOverrides
from refund_core.providers.registry import PROVIDER_NAMES
from refund_core.settings import required_env
from refund_core.timestamps import format_rfc3339, utc_now
from refund_core.tracing import traced

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

LambdaHandler = Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]]
logger = Logger(child=True)
# The template's AccountSecretPrefix: account A at provider P is the secret `{root}/P/A`.
ACCOUNT_SECRET_ROOT_ENV = "ACCOUNT_SECRET_ROOT"  # noqa: S105 - a variable name
# The floors of a POST body's overrides (template parameters PollMin…; unset: no floor).
FIRST_CHECK_FLOOR_ENV = "POLL_MIN_FIRST_CHECK_SECONDS"
MAX_INTERVAL_FLOOR_ENV = "POLL_MIN_INTERVAL_SECONDS"


class WatchOverrides(ScheduleOverrides):
    """Optional POST body: the execution input overrides of contract section 5."""

    # Strict, as the execution input's overrides are (ScheduleOverrides); no other field.
    model_config = ConfigDict(extra="forbid")


@cache
def shared_fleet() -> FleetRegistry:
    return FleetRegistry(aws_client("dynamodb"), required_env(RECORDS_TABLE_ENV))


class AccountDirectory:
    """Whether an account exists: its secret does (DescribeSecret, metadata only: the watch
    function never reads a credential)."""

    def __init__(self, client: SecretsManagerClient, root: str) -> None:
        self._client = client
        self._root = root

    def exists(self, provider: str, account: str) -> bool:
        try:
            described = self._client.describe_secret(SecretId=f"{self._root}/{provider}/{account}")
        except self._client.exceptions.ResourceNotFoundException:
            return False
        return "DeletedDate" not in described  # scheduled for deletion: removed


@cache
def shared_accounts() -> AccountDirectory | None:
    """The deployment's accounts, or None when ACCOUNT_SECRET_ROOT is unset (the poller's
    first check then tells a missing account, as `account_not_found` in the record)."""
    root = os.environ.get(ACCOUNT_SECRET_ROOT_ENV, "")
    return AccountDirectory(aws_client("secretsmanager"), root) if root else None


def prepare_first_call() -> None:
    """Build at import the DynamoDB client every watch call needs (why INIT and not the
    first call: `refund_core.handler.prepare_first_call`).

    Best effort: without the function's env (a test that sets it later) or a region, the
    client is left to the first call, whose failure answers configuration_error.
    """
    if not os.environ.get(RECORDS_TABLE_ENV):
        return
    with suppress(ConfigurationError):
        shared_records()
        shared_fleet()


def build_watch_handler(
    *,
    records: Callable[[], RefundRecords] = shared_records,
    fleet: Callable[[], FleetRegistry] = shared_fleet,
    accounts: Callable[[], AccountDirectory | None] = shared_accounts,
) -> LambdaHandler:
    """The decorated `lambda_handler` of the watch function."""
    logger = Logger()
    metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RefundStatus"))
    if records is shared_records and fleet is shared_fleet:
        prepare_first_call()
    app = build_watch_api(
        records=records, fleet=fleet, accounts=accounts, logger=logger, metrics=metrics
    )

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @traced
    @metrics.log_metrics
    def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="WatchRequests", unit=MetricUnit.Count, value=1)
        answer = answer_api_event(app, event, context, logger=logger, metrics=metrics)
        if answer is not None:
            return answer
        if is_fleet_wait(event):
            try:
                return wait_on_refund(event, fleet=fleet(), accounts=accounts)
            except RefundServiceError as error:
                # Raised: its class name is the waiting execution's error (InvalidRequest).
                count_error(metrics, error)
                raise
        refused = InvalidRequest("expected an API Gateway REST proxy event or a fleet wait")
        count_error(metrics, refused)
        raise refused

    return cast(LambdaHandler, lambda_handler)


def build_watch_api(
    *,
    records: Callable[[], RefundRecords],
    fleet: Callable[[], FleetRegistry],
    accounts: Callable[[], AccountDirectory | None],
    logger: Logger,
    metrics: Metrics,
) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver()
    watch_path = "/refunds/<provider>/<refund_id>/watch"
    account_watch_path = f"/accounts/<account>{watch_path}"

    def target(provider: str, refund_id: str, account: str | None) -> tuple[str, str, str]:
        if provider not in PROVIDER_NAMES:
            raise RouteNotFound(f"no provider called {provider[:40]!r}")
        # The account first: a bad one is refused before anything else is read.
        account = (
            DEFAULT_ACCOUNT if account is None else path_account(app, account, provider=provider)
        )
        return provider, path_refund_id(app, refund_id, provider=provider), account

    @app.post(watch_path)
    def start_watch(provider: str, refund_id: str) -> Response[str]:
        return start(*target(provider, refund_id, None))

    @app.post(account_watch_path)
    def start_account_watch(account: str, provider: str, refund_id: str) -> Response[str]:
        return start(*target(provider, refund_id, account))

    @app.get(watch_path)
    def get_watch(provider: str, refund_id: str) -> Response[str]:
        return read(*target(provider, refund_id, None))

    @app.get(account_watch_path)
    def get_account_watch(account: str, provider: str, refund_id: str) -> Response[str]:
        return read(*target(provider, refund_id, account))

    @app.get("/refunds")
    def list_refunds() -> Response[str]:
        return listing(DEFAULT_ACCOUNT)

    @app.get("/accounts/<account>/refunds")
    def list_account_refunds(account: str) -> Response[str]:
        return listing(path_account(app, account, provider=None))

    def listing(account: str) -> Response[str]:
        event = app.current_event
        query = parse_list_query(
            event.query_string_parameters, event.multi_value_query_string_parameters
        )
        return json_response(200, list_page(records(), account, query))

    def start(provider: str, refund_id: str, account: str) -> Response[str]:
        try:
            body = app.current_event.decoded_body  # base64 when isBase64Encoded says so
        except ValueError:  # binascii.Error, UnicodeDecodeError
            raise InvalidRequest("invalid watch body: not base64 of UTF-8 text") from None
        overrides = _overrides(body)
        refresh = (app.current_event.query_string_parameters or {}).get("refresh") == "true"
        require_account(accounts, provider, account)
        store = records()
        record = store.get(provider, refund_id, account=account)
        state = (
            PollingState(record["polling_state"])
            if record and record.get("polling_state")
            else None
        )
        if record and state is PollingState.SETTLED and not refresh:
            return json_response(200, public_record(record))
        # Registered unless a poll of it stands (a condition, not this read, decides).
        registration = fleet().register(
            provider, refund_id, account=account, overrides=overrides, now=utc_now()
        )
        if registration.registered:
            logger.info("watch registered", extra={"refund_id": refund_id, "account": account})
        due = registration.next_check_at
        return json_response(
            202,
            {
                "polling_state": registration.polling_state,
                "next_check_at": None if due is None else format_rfc3339(due),
            },
        )

    def read(provider: str, refund_id: str, account: str) -> Response[str]:
        record = records().get(provider, refund_id, account=account)
        if record is None:
            raise WatchNotFound(
                "no watch for this refund: POST to this path starts one", provider=provider
            )
        return json_response(200, public_record(record))

    install_error_handlers(
        app,
        logger=logger,
        metrics=metrics,
        routes=[
            RouteShape("GET", re.compile(r"(?:/accounts/[^/]+)?/refunds/[^/]+/[^/]+/watch")),
            RouteShape("POST", re.compile(r"(?:/accounts/[^/]+)?/refunds/[^/]+/[^/]+/watch")),
            RouteShape("GET", re.compile(r"(?:/accounts/[^/]+)?/refunds")),
        ],
        refund_path_prefix="/refunds/",
    )
    return app


class PollerInput(ScheduleOverrides):
    """The refund poller's execution input (contract section 5): which refund, and the same
    overrides a POST body may give, by the same rules. Other keys are the caller's own."""

    provider: str
    refund_id: str
    account: str | None = None


def wait_on_refund(
    event: Mapping[str, Any],
    *,
    fleet: FleetRegistry,
    accounts: Callable[[], AccountDirectory | None],
    now: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """A refund poller execution waits on the refund: join the fleet's poll of it, or
    register one with this execution as its waiter. Answers what it did (Step Functions
    ignores it: the execution waits for its token)."""
    given, waiter = parse_wait(event)
    try:
        chosen = PollerInput.model_validate(given)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise InvalidRequest("invalid poller input: " + ", ".join(fields)) from None
    if chosen.provider not in PROVIDER_NAMES:
        raise InvalidRequest(
            "invalid poller input: provider must be one of: " + ", ".join(PROVIDER_NAMES)
        )
    provider = chosen.provider
    refund_id = validate_refund_id(chosen.refund_id, provider=provider)
    account = validate_account_id(chosen.account or DEFAULT_ACCOUNT, provider=provider)
    overrides = chosen.model_dump(include=set(ScheduleOverrides.model_fields), exclude_none=True)
    if low := override_floors().below(overrides):
        raise InvalidRequest("invalid poller input: below its floor: " + ", ".join(low))
    require_account(accounts, provider, account)
    # Join the poll that stands, or register one; a poll ending in between (join refused,
    # then register refused by a newer poll) is a race of a few milliseconds: try again.
    for _ in range(3):
        if fleet.join(provider, refund_id, account=account, waiter=waiter):
            return {"waiting": True, "registered": False}
        registration = fleet.register(
            provider, refund_id, account=account, overrides=overrides, now=now(), waiter=waiter
        )
        if registration.registered:
            logger.info("poller registered", extra={"refund_id": refund_id, "account": account})
            return {"waiting": True, "registered": True}
    raise WaitRaced("the refund's poll kept ending while this execution registered")


def require_account(
    accounts: Callable[[], AccountDirectory | None], provider: str, account: str
) -> None:
    """`account_not_found` now for an account without a secret: not a poll that can only
    fail, and nothing registered. (The default account is the stack's own.)"""
    directory = accounts() if account != DEFAULT_ACCOUNT else None
    if directory is not None and not directory.exists(provider, account):
        raise account_not_found(account, provider=provider)


def _overrides(body: str | None) -> dict[str, int]:
    if not body:
        return {}
    try:
        parsed = WatchOverrides.model_validate_json(body)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) or "body" for e in exc.errors()})
        raise InvalidRequest("invalid watch body: " + ", ".join(fields)) from None
    overrides = parsed.model_dump(exclude_none=True)
    if low := override_floors().below(overrides):
        raise InvalidRequest("invalid watch body: below its floor: " + ", ".join(low))
    return overrides


def override_floors() -> OverrideFloors:
    """This function's floors, from its environment (two variables: read per POST, not cached,
    so a test or a redeploy never sees stale ones)."""
    given = {
        field: os.environ[name]
        for field, name in (
            ("first_check_seconds", FIRST_CHECK_FLOOR_ENV),
            ("max_interval_seconds", MAX_INTERVAL_FLOOR_ENV),
        )
        if os.environ.get(name)
    }
    try:
        return OverrideFloors.model_validate(given)
    except ValidationError:
        raise ConfigurationError(
            f"environment variable missing or invalid: {FIRST_CHECK_FLOOR_ENV} or "
            f"{MAX_INTERVAL_FLOOR_ENV}"
        ) from None
