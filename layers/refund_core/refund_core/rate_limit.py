"""Each merchant account's request rate at its provider, shared by every function, worker and
poll check (contract section 8): at most `rate` requests in any one-second window.

A GCRA without burst on one DynamoDB item per account (`<provider>#<account>#~rate`, inside the
function's `dynamodb:LeadingKeys` grant; `~` is in no refund id, so no record has that key): the
item holds the earliest time (`tat`, epoch microseconds) the account may be called again. One
conditional write takes a turn, `SET tat = start + 1/rate` if `tat <= start` (start: now); a
refused one returns the stored `tat`, which says where the next turn is. No read, no lock:
DynamoDB's condition is the arbiter, so two workers never take the same turn and turns are at
least 1/rate apart.

A wait up to `max_wait_seconds` is slept; a longer one is `provider_rate_limited` with
Retry-After (the API's answer; a poll check retries on its own short schedule).

A fleet batch takes its turns `ahead_seconds` at a time: one write reserves the next
`floor(rate * ahead_seconds)` turns (`tat` moves that many intervals), and the batch's workers
use them, each at its own turn's time, so the account's write units per check drop by as much.
The turns are still the item's: no two reservations overlap, and a turn whose time passed is
dropped, never used late, so the bound holds whoever takes them. An API caller takes one at a
time, so a batch holds the account's budget at most `ahead_seconds` ahead of the API's GETs.
The interval is rounded up to the microsecond: `rate` turns never fit in less than a second.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
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
        self._interval_us = max(1, math.ceil(1_000_000 / rate_per_second))
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep
        # Turns this process reserved and has not used (epoch microseconds), per account, and
        # where its last reservation ended: the next one starts there, without a gap.
        self._reserved: dict[str, deque[int]] = {}
        self._chain_end: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(
        self,
        account: str,
        *,
        time_left_seconds: float | None = None,
        max_wait_seconds: float | None = None,
        ahead_seconds: float = 0.0,
    ) -> float:
        """Take the account's next turn, sleeping for it when it is within `max_wait_seconds`
        (default: the limit's own, for a caller waiting on an answer); else raise
        `ProviderRateLimited` (retryable, with Retry-After). Returns the turn's time (epoch
        seconds): every two turns of an account are at least 1/rate apart. `ahead_seconds`
        reserves that many seconds of turns in one write (a batch's workers share them)."""
        max_wait = self._max_wait if max_wait_seconds is None else max_wait_seconds
        if time_left_seconds is not None:
            max_wait = min(max_wait, max(0.0, time_left_seconds - 1.0))
        with self._lock:
            turn_us = self._next_turn(account, max_wait, ahead_seconds)
        wait = (turn_us - self._clock() * 1_000_000) / 1_000_000
        if wait > 0:
            self._sleep(wait)
        return turn_us / 1_000_000

    def _next_turn(self, account: str, max_wait: float, ahead_seconds: float) -> int:
        now_us = int(self._clock() * 1_000_000)
        reserved = self._reserved.setdefault(account, deque())
        while reserved and reserved[0] < now_us:
            reserved.popleft()  # its time passed: using it late could crowd a window
        if reserved:
            return reserved.popleft()
        turns = max(1, math.floor(self.rate_per_second * ahead_seconds))
        # Start where this process's last reservation ended (no gap), or now; a refused write
        # says where the account's turns really stand, and the next try starts there.
        start_us = max(now_us, self._chain_end.get(account, 0))
        client = self._client()
        wait = 0.0
        for _ in range(_MAX_TURNS_TRIED):
            wait = max(0.0, (start_us - now_us) / 1_000_000)
            if wait > max_wait:
                break
            end_us = start_us + turns * self._interval_us
            try:
                client.update_item(
                    TableName=self._table,
                    Key=rate_key(self.provider, account),
                    UpdateExpression="SET tat = :next, expires_at = :expires",
                    ConditionExpression="attribute_not_exists(tat) OR tat <= :start",
                    ExpressionAttributeValues={
                        ":next": {"N": str(end_us)},
                        ":start": {"N": str(start_us)},
                        ":expires": {"N": str(now_us // 1_000_000 + _IDLE_SECONDS)},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except client.exceptions.ConditionalCheckFailedException as refused:
                item = cast(dict[str, Any], refused.response.get("Item") or {})
                stored = int(item.get("tat", {}).get("N") or now_us)
                start_us = max(now_us, stored)
                continue
            self._chain_end[account] = end_us
            reserved.extend(start_us + n * self._interval_us for n in range(1, turns))
            return start_us
        raise ProviderRateLimited(
            f"this account's request budget at {self.provider} ({self.rate_per_second:g}/s) "
            f"is spent for now: retry in {max(1, math.ceil(wait))} s",
            provider=self.provider,
            account=account,
            retry_after=max(1, math.ceil(wait)),
        )
