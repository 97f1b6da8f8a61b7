"""Workflows that wait on a refund (`states:startExecution.sync:2` on the refund poller).

The refund poller is one task: `lambda:invoke.waitForTaskToken` of the watch function with
`{"fleet_wait": {"watch": <the execution input>, "task_token", "execution_arn"}}`. The watch
function registers the refund with the fleet (or joins the poll that stands) and puts the
token on the record's `waiters`; the execution then waits, costing no transition. When the
fleet's batch ends the poll it takes the waiters off the record, in the same conditional
write that retires the refund, and answers each: `SendTaskSuccess` with the normalized refund
(the execution's output, as section 5 says), or `SendTaskFailure` with the poll's named
failure and a fixed cause. So an execution costs the same few transitions for a refund that
settles in a minute or in a month.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from refund_core.errors import InvalidRequest

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

    from refund_core.fleet.batch import CheckResult
else:
    SFNClient = Any

logger = Logger(child=True)

WAIT_KEY: Final = "fleet_wait"
# How many executions may wait on one refund's poll: each token is up to 2 KB of the
# record's 400 KB, and more waiters than this on one refund is a caller's loop, not a need.
MOST_WAITERS: Final = 50

# What a failed execution (and a caller's .sync task) says, per error. Fixed sentences: the
# check's own message stays in the record, where GET …/watch shows it.
_SEE_RECORD = "GET /refunds/{provider}/{refund_id}/watch answers the refund's record."
FAIL_CAUSES: Final[Mapping[str, str]] = {
    "RefundNotFound": (
        "The provider still does not know this refund after the not-found grace period. "
        + _SEE_RECORD
    ),
    "ProviderAuthFailed": (
        "The provider rejected the service's credentials, so the refund cannot be polled. "
        + _SEE_RECORD
    ),
    "RefundPollingTimedOut": (
        "The polling budget (time or provider calls) ran out before the refund reached a "
        "final status. " + _SEE_RECORD
    ),
}
OTHER_CAUSE: Final = (
    "A poll check failed with this error (e.g. ConfigurationError: the provider's secret "
    "is missing or malformed), so the refund cannot be polled. " + _SEE_RECORD
)
# A token Step Functions no longer waits on: its execution ended (stopped, timed out) or it
# was answered already. Nothing to tell, and no reason to fail the batch.
_GONE: Final = frozenset({"TaskDoesNotExist", "TaskTimedOut", "InvalidToken"})


class WaitRaced(Exception):
    """The refund's poll ended each time an execution tried to join it (the poller's task
    retries this)."""


@dataclass(frozen=True)
class Waiter:
    """One waiting execution: the task token to answer, and the execution it belongs to."""

    token: str
    execution_arn: str


class _WaitEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    watch: Any
    # Step Functions' own limits on a token and an ARN.
    task_token: str = Field(min_length=1, max_length=2048)
    execution_arn: str = Field(min_length=1, max_length=2048, pattern=r"^arn:")


def is_fleet_wait(event: Any) -> bool:
    return isinstance(event, Mapping) and WAIT_KEY in event


def parse_wait(event: Mapping[str, Any]) -> tuple[Mapping[str, Any], Waiter]:
    """The execution input (validated by the caller, as a POST body is) and its waiter."""
    try:
        wait = _WaitEvent.model_validate(event.get(WAIT_KEY))
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in e["loc"]) for e in exc.errors()})
        raise InvalidRequest("invalid fleet wait: " + ", ".join(fields or ["fleet_wait"])) from None
    if not isinstance(wait.watch, Mapping):
        raise InvalidRequest("invalid poller input: not an object")
    return wait.watch, Waiter(wait.task_token, wait.execution_arn)


def failure_cause(error: str) -> str:
    return FAIL_CAUSES.get(error, OTHER_CAUSE)


def notify_waiters(client: SFNClient, result: CheckResult, waiters: Sequence[str]) -> int:
    """Answer each waiting execution with the poll's end; how many could not be told (a
    Step Functions error other than the token being gone, after the SDK's own retries)."""
    failed = 0
    for token in waiters:
        try:
            if result.refund is not None:
                client.send_task_success(taskToken=token, output=json.dumps(result.refund))
            else:
                error = result.error or "CheckFailed"
                client.send_task_failure(taskToken=token, error=error, cause=failure_cause(error))
        except client.exceptions.ClientError as problem:
            code = problem.response.get("Error", {}).get("Code", "")
            if code in _GONE:
                continue
            failed += 1
            logger.error(
                "a waiting execution could not be told",
                extra={"refund_id": result.due.refund_id, "error_code": code},
            )
    return failed
