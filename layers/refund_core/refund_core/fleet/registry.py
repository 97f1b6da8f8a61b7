"""The fleet's queues in the records table: where each watched refund stands in its account's.

A refund is in the fleet while its record has `due_queue` and `due_at_ms` (the sparse `due`
index: one partition per account, sorted by the next check's time). Every move is conditional
on the poll (`poll_execution`) and, for a reschedule, on the due time the batch read, so a
late batch can neither revive a poll that ended nor undo a newer reschedule.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from refund_core.errors import InvalidRequest
from refund_core.fleet.waiters import MOST_WAITERS, Waiter
from refund_core.model import Refund
from refund_core.poller.records import (
    PollingState,
    WriteOutcome,
    from_dynamodb,
    is_transaction_conflict,
    observation_write,
    record_key,
    to_dynamodb,
)
from refund_core.timestamps import format_rfc3339

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

DUE_INDEX: Final = "due"
QUEUE: Final = "due_queue"
DUE_AT: Final = "due_at_ms"
# The queues that ever held a refund, one item (`~` is in no provider name): the scheduler's
# list of batches to run. An account's queue stays listed when empty: one cheap query a tick.
QUEUES_KEY: Final = {"pk": {"S": "~fleet#queues"}}


def queue_name(provider: str, account: str) -> str:
    """The queue of one account at one provider."""
    return f"{provider}#{account}"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class DueRefund:
    """A refund whose check is due, as its account's queue holds it."""

    provider: str
    account: str
    refund_id: str
    poll_id: str
    poll_started_at: datetime
    due_at_ms: int
    # The caller's schedule overrides from the registration (ScheduleOverrides' fields).
    overrides: Mapping[str, Any]
    transient_failures: int = 0
    # The provider calls this poll made so far (its max_checks budget).
    poll_checks: int = 0
    # The status the record holds (None before the first observation).
    status: str | None = None


@dataclass(frozen=True)
class Registration:
    """What registering answered: whether this call registered, and the poll that stands."""

    registered: bool
    polling_state: str
    next_check_at: datetime | None


class FleetRegistry:
    """The fleet's view of the records table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def register(
        self,
        provider: str,
        refund_id: str,
        *,
        account: str,
        overrides: Mapping[str, Any],
        now: datetime,
        first_check_at: datetime | None = None,
        waiter: Waiter | None = None,
    ) -> Registration:
        """Put the refund in its account's queue, due at `first_check_at` (default `now`),
        unless the fleet polls it already: then nothing changes and that poll answers. (A
        record `polling` outside the fleet, an older poller execution's, is taken over.)
        A `waiter` is told when this poll ends."""
        due = first_check_at or now
        queue = queue_name(provider, account)
        values: dict[str, Any] = {}
        if waiter is None:
            # Nobody waits on this poll. (Waiters of a poll that ended without being told,
            # if any, stay and are told when this one ends.)
            waiting = " REMOVE #failure, execution_arn"
        else:
            waiting = (
                ", waiters = list_append(if_not_exists(waiters, :none), :waiter),"
                " execution_arn = :arn REMOVE #failure"
            )
            values = _waiter_values(waiter)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=record_key(provider, refund_id, account),
                UpdateExpression=(
                    "SET polling_state = :polling, poll_execution = :poll, poll_checks = :zero,"
                    " poll_started_at = :now, watch_overrides = :overrides,"
                    f" {QUEUE} = :queue, {DUE_AT} = :due, transient_failures = :zero,"
                    " provider = :provider, refund_id = :refund_id, account = :account,"
                    " checks = if_not_exists(checks, :zero), polling_state_at = :now" + waiting
                ),
                ConditionExpression=(
                    "attribute_not_exists(polling_state) OR polling_state <> :polling"
                    f" OR attribute_not_exists({QUEUE})"
                ),
                ExpressionAttributeNames={"#failure": "error"},
                ExpressionAttributeValues={
                    ":polling": {"S": PollingState.POLLING.value},
                    ":poll": {"S": f"fleet:{uuid.uuid4()}"},
                    ":zero": {"N": "0"},
                    ":now": {"S": format_rfc3339(now)},
                    ":overrides": {"M": to_dynamodb(dict(overrides))},
                    ":queue": {"S": queue},
                    ":due": {"N": str(epoch_ms(due))},
                    ":provider": {"S": provider},
                    ":refund_id": {"S": refund_id},
                    ":account": {"S": account},
                    **values,
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as refused:
            stored = from_dynamodb(cast(dict[str, Any], refused.response.get("Item") or {}))
            return Registration(False, str(stored.get("polling_state")), _due_time(stored))
        self._client.update_item(
            TableName=self._table,
            Key=QUEUES_KEY,
            UpdateExpression="ADD queues :queue",
            ExpressionAttributeValues={":queue": {"SS": [queue]}},
        )
        # (As stored: to the millisecond, so a second POST answers the same time.)
        stored_due = datetime.fromtimestamp(epoch_ms(due) / 1000, tz=UTC)
        return Registration(True, PollingState.POLLING.value, stored_due)

    def join(self, provider: str, refund_id: str, *, account: str, waiter: Waiter) -> bool:
        """Add `waiter` to the fleet's poll of the refund; False when no such poll stands (it
        ended meanwhile: register a new one). Refused past MOST_WAITERS (InvalidRequest)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=record_key(provider, refund_id, account),
                UpdateExpression=(
                    "SET waiters = list_append(if_not_exists(waiters, :none), :waiter),"
                    " execution_arn = :arn"
                ),
                ConditionExpression=(
                    f"polling_state = :polling AND attribute_exists({QUEUE})"
                    " AND (attribute_not_exists(waiters) OR size(waiters) < :most)"
                ),
                ExpressionAttributeValues={
                    ":polling": {"S": PollingState.POLLING.value},
                    ":most": {"N": str(MOST_WAITERS)},
                    **_waiter_values(waiter),
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as refused:
            stored = from_dynamodb(cast(dict[str, Any], refused.response.get("Item") or {}))
            if stored.get(QUEUE) and len(stored.get("waiters") or []) >= MOST_WAITERS:
                raise InvalidRequest(
                    f"{MOST_WAITERS} executions wait on this refund already", provider=provider
                ) from None
            return False
        return True

    def queues(self) -> list[tuple[str, str]]:
        """Every (provider, account) queue that ever held a refund."""
        item = self._client.get_item(TableName=self._table, Key=QUEUES_KEY).get("Item") or {}
        names = sorted(item.get("queues", {}).get("SS", []))
        return [(name.split("#", 1)[0], name.split("#", 1)[1]) for name in names]

    def due(
        self,
        provider: str,
        account: str,
        *,
        now: datetime,
        limit: int,
        start_key: Mapping[str, Any] | None = None,
    ) -> tuple[list[DueRefund], Mapping[str, Any] | None]:
        """The account's refunds due by `now`, oldest due first, a page of at most `limit`,
        and the key the next page starts from (None after the last)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": DUE_INDEX,
            "KeyConditionExpression": f"{QUEUE} = :queue AND {DUE_AT} <= :now",
            "ExpressionAttributeValues": {
                ":queue": {"S": queue_name(provider, account)},
                ":now": {"N": str(epoch_ms(now))},
            },
            "ScanIndexForward": True,
            "Limit": limit,
        }
        if start_key:
            request["ExclusiveStartKey"] = dict(start_key)
        answer = self._client.query(**request)
        found = [_due_refund(from_dynamodb(item)) for item in answer.get("Items", [])]
        return found, answer.get("LastEvaluatedKey")

    def reschedule(
        self, due: DueRefund, *, at: datetime, transient_failures: int = 0, calls: int = 1
    ) -> bool:
        """Move the refund to `at` in its queue, counting the `calls` its check made; False
        when its poll ended or moved meanwhile."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=record_key(due.provider, due.refund_id, due.account),
                UpdateExpression=(
                    f"SET {DUE_AT} = :at, transient_failures = :failures, poll_checks = :calls"
                ),
                ConditionExpression=f"poll_execution = :poll AND {DUE_AT} = :was",
                ExpressionAttributeValues={
                    ":at": {"N": str(epoch_ms(at))},
                    ":failures": {"N": str(transient_failures)},
                    ":calls": {"N": str(due.poll_checks + calls)},
                    ":poll": {"S": due.poll_id},
                    ":was": {"N": str(due.due_at_ms)},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def refresh(
        self, due: DueRefund, refund: Refund, *, checked_at: datetime, at: datetime
    ) -> bool:
        """One write for a check that saw nothing new: the record's refresh (section 5's rules:
        same status, a newer observation) and the refund's move to `at`, both conditional;
        False when either does not hold (then the record's own writes decide)."""
        from botocore.exceptions import ClientError

        request = observation_write(WriteOutcome.REFRESHED, refund, None, checked_at)
        request["UpdateExpression"] += (
            f", {DUE_AT} = :at, transient_failures = :zero, poll_checks = :calls"
        )
        request["ConditionExpression"] = (
            f"({request['ConditionExpression']}) AND poll_execution = :poll AND {DUE_AT} = :was"
        )
        request["ExpressionAttributeValues"] |= {
            ":at": {"N": str(epoch_ms(at))},
            ":calls": {"N": str(due.poll_checks + 1)},
            ":poll": {"S": due.poll_id},
            ":was": {"N": str(due.due_at_ms)},
        }
        try:
            self._client.update_item(
                TableName=self._table,
                Key=record_key(due.provider, due.refund_id, due.account),
                **request,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        except ClientError as error:
            if is_transaction_conflict(error):  # a transaction holds the item: the long way
                return False
            raise
        return True

    def retire(self, due: DueRefund) -> list[str]:
        """Take the refund out of its queue (its poll ended: settled, or a named failure),
        and its waiters' tokens off the record in the same write: each is answered once."""
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=record_key(due.provider, due.refund_id, due.account),
                UpdateExpression=(
                    f"REMOVE {QUEUE}, {DUE_AT}, transient_failures, waiters, execution_arn"
                ),
                ConditionExpression="poll_execution = :poll",
                ExpressionAttributeValues={":poll": {"S": due.poll_id}},
                ReturnValues="UPDATED_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return []  # a newer poll owns the refund now: its place (and waiters) stand
        waiters = answer.get("Attributes", {}).get("waiters", {}).get("L", [])
        return [entry["M"]["token"]["S"] for entry in waiters if "M" in entry]


def _waiter_values(waiter: Waiter) -> dict[str, Any]:
    return {
        ":none": {"L": []},
        ":waiter": {
            "L": [
                {"M": {"token": {"S": waiter.token}, "execution_arn": {"S": waiter.execution_arn}}}
            ]
        },
        ":arn": {"S": waiter.execution_arn},
    }


def _due_time(stored: Mapping[str, Any]) -> datetime | None:
    if stored.get(DUE_AT) is None:
        return None
    return datetime.fromtimestamp(int(stored[DUE_AT]) / 1000, tz=UTC)


def _due_refund(item: Mapping[str, Any]) -> DueRefund:
    return DueRefund(
        provider=str(item["provider"]),
        account=str(item["account"]),
        refund_id=str(item["refund_id"]),
        poll_id=str(item["poll_execution"]),
        poll_started_at=datetime.fromisoformat(str(item["poll_started_at"])),
        due_at_ms=int(item[DUE_AT]),
        overrides=dict(item.get("watch_overrides") or {}),
        transient_failures=int(item.get("transient_failures") or 0),
        poll_checks=int(item.get("poll_checks") or 0),
        status=None if item.get("status") is None else str(item["status"]),
    )
