"""The refund record in DynamoDB (contract section 5), written only through conditions.

One item per refund. The write rules are DynamoDB `ConditionExpression`s, never a read followed
by a write, so two pollers (or a late, slow check) racing each other cannot break them:

- a terminal status is never replaced by a non-terminal one;
- `unknown` never replaces a known status (it still counts as a check);
- an older observation never overwrites a newer one (observations carry their time);
- a newer terminal status replaces an older, different terminal one (e.g. `canceled` ->
  `succeeded`); a late `succeeded` -> `failed` is also flagged `late_failure`;
- every status change appends `{status, provider_status, at}` to `history`;
- every check bumps `checks` and `last_checked_at`, whatever it saw;
- every change of status or polling state sets `changed_us`, the sort key of the index that
  lists an account's records newest first (`RefundRecords.list_records`).

An observation is tried as the most likely write first (a refresh of the same status), and the
condition-failure answer (`ReturnValuesOnConditionCheckFailure=ALL_OLD`) picks the next one.

Every write that appends to `history`, and every end of a poll without a final status, is a
`TransactWriteItems` with the refund's outbox item (`refund_core.events.outbox`): the event
exists if and only if the change was stored. Its `sequence` is the new entry's position, known
from the refused write's old item and held by a condition on the history's size, so a writer
that raced this one makes the transaction fail instead of numbering two changes alike.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from refund_core.accounts import DEFAULT_ACCOUNT
from refund_core.events.model import EndedPollingState, polling_ended, status_changed
from refund_core.events.outbox import outbox_write
from refund_core.model import Refund, RefundStatus
from refund_core.timestamps import format_rfc3339

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# One write per rule that could apply; more only when other writers keep racing this one.
_MAX_ATTEMPTS = 6
# Settled records stay queryable for months, then DynamoDB's TTL removes them.
RECORD_RETENTION = timedelta(days=180)
# The template's index of each account's records by their last change (template.yaml).
CHANGES_INDEX = "by-account-changed"


class PollingState(StrEnum):
    POLLING = "polling"
    SETTLED = "settled"
    NOT_FOUND = "not_found"
    AUTH_FAILED = "auth_failed"
    TIMED_OUT = "timed_out"
    FAILED = "failed"  # a check failed with an error that is none of the above


class WriteOutcome(StrEnum):
    """What an observation did to the record."""

    CREATED = "created"
    REFRESHED = "refreshed"  # same status, newer data
    CHANGED = "changed"  # a new status, appended to history
    LATE_FAILURE = "late_failure"  # succeeded -> failed
    COUNTED = "counted"  # kept out by a rule (stale, unknown, regression): only counted


@dataclass(frozen=True)
class WriteResult:
    outcome: WriteOutcome
    checks: int
    status: RefundStatus
    # The final status this write replaced with another final one (canceled -> succeeded,
    # succeeded -> failed...): worth a warning, providers rarely do it.
    replaced_final: RefundStatus | None = None


def record_key(provider: str, refund_id: str, account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
    """`provider#refund_id` for the default account (its records predate accounts and keep
    their keys), `provider#account#refund_id` for any other. Neither part holds `#`, so the
    number of `#` tells the forms apart: no two (provider, account, refund) share a key."""
    if account == DEFAULT_ACCOUNT:
        return {"pk": {"S": f"{provider}#{refund_id}"}}
    return {"pk": {"S": f"{provider}#{account}#{refund_id}"}}


def _identity_values(provider: str, refund_id: str, account: str) -> dict[str, Any]:
    """The record's own identity attributes, written by every write (so any write may be the
    first and a list or index can read them)."""
    return {
        ":provider": {"S": provider},
        ":refund_id": {"S": refund_id},
        ":account": {"S": account},
    }


_IDENTITY_SETS = (
    "provider = if_not_exists(provider, :provider)",
    "refund_id = if_not_exists(refund_id, :refund_id)",
    "account = if_not_exists(account, :account)",
)


def _epoch_micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class RefundRecords:
    """Reads and conditionally writes refund records in one DynamoDB table."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    # --- writes ----------------------------------------------------------------------------

    def record_observation(
        self, refund: Refund, *, execution_arn: str | None, checked_at: datetime
    ) -> WriteResult:
        """Store what a check saw, within the write rules; always counts the check."""
        # Most checks see the status the record already has: try that write first, and let
        # the item a refused write returns decide the next one (at most one per rule).
        attempt: WriteOutcome | None = WriteOutcome.REFRESHED
        current: Mapping[str, Any] = {}
        for _ in range(_MAX_ATTEMPTS):
            if attempt is None:
                break
            if attempt is WriteOutcome.REFRESHED:
                checks, refused = self._try(
                    refund, execution_arn=execution_arn, checked_at=checked_at
                )
            else:
                checks, refused = self._try_change(
                    attempt, refund, current, execution_arn=execution_arn, checked_at=checked_at
                )
            if checks is not None:
                # (`current` is what the refused write saw: the status this one replaced.)
                stored = current.get("status", {}).get("S")
                replaced = RefundStatus(stored) if stored else None
                if replaced is None or not replaced.terminal or replaced is refund.status:
                    replaced = None
                return WriteResult(attempt, checks, refund.status, replaced_final=replaced)
            if refused is None:  # a transaction in flight on the item: look again
                attempt = WriteOutcome.REFRESHED
                continue
            current = refused
            attempt = _next_attempt(refund, current)
        stored = current.get("status", {}).get("S")
        checks = self.count_check(
            refund.provider,
            refund.refund_id,
            account=refund.account,
            checked_at=checked_at,
            error_code=None,
            execution_arn=execution_arn,
        )
        return WriteResult(
            WriteOutcome.COUNTED, checks, RefundStatus(stored) if stored else refund.status
        )

    def begin_check(
        self,
        provider: str,
        refund_id: str,
        *,
        poll_id: str,
        execution_arn: str | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> int:
        """Count one more provider call for the poll `poll_id`; the calls made by this poll.

        The count restarts with each poll (a refresh poll gets a fresh budget), decided by a
        condition on the stored poll, not by a read. `execution_arn`: the execution that owns
        the record, when one does (a poller execution's id is its ARN).
        """
        key = record_key(provider, refund_id, account)
        values = {":poll": {"S": poll_id}, ":one": {"N": "1"}}
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET poll_checks = poll_checks + :one",
                ConditionExpression="poll_execution = :poll",
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            owner = ""
            if execution_arn is not None:
                owner = " execution_arn = :arn,"
                values[":arn"] = {"S": execution_arn}
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression=(
                    f"SET poll_execution = :poll, poll_checks = :one,{owner}"
                    " polling_state = :polling, provider = :provider, refund_id = :refund_id,"
                    " account = :account REMOVE #failure"
                ),
                # The previous poll's failure is not this one's.
                ExpressionAttributeNames={"#failure": "error"},
                ExpressionAttributeValues={
                    **values,
                    ":polling": {"S": PollingState.POLLING.value},
                    **_identity_values(provider, refund_id, account),
                },
            )
            # A new execution's first call; UPDATED_NEW would omit an attribute whose value
            # did not change (a reset from 1 to 1), so the count is not read back.
            return 1
        return int(answer["Attributes"]["poll_checks"]["N"])

    def count_check(
        self,
        provider: str,
        refund_id: str,
        *,
        checked_at: datetime,
        error_code: str | None,
        execution_arn: str | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> int:
        """A check that changes nothing but the counters (an error, or an observation the
        rules kept out). `last_checked_at` only moves forward."""
        names = {"#checks": "checks", "#last": "last_checked_at", "#last_us": "last_checked_us"}
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":zero": {"N": "0"},
            ":now": {"S": format_rfc3339(checked_at)},
            ":now_us": {"N": str(_epoch_micros(checked_at))},
            **_identity_values(provider, refund_id, account),
        }
        sets = [
            "#checks = if_not_exists(#checks, :zero) + :one",
            *_IDENTITY_SETS,
            "first_checked_at = if_not_exists(first_checked_at, :now)",
        ]
        if error_code is not None:
            sets += ["last_error = :error", "last_error_at = :now"]
            values[":error"] = {"S": error_code}
        if execution_arn is not None:
            sets.append("execution_arn = if_not_exists(execution_arn, :arn)")
            values[":arn"] = {"S": execution_arn}
        forward = [*sets, "#last = :now", "#last_us = :now_us"]
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=record_key(provider, refund_id, account),
                UpdateExpression="SET " + ", ".join(forward),
                ConditionExpression="attribute_not_exists(#last_us) OR #last_us < :now_us",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            # An older check arriving late: count it, leave last_checked_at where it is.
            answer = self._client.update_item(
                TableName=self._table,
                Key=record_key(provider, refund_id, account),
                UpdateExpression="SET " + ", ".join(sets),
                ExpressionAttributeNames={"#checks": "checks"},
                ExpressionAttributeValues={k: v for k, v in values.items() if k != ":now_us"},
                ReturnValues="UPDATED_NEW",
            )
        return int(answer["Attributes"]["checks"]["N"])

    def mark_polling_state(
        self,
        provider: str,
        refund_id: str,
        state: PollingState,
        *,
        at: datetime,
        execution_arn: str | None = None,
        poll_id: str | None = None,
        error: str | None = None,
        message: str | None = None,
        code: str | None = None,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        """The poll ended without settling (not found, auth failed, timed out, failed).

        `poll_id` names the poll (default: `execution_arn`, a poller execution's id), so the
        same poll ending again publishes nothing new.

        `error` (a contract error code) goes to `last_error`; with `message` as well, the
        record also gets `error: {code, message, at}` (the `failed` state says why).
        A settled record is never moved to another polling state: what was settled stays so.
        The change publishes one `Refund Polling Ended` with `code` (default: `error`).
        """
        names = {"#state": "polling_state"}
        values: dict[str, Any] = {
            ":state": {"S": state.value},
            ":settled": {"S": PollingState.SETTLED.value},
            ":at": {"S": format_rfc3339(at)},
            ":at_us": {"N": str(_epoch_micros(at))},
            ":expires": {"N": str(int((at + RECORD_RETENTION).timestamp()))},
            **_identity_values(provider, refund_id, account),
        }
        sets = [
            "#state = :state",
            "polling_state_at = :at",
            "changed_us = :at_us",
            "expires_at = :expires",
            *_IDENTITY_SETS,
        ]
        if execution_arn is not None:
            sets.append("execution_arn = :arn")
            values[":arn"] = {"S": execution_arn}
        if error is not None:
            sets.append("last_error = :error")
            values[":error"] = {"S": error}
        if error is not None and message is not None:
            names["#failure"] = "error"
            sets.append("#failure = :failure")
            values[":failure"] = {
                "M": {"code": {"S": error}, "message": {"S": message}, "at": values[":at"]}
            }
        key = record_key(provider, refund_id, account)
        for _ in range(_MAX_ATTEMPTS):
            stored = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get(
                "Item", {}
            )
            if stored.get("polling_state", {}).get("S") == PollingState.SETTLED.value:
                return
            seen = len(stored.get("history", {}).get("L", []))
            request: dict[str, Any] = {
                "UpdateExpression": "SET " + ", ".join(sets),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": dict(values),
            }
            request["ConditionExpression"] = (
                "(attribute_not_exists(#state) OR #state <> :settled) AND "
                + _history_size_is(seen, request)
            )
            poll = poll_id or execution_arn
            ended_before = stored.get("polling_state", {}).get("S") == state.value and (
                stored.get("poll_execution", stored.get("execution_arn", {})).get("S") == poll
            )
            if ended_before:
                # The same poll ending the same way again (a retried check): its event exists.
                with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
                    self._client.update_item(TableName=self._table, Key=key, **request)
                return
            status = stored.get("status", {}).get("S")
            event = polling_ended(
                provider=provider,
                account=account,
                refund_id=refund_id,
                polling_state=_ended_state(state),
                code=code or error,
                status=RefundStatus(status) if status else None,
                sequence=seen,
                ended_at=at,
                execution_arn=execution_arn,
                poll_id=poll,
            )
            committed, _ = self._transact(key, request, outbox_write(self._table, event, at=at))
            if committed:
                return
            # Refused (a check settled it or appended meanwhile) or held: read it again.

    # --- reads -----------------------------------------------------------------------------

    def get(
        self, provider: str, refund_id: str, *, account: str = DEFAULT_ACCOUNT
    ) -> dict[str, Any] | None:
        """The record as stored (plain JSON values), or None."""
        answer = self._client.get_item(
            TableName=self._table,
            Key=record_key(provider, refund_id, account),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return None if item is None else from_dynamodb(item)

    def list_records(
        self,
        account: str,
        *,
        limit: int,
        changed_before: datetime | None = None,
        provider: str | None = None,
        status: str | None = None,
        polling_state: str | None = None,
        start_key: Mapping[str, Any] | None = None,
        max_reads: int = 10,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """`account`'s records, last changed first: (up to `limit` records, the key to go on
        from, or None at the end). From the index, never a scan; the other filters are a
        FilterExpression, so a page may come back short after `max_reads` queries (each
        reads at most what is still missing, so nothing is skipped between pages)."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":account": {"S": account}}
        key_condition = "account = :account"
        if changed_before is not None:
            key_condition += " AND changed_us < :before"
            values[":before"] = {"N": str(_epoch_micros(changed_before))}
        filters = []
        for attribute, value in (
            ("provider", provider),
            ("status", status),
            ("polling_state", polling_state),
        ):
            if value is not None:
                names[f"#{attribute}"] = attribute
                values[f":{attribute}"] = {"S": value}
                filters.append(f"#{attribute} = :{attribute}")
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": CHANGES_INDEX,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if filters:
            query["FilterExpression"] = " AND ".join(filters)
            query["ExpressionAttributeNames"] = names
        keys: list[dict[str, Any]] = []
        last_key: dict[str, Any] | None = dict(start_key) if start_key else None
        for _ in range(max_reads):
            page_query = dict(query, Limit=limit - len(keys))
            if last_key:
                page_query["ExclusiveStartKey"] = last_key
            answer = self._client.query(**page_query)
            keys += [{"pk": item["pk"]} for item in answer.get("Items", [])]
            last_key = answer.get("LastEvaluatedKey")
            if not last_key or len(keys) >= limit:
                break
        return self._items(keys), last_key

    def _items(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records of `keys`, in their order (one BatchGetItem per 100). The index holds
        keys and the filters' attributes only, so a check that changes nothing else writes
        the table and not the index too."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 100):
            pending: list[Any] = keys[start : start + 100]
            for attempt in range(8):
                answer = self._client.batch_get_item(RequestItems={self._table: {"Keys": pending}})
                got: Any = answer
                for item in got.get("Responses", {}).get(self._table, []):
                    found[item["pk"]["S"]] = from_dynamodb(item)
                pending = got.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not pending:
                    break
                time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: DynamoDB's own advice
        # (A record deleted between the index and the read is left out.)
        return [found[key["pk"]["S"]] for key in keys if key["pk"]["S"] in found]

    # --- the conditional writes ------------------------------------------------------------

    def _try(
        self, refund: Refund, *, execution_arn: str | None, checked_at: datetime
    ) -> tuple[int | None, Mapping[str, Any] | None]:
        """The refresh write (same status, newer data): (checks, None) when it applied, else
        (None, the current item), or (None, None) when a transaction held the item."""
        from botocore.exceptions import ClientError

        request = observation_write(WriteOutcome.REFRESHED, refund, execution_arn, checked_at)
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=record_key(refund.provider, refund.refund_id, refund.account),
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **request,
            )
        except self._client.exceptions.ConditionalCheckFailedException as refused:
            return None, cast(Mapping[str, Any], refused.response.get("Item", {}))
        except ClientError as error:
            if is_transaction_conflict(error):
                return None, None
            raise
        return int(answer["Attributes"]["checks"]["N"]), None

    def _try_change(
        self,
        attempt: WriteOutcome,
        refund: Refund,
        current: Mapping[str, Any],
        *,
        execution_arn: str | None,
        checked_at: datetime,
    ) -> tuple[int | None, Mapping[str, Any] | None]:
        """A write that appends to history, with its event in the same transaction.

        `current` is the item the last refused write returned: the event's sequence and
        previous status come from it, and a condition on the history's size makes sure they
        are still true when the transaction commits."""
        seen = len(current.get("history", {}).get("L", []))
        previous = current.get("status", {}).get("S")
        request = observation_write(attempt, refund, execution_arn, checked_at)
        request["ConditionExpression"] = (
            f"({request['ConditionExpression']}) AND {_history_size_is(seen, request)}"
        )
        event = status_changed(
            refund,
            sequence=seen + 1,
            previous_status=RefundStatus(previous) if previous else None,
            late_failure=attempt is WriteOutcome.LATE_FAILURE,
        )
        key = record_key(refund.provider, refund.refund_id, refund.account)
        committed, refused = self._transact(
            key, request, outbox_write(self._table, event, at=checked_at)
        )
        if not committed:
            return None, refused
        # (A transaction returns no values: the count is the one the old item had, plus this.)
        return int(current.get("checks", {}).get("N", "0")) + 1, None

    def _transact(
        self, key: Mapping[str, Any], record_update: Mapping[str, Any], outbox: Mapping[str, Any]
    ) -> tuple[bool, Mapping[str, Any] | None]:
        """Commit the record's conditional update and the outbox write together.

        (True, None) when both were written; else (False, the record as the refused condition
        saw it), or (False, None) when another transaction held the item (nothing written)."""
        from botocore.exceptions import ClientError

        update = {
            "TableName": self._table,
            "Key": key,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            **record_update,
        }
        try:
            self._client.transact_write_items(TransactItems=cast(Any, [{"Update": update}, outbox]))
        except self._client.exceptions.TransactionCanceledException as cancelled:
            reasons = cancelled.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                return False, cast(Mapping[str, Any], reasons[0].get("Item", {}))
            if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
                return False, None
            raise
        except ClientError as error:
            if is_transaction_conflict(error):
                return False, None
            raise
        return True, None


def _ended_state(state: PollingState) -> EndedPollingState:
    if state in (PollingState.POLLING, PollingState.SETTLED):
        raise ValueError(f"a poll does not end in {state.value!r} without a final status")
    return cast(EndedPollingState, state.value)


def is_transaction_conflict(error: Exception) -> bool:
    """A write refused because a transaction holds the item (retry it, or go the long way)."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    return code in ("TransactionConflictException", "TransactionInProgressException")


def _history_size_is(size: int, request: dict[str, Any]) -> str:
    """A condition that the stored history has `size` entries (adds its value to `request`)."""
    if size == 0:
        return "attribute_not_exists(history)"
    request["ExpressionAttributeValues"][":history_size"] = {"N": str(size)}
    return "size(history) = :history_size"


def observation_write(
    attempt: WriteOutcome, refund: Refund, execution_arn: str | None, checked_at: datetime
) -> dict[str, Any]:
    """UpdateItem arguments (expression, condition, values) for one kind of observation write."""
    status = refund.status
    observed_us = _epoch_micros(refund.fetched_at)
    values: dict[str, Any] = {
        ":refund": {"M": to_dynamodb(refund.to_json_dict())},
        ":status": {"S": status.value},
        ":observed_us": {"N": str(observed_us)},
        ":now": {"S": format_rfc3339(checked_at)},
        ":now_us": {"N": str(_epoch_micros(checked_at))},
        ":one": {"N": "1"},
        ":zero": {"N": "0"},
        **_identity_values(refund.provider, refund.refund_id, refund.account),
        ":expires": {"N": str(int((checked_at + RECORD_RETENTION).timestamp()))},
    }
    names = {"#status": "status", "#observed": "observed_us"}
    sets = [
        "refund = :refund",
        "#status = :status",
        "#observed = :observed_us",
        "provider = :provider",
        "refund_id = :refund_id",
        "account = :account",
        "checks = if_not_exists(checks, :zero) + :one",
        "first_checked_at = if_not_exists(first_checked_at, :now)",
        "last_checked_at = :now",
        "last_checked_us = :now_us",
        "expires_at = :expires",
    ]
    # `status` is a DynamoDB reserved word: expressions name it through `#status`.
    if execution_arn is not None:
        sets.append("execution_arn = :arn")
        values[":arn"] = {"S": execution_arn}
    if status.terminal:
        sets += ["polling_state = :settled", "settled_at = if_not_exists(settled_at, :now)"]
        values[":settled"] = {"S": PollingState.SETTLED.value}
    else:
        sets.append("polling_state = if_not_exists(polling_state, :polling)")
        values[":polling"] = {"S": PollingState.POLLING.value}

    if attempt is WriteOutcome.REFRESHED:
        condition = "#status = :status AND #observed < :observed_us"
    else:
        values[":history"] = {
            "L": [
                {
                    "M": {
                        "status": {"S": status.value},
                        "provider_status": (
                            {"NULL": True}
                            if refund.provider_status is None
                            else {"S": refund.provider_status}
                        ),
                        "at": {"S": format_rfc3339(refund.fetched_at)},
                    }
                }
            ]
        }
        values[":empty"] = {"L": []}
        sets.append("history = list_append(if_not_exists(history, :empty), :history)")
        sets.append("changed_us = :now_us")
        if attempt is WriteOutcome.CREATED:
            condition = "attribute_not_exists(#status)"
        elif attempt is WriteOutcome.LATE_FAILURE:
            values[":succeeded"] = {"S": RefundStatus.SUCCEEDED.value}
            values[":true"] = {"BOOL": True}
            sets.append("late_failure = :true")
            condition = "#status = :succeeded AND #observed < :observed_us"
        elif status.terminal:  # CHANGED to a final status: from any other, newer only
            condition = "#status <> :status AND #observed < :observed_us"
            if status is RefundStatus.FAILED:
                # succeeded -> failed is LATE_FAILURE's write, which flags it.
                values[":succeeded"] = {"S": RefundStatus.SUCCEEDED.value}
                condition += " AND #status <> :succeeded"
        else:  # CHANGED: from a non-terminal status to a different, known one
            values[":pending"] = {"S": RefundStatus.PENDING.value}
            values[":unknown"] = {"S": RefundStatus.UNKNOWN.value}
            condition = (
                "#status IN (:pending, :unknown) AND #status <> :status"
                " AND #observed < :observed_us"
            )
    return {
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _next_attempt(refund: Refund, old: Mapping[str, Any]) -> WriteOutcome | None:
    """Given the record that refused the last write, the write that can still apply, if any."""
    if "status" not in old:
        return WriteOutcome.CREATED
    stored = RefundStatus(old["status"]["S"])
    newer = int(old.get("observed_us", {"N": "0"})["N"]) < _epoch_micros(refund.fetched_at)
    new = refund.status
    if not newer or stored is new:
        return None
    if stored is RefundStatus.SUCCEEDED and new is RefundStatus.FAILED:
        return WriteOutcome.LATE_FAILURE
    if new is RefundStatus.UNKNOWN or (stored.terminal and not new.terminal):
        return None
    return WriteOutcome.CHANGED


PUBLIC_RECORD_FIELDS = (
    "provider",
    "account",
    "refund_id",
    "status",
    "refund",
    "polling_state",
    "checks",
    "first_checked_at",
    "last_checked_at",
    "settled_at",
    "history",
    "late_failure",
    "execution_arn",
    "expires_at",
    "last_error",
    "error",
)


def public_record(stored: Mapping[str, Any]) -> dict[str, Any]:
    """The record as the watch API answers it: contract section 5's fields, nothing internal."""
    record = {field: stored.get(field) for field in PUBLIC_RECORD_FIELDS}
    # While the fleet polls it: when its next check is due (contract section 8).
    due_ms = stored.get("due_at_ms")
    record["next_check_at"] = (
        None
        if due_ms is None
        else format_rfc3339(datetime.fromtimestamp(int(due_ms) / 1000, tz=UTC))
    )
    # Records stored before accounts existed are the default account's.
    record["account"] = record["account"] or DEFAULT_ACCOUNT
    refund = record["refund"]
    if isinstance(refund, dict) and "account" not in refund:
        record["refund"] = {"provider": refund.get("provider"), "account": DEFAULT_ACCOUNT} | refund
    record["checks"] = record["checks"] or 0
    record["history"] = record["history"] or []
    record["late_failure"] = bool(record["late_failure"])
    return record


def to_dynamodb(value: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(item) for key, item in value.items()}


def from_dynamodb(item: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as JSON-ready values (numbers as int, since all ours are integers)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    return {key: _plain(deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
