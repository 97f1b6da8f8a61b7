"""One poller check, run by the provider's own function when Step Functions invokes it.

The state machine passes the execution's merged settings (per-provider defaults from the
template, overridden by the execution input), its ARN and its start time. The check asks the
provider, stores the observation (the record's write rules decide what sticks), and then:

- returns the normalized refund when it is final: the execution succeeds with it;
- raises `RefundPendingWait<N>` otherwise, N being the next wait (one Retry attempt);
- raises `RefundNotFound`, `ProviderAuthFailed` or `RefundPollingTimedOut` to end the poll,
  marking the record first;
- raises provider trouble (429, 5xx, timeouts, garbage) as is, for the state machine's short
  retry schedule: counted on the record, never changing its status;
- raises any other error (ConfigurationError, a bug) as is, marking the record `failed` with
  `error: {code, message, at}` first: the execution fails with that error's name.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from refund_core.accounts import DEFAULT_ACCOUNT, is_account_id
from refund_core.aws_clients import aws_client
from refund_core.clients import ProviderClients
from refund_core.errors import (
    InvalidRequest,
    ProviderAuthFailed,
    ProviderError,
    RefundNotFound,
    RefundPollingTimedOut,
    RefundServiceError,
)
from refund_core.ids import validate_refund_id
from refund_core.model import Refund
from refund_core.poller.records import PollingState, RefundRecords
from refund_core.poller.schedule import (
    OverrideFloors,
    PollSchedule,
    ScheduleOverrides,
    next_wait_seconds,
    pending_error,
    wait_within_budget,
)
from refund_core.settings import required_env
from refund_core.timestamps import utc_now

RECORDS_TABLE_ENV = "RECORDS_TABLE_NAME"
logger = Logger(child=True)
# What an execution's input may set (contract section 5): provider, refund_id and the fields
# of ScheduleOverrides; the rest of the schedule (age ratio, jitter, call budget) is the
# template's, so no caller can loosen the delay and cost bounds.


class WatchSettings(PollSchedule):
    """The execution input merged over the provider's defaults."""

    provider: str
    refund_id: str
    # The merchant account (contract section 6): absent or null is `default`.
    account: str = DEFAULT_ACCOUNT


class PollCheckEvent(BaseModel):
    """What the state machine's check task sends (see statemachine/refund_poller.asl.json)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    watch: WatchSettings
    # The execution that owns the record, when one does (Step Functions' own limit on an
    # ARN; the record stores it). The fleet's checks have none.
    execution_arn: str | None = Field(default=None, min_length=1, max_length=2048, pattern=r"^arn:")
    # Which poll this check belongs to (its call budget restarts with each poll): a poller
    # execution's ARN, or the fleet registration's id.
    poll_id: str = Field(default="", max_length=2048)
    # When the poll started: `$$.Execution.StartTime` always carries its zone, and a naive
    # time cannot be compared.
    execution_started_at: AwareDatetime

    @model_validator(mode="after")
    def _poll_is_named(self) -> PollCheckEvent:
        if not self.poll_id:
            if self.execution_arn is None:
                raise ValueError("a poll check needs poll_id or execution_arn")
            object.__setattr__(self, "poll_id", self.execution_arn)
        return self

    @classmethod
    def parse(cls, event: Any) -> PollCheckEvent:
        """The task payload: `watch` (the execution input) over `defaults` (the template's)."""
        if not isinstance(event, dict):
            raise InvalidRequest("invalid poll check: not an object")
        defaults, watch = event.get("defaults") or {}, event.get("watch")
        merged = dict(event)
        try:
            if isinstance(defaults, dict) and isinstance(watch, dict):
                # The caller's overrides follow the POST body's rules (strict integers, null
                # is absent); the template's defaults arrive as strings from the ASL's
                # DefinitionSubstitutions and are parsed leniently below.
                account = watch.get("account")
                if account is not None and not is_account_id(account):
                    raise InvalidRequest("invalid poll check: watch.account")
                chosen = {
                    "provider": watch.get("provider"),
                    "refund_id": watch.get("refund_id"),
                    "account": account or DEFAULT_ACCOUNT,
                    **ScheduleOverrides.model_validate(watch).model_dump(exclude_none=True),
                }
                floors = OverrideFloors(
                    first_check_seconds=defaults.get("first_check_floor_seconds", 1),
                    max_interval_seconds=defaults.get("max_interval_floor_seconds", 1),
                )
                if low := floors.below(chosen):
                    raise InvalidRequest(
                        "invalid poll check: below its floor: "
                        + ", ".join(f"watch.{item}" for item in low)
                    )
                merged["watch"] = {**defaults, **chosen}
                if "first_check_seconds" in chosen:
                    # A shortened run (demo, tests) looks for a missing refund a few checks
                    # long, not the template's minutes.
                    merged["watch"]["not_found_grace_seconds"] = _shortened_grace(
                        defaults.get("not_found_grace_seconds"), chosen["first_check_seconds"]
                    )
            return cls.model_validate(merged)
        except ValidationError as exc:
            fields = sorted({_field(exc.title, e["loc"]) for e in exc.errors()})
            raise InvalidRequest("invalid poll check: " + ", ".join(fields[:10])) from None


def _field(model: str, loc: tuple[int | str, ...]) -> str:
    # A caller's override is named where it was given: watch.<field> (the execution input).
    prefix = ("watch",) if model == ScheduleOverrides.__name__ else ()
    return ".".join(map(str, (*prefix, *loc)))


def _shortened_grace(default: Any, first_check: Any) -> Any:
    try:
        return min(int(default if default is not None else 300), 3 * int(first_check))
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        return default  # left for validation to refuse with a clear error


def _mark_failed(
    records: RefundRecords,
    provider: str,
    refund_id: str,
    error: Exception,
    *,
    at: datetime,
    execution_arn: str | None,
    poll_id: str,
    account: str,
) -> None:
    """A check failed with none of the named outcomes (ConfigurationError, a bug): the
    execution fails with it, and the record says so instead of `polling` forever.

    Our errors' messages are written to be shown (never a secret); anything else is named by
    its type only. Best effort: the original error is what the execution must fail with.
    """
    if isinstance(error, RefundServiceError):
        code, message = error.code, error.message
    else:
        code = RefundServiceError.code
        message = f"unexpected {type(error).__name__} while checking the refund"
    with suppress(Exception):
        records.mark_polling_state(
            provider,
            refund_id,
            PollingState.FAILED,
            at=at,
            execution_arn=execution_arn,
            poll_id=poll_id,
            error=code,
            message=message[:500],
            account=account,
        )


@cache
def shared_records() -> RefundRecords:
    """The records table of this execution environment, named by `RECORDS_TABLE_NAME`."""
    return RefundRecords(aws_client("dynamodb"), required_env(RECORDS_TABLE_ENV))


def run_check(
    event: PollCheckEvent,
    *,
    provider: str,
    clients: ProviderClients,
    records: RefundRecords,
    time_left_seconds: float | None = None,
    now: Callable[[], datetime] = utc_now,
    uniform: Callable[[float, float], float] | None = None,
    rate_wait_seconds: float | None = None,
    rate_ahead_seconds: float = 0.0,
    calls: int | None = None,
    refresh: Callable[[Refund, int], bool] | None = None,
) -> dict[str, Any]:
    """Check the refund once; the refund JSON when final, else raise (see module docstring).

    `calls`: this check's number in its poll, when the caller knows it (the fleet's due index
    carries the count); otherwise the record counts it (`begin_check`). `refresh(refund,
    wait)`: the fleet's one write for a check that sees nothing new (the observation and the
    refund's next place together); False when it did not apply, and the record's own write
    rules decide instead."""
    from refund_core.poller.schedule import default_uniform

    watch = event.watch
    if watch.provider != provider:
        raise InvalidRequest(f"this poller check is for {provider}, not another provider")
    refund_id = validate_refund_id(watch.refund_id, provider=provider)
    account = watch.account
    arn, poll = event.execution_arn, event.poll_id
    age = (now() - event.execution_started_at).total_seconds()

    def count_failed_check(error: RefundServiceError) -> None:
        records.count_check(
            provider,
            refund_id,
            checked_at=now(),
            error_code=error.code,
            execution_arn=arn,
            account=account,
        )

    def end_poll(state: PollingState, code: str) -> None:
        records.mark_polling_state(
            provider,
            refund_id,
            state,
            at=now(),
            execution_arn=arn,
            poll_id=poll,
            account=account,
            code=code,
        )

    def mark_failed(error: Exception) -> None:
        _mark_failed(
            records,
            provider,
            refund_id,
            error,
            at=now(),
            execution_arn=arn,
            poll_id=poll,
            account=account,
        )

    if calls is None:
        calls = records.begin_check(
            provider, refund_id, poll_id=poll, execution_arn=arn, account=account
        )
    if age >= watch.budget_seconds or calls > watch.max_checks:
        end_poll(PollingState.TIMED_OUT, RefundPollingTimedOut.code)
        raise RefundPollingTimedOut(
            f"gave up after {calls - 1} checks and {age:.0f} s without a final status",
            provider=provider,
        )

    try:
        refund = clients.fetch_refund(
            refund_id,
            account=account,
            time_left_seconds=time_left_seconds,
            rate_wait_seconds=rate_wait_seconds,
            rate_ahead_seconds=rate_ahead_seconds,
        )
    except RefundNotFound as error:
        count_failed_check(error)
        if age < watch.not_found_grace_seconds:
            # A new refund can be invisible for a moment: look again soon, then give up.
            wait = min(watch.first_check_seconds, watch.not_found_grace_seconds - age)
            wait = wait_within_budget(wait, age, watch)
            raise pending_error(wait, "not visible at the provider yet") from None
        end_poll(PollingState.NOT_FOUND, error.code)
        raise
    except ProviderAuthFailed as error:
        count_failed_check(error)
        end_poll(PollingState.AUTH_FAILED, error.code)
        raise
    except ProviderError as error:
        count_failed_check(error)
        raise
    except Exception as error:
        mark_failed(error)
        raise

    wait = 0
    refreshed = False
    if not refund.status.terminal:
        wait = next_wait_seconds(age, watch, uniform=uniform or default_uniform)
        # Never sleep past the budget: the check after it ends the poll on time.
        wait = wait_within_budget(wait, age, watch)
        refreshed = refresh is not None and refresh(refund, wait)
    if not refreshed:
        try:
            written = records.record_observation(refund, execution_arn=arn, checked_at=now())
        except Exception as error:
            mark_failed(error)
            raise
        if written.replaced_final is not None:
            logger.warning(
                "a final status was replaced by a newer, different final status",
                extra={
                    "refund_id": refund_id,
                    "from_status": written.replaced_final.value,
                    "to_status": refund.status.value,
                    "execution_arn": arn,
                },
            )
    if refund.status.terminal:
        return refund.to_json_dict()
    raise pending_error(wait, f"refund is {refund.status.value}; next check in {wait} s")
