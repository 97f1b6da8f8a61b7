"""Each merchant account's request rate at its provider, shared by every function, worker and
poll check (contract section 8): at most `rate` requests in any one-second window.

A GCRA without burst on one DynamoDB item per account (`<provider>#<account>#~rate`, inside the
function's `dynamodb:LeadingKeys` grant; `~` is in no refund id, so no record has that key): the
item holds the earliest time (`tat`, epoch microseconds) the account may be called again. One
conditional write takes a turn, `SET tat = now + 1/rate` if `tat <= now`; a refused one returns
the stored `tat`, which says how long to wait. No read, no lock: DynamoDB's condition is the
arbiter, so two workers never take the same turn and turns are at least 1/rate apart.

A wait up to `max_wait_seconds` is slept; a longer one is `provider_rate_limited` with
Retry-After (the API's answer; a poll check retries on its own short schedule).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast

from refund_core.errors import ProviderRateLimited

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# Idle buckets go (TTL) a day after their last turn.
_IDLE_SECONDS: Final = 86_400
_MAX_TURNS_TRIED: Final = 8


def rate_key(provider: str, account: str) -> dict[str, Any]:
    return {"pk": {"S": f"{provider}#{account}#~rate"}}


class AccountRateLimit:
    """`acquire(account)` returns when `account` may send one request now."""

    def __init__(
        self,
        client: Callable[[], DynamoDBClient],
        table: str,
        provider: str,
        rate_per_second: float,
        *,
        max_wait_seconds: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("a rate limit needs a positive rate")
        self._client = client
        self._table = table
        self.provider = provider
        self.rate_per_second = rate_per_second
        self._interval_us = max(1, round(1_000_000 / rate_per_second))
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep

    def acquire(
        self,
        account: str,
        *,
        time_left_seconds: float | None = None,
        max_wait_seconds: float | None = None,
    ) -> float:
        """Take the account's next turn, sleeping for it when it is within `max_wait_seconds`
        (default: the limit's own, for a caller waiting on an answer); else raise
        `ProviderRateLimited` (retryable, with Retry-After). Returns the turn's time (epoch
        seconds): every two turns of an account are at least 1/rate apart."""
        max_wait = self._max_wait if max_wait_seconds is None else max_wait_seconds
        if time_left_seconds is not None:
            max_wait = min(max_wait, max(0.0, time_left_seconds - 1.0))
        client = self._client()
        wait = 0.0
        for _ in range(_MAX_TURNS_TRIED):
            now_us = int(self._clock() * 1_000_000)
            try:
                client.update_item(
                    TableName=self._table,
                    Key=rate_key(self.provider, account),
                    UpdateExpression="SET tat = :next, expires_at = :expires",
                    ConditionExpression="attribute_not_exists(tat) OR tat <= :now",
                    ExpressionAttributeValues={
                        ":next": {"N": str(now_us + self._interval_us)},
                        ":now": {"N": str(now_us)},
                        ":expires": {"N": str(now_us // 1_000_000 + _IDLE_SECONDS)},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return now_us / 1_000_000
            except client.exceptions.ConditionalCheckFailedException as refused:
                item = cast(dict[str, Any], refused.response.get("Item") or {})
                stored = item.get("tat", {}).get("N")
                wait = max(0.0, (int(stored or now_us) - now_us) / 1_000_000)
            if wait > max_wait:
                break
            self._sleep(wait)
        raise ProviderRateLimited(
            f"this account's request budget at {self.provider} ({self.rate_per_second:g}/s) "
            f"is spent for now: retry in {max(1, math.ceil(wait))} s",
            provider=self.provider,
            account=account,
            retry_after=max(1, math.ceil(wait)),
        )
