"""The watch endpoints (contract section 5): start a refund's poller once, read its record.

`POST /refunds/{provider}/{refund_id}/watch` starts the poller under a deterministic execution
name, so two starts never run two pollers: Step Functions itself refuses a second execution of
the same name. A settled refund answers its record and polls nothing, unless `?refresh=true`
asks for a new poll, which moves the record to its next poll generation (a new name).
`GET` answers the record, or 404 `watch_not_found`. The same function lists an account's
records (`GET /refunds`, `GET /accounts/{account}/refunds`: refund_core.listing).
"""

# Powertools' route and exception decorators are untyped.
# mypy: disallow-untyped-decorators=False

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, ValidationError

from refund_core.accounts import DEFAULT_ACCOUNT, account_not_found
from refund_core.aws_clients import aws_client
from refund_core.errors import (
    ConfigurationError,
    InvalidRequest,
    RouteNotFound,
    WatchNotFound,
)
from refund_core.http_api import (
    RouteShape,
    answer_api_event,
    count_error,
    install_error_handlers,
    json_response,
    path_account,
    path_refund_id,
)
from refund_core.listing import list_page, parse_list_query
from refund_core.poller.check import RECORDS_TABLE_ENV, shared_records
from refund_core.poller.records import PollingState, RefundRecords, public_record
from refund_core.poller.schedule import OverrideFloors, ScheduleOverrides
from refund_core.providers.registry import PROVIDER_NAMES
from refund_core.settings import required_env
from refund_core.timestamps import utc_now
from refund_core.tracing import traced

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions.client import SFNClient

LambdaHandler = Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]]
POLLER_ARN_ENV = "POLLER_STATE_MACHINE_ARN"
# The template's AccountSecretPrefix: account A at provider P is the secret `{root}/P/A`.
ACCOUNT_SECRET_ROOT_ENV = "ACCOUNT_SECRET_ROOT"  # noqa: S105 - a variable name
# The floors of a POST body's overrides (template parameters PollMin…; unset: no floor).
FIRST_CHECK_FLOOR_ENV = "POLL_MIN_FIRST_CHECK_SECONDS"
MAX_INTERVAL_FLOOR_ENV = "POLL_MIN_INTERVAL_SECONDS"
EXECUTION_NAME_MAX = 80
# A poll that ended without a final status can be started again by a plain POST.
_RESTARTABLE = {
    PollingState.NOT_FOUND,
    PollingState.AUTH_FAILED,
    PollingState.TIMED_OUT,
    PollingState.FAILED,
}


class WatchOverrides(ScheduleOverrides):
    """Optional POST body: the execution input overrides of contract section 5."""

    # Strict, as the execution input's overrides are (ScheduleOverrides); no other field.
    model_config = ConfigDict(extra="forbid")


def execution_name(
    provider: str, refund_id: str, generation: int, account: str = DEFAULT_ACCOUNT
) -> str:
    """The poller execution's name: one name per (provider, account, refund id, poll
    generation), and never the same name for two of them.

    Names keep to `A-Z a-z 0-9 _ -` (anything else turns off the execution's CloudWatch
    logging), the alphabet of refund ids too, so no separator is free: the forms differ in the
    character right after the provider's name (provider names hold neither `_` nor `-`):
    `surecart-re_1` (first poll), `surecart_r1-re_1` (after one refresh), and, for an id too
    long for the 80-character limit, `surecart_h-<sha256>` / `surecart_h1-<sha256>`.
    Another account than `default` is `surecart_astore-42_r0-re_1`: account ids hold no `_`,
    so the first `_` after `_a` ends the account, and `r<n>-` always follows it.
    """
    generation_tag = str(generation) if generation else ""
    if account != DEFAULT_ACCOUNT:
        name = f"{provider}_a{account}_r{generation}-{refund_id}"
        if len(name) <= EXECUTION_NAME_MAX:
            return name
        digest = hashlib.sha256(f"{provider}:{account}:{refund_id}".encode()).hexdigest()[:40]
        return f"{provider}_h{generation_tag}-{digest}"
    if not generation:
        name = f"{provider}-{refund_id}"
    else:
        name = f"{provider}_r{generation_tag}-{refund_id}"
    if len(name) <= EXECUTION_NAME_MAX:
        return name
    digest = hashlib.sha256(f"{provider}:{refund_id}".encode()).hexdigest()[:40]
    return f"{provider}_h{generation_tag}-{digest}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


class Poller:
    """Starts and describes poller executions."""

    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self.state_machine_arn = state_machine_arn

    def start(self, name: str, execution_input: dict[str, Any]) -> tuple[str, bool]:
        """(execution ARN, running?) of the execution called `name`, started if need be."""
        try:
            answer = self._client.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=name,
                input=json.dumps(execution_input, separators=(",", ":")),
            )
            return answer["executionArn"], True
        except self._client.exceptions.ExecutionAlreadyExists:
            arn = execution_arn(self.state_machine_arn, name)
            status = self._client.describe_execution(executionArn=arn)["status"]
            return arn, status == "RUNNING"

    def running(self, arn: str) -> bool:
        """Whether the poller execution `arn` (any name, e.g. one a caller's workflow started
        with `startExecution.sync:2`) is running now. Another state machine's execution, or
        one that does not exist, is not."""
        prefix = execution_arn(self.state_machine_arn, "")
        if not arn.startswith(prefix):
            return False
        try:
            status = self._client.describe_execution(executionArn=arn)["status"]
        except self._client.exceptions.ExecutionDoesNotExist:
            return False
        return status == "RUNNING"


@cache
def shared_poller() -> Poller:
    return Poller(aws_client("stepfunctions"), required_env(POLLER_ARN_ENV))


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
    """Build at import the DynamoDB and Step Functions clients every watch call needs
    (why INIT and not the first call: `refund_core.handler.prepare_first_call`).

    Best effort: without the function's env (a test that sets it later) or a region, the
    clients are left to the first call, whose failure answers configuration_error.
    """
    if not (os.environ.get(RECORDS_TABLE_ENV) and os.environ.get(POLLER_ARN_ENV)):
        return
    with suppress(ConfigurationError):
        shared_records()
        shared_poller()


def build_watch_handler(
    *,
    records: Callable[[], RefundRecords] = shared_records,
    poller: Callable[[], Poller] = shared_poller,
    accounts: Callable[[], AccountDirectory | None] = shared_accounts,
) -> LambdaHandler:
    """The decorated `lambda_handler` of the watch function."""
    logger = Logger()
    metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RefundStatus"))
    if records is shared_records and poller is shared_poller:
        prepare_first_call()
    app = build_watch_api(
        records=records, poller=poller, accounts=accounts, logger=logger, metrics=metrics
    )

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @traced
    @metrics.log_metrics
    def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="WatchRequests", unit=MetricUnit.Count, value=1)
        answer = answer_api_event(app, event, context, logger=logger, metrics=metrics)
        if answer is not None:
            return answer
        refused = InvalidRequest("expected an API Gateway REST proxy event")
        count_error(metrics, refused)
        raise refused

    return cast(LambdaHandler, lambda_handler)


def build_watch_api(
    *,
    records: Callable[[], RefundRecords],
    poller: Callable[[], Poller],
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
        directory = accounts() if account != DEFAULT_ACCOUNT else None
        if directory is not None and not directory.exists(provider, account):
            # Not a poll that can only fail: a 404 now, nothing started.
            raise account_not_found(account, provider=provider)
        store = records()
        record = store.get(provider, refund_id, account=account)
        state = (
            PollingState(record["polling_state"])
            if record and record.get("polling_state")
            else None
        )
        if record and state is PollingState.SETTLED and not refresh:
            return json_response(200, public_record(record))
        started = poller()
        owner = record.get("execution_arn") if record else None
        if state is PollingState.POLLING and isinstance(owner, str) and started.running(owner):
            # Another execution (a caller's workflow may start the poller under its own
            # name) polls this refund now: start nothing, answer that one.
            return json_response(
                202, {"execution_arn": owner, "polling_state": PollingState.POLLING.value}
            )
        generation = int(record.get("poll_generation", 0)) if record else 0
        if record and ((refresh and state is PollingState.SETTLED) or state in _RESTARTABLE):
            generation = store.next_generation(
                provider, refund_id, current=generation, account=account
            )
        execution_input = {
            "provider": provider,
            "account": account,
            "refund_id": refund_id,
            **overrides,
        }
        arn, running = started.start(
            execution_name(provider, refund_id, generation, account), execution_input
        )
        if not running:
            # The named execution already ended (its record not yet saying so): a new one.
            generation = store.next_generation(
                provider, refund_id, current=generation, account=account
            )
            arn, running = started.start(
                execution_name(provider, refund_id, generation, account), execution_input
            )
        store.note_watch_started(
            provider, refund_id, execution_arn=arn, at=utc_now(), account=account
        )
        logger.info(
            "watch started",
            extra={"execution_arn": arn, "refund_id": refund_id, "account": account},
        )
        return json_response(
            202, {"execution_arn": arn, "polling_state": PollingState.POLLING.value}
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
