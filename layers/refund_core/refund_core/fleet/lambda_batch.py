"""A fleet batch as the provider's own function runs it: the tick's Map sends each account's
queue to its provider's function (`{"fleet_batch": {"account": ...}}`), which holds that
provider's secrets and may write only that provider's records.

The schedule's defaults are the function's environment (the template's per-provider poll
parameters: the same values the poller's ASL hands its checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache, partial
from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from refund_core.accounts import is_account_id
from refund_core.aws_clients import aws_client
from refund_core.errors import InvalidRequest
from refund_core.fleet.batch import check_due, run_batch, workers_for
from refund_core.fleet.registry import FleetRegistry
from refund_core.fleet.waiters import notify_waiters
from refund_core.poller.check import RECORDS_TABLE_ENV, shared_records
from refund_core.settings import provider_function_settings, required_env
from refund_core.timestamps import utc_now

if TYPE_CHECKING:
    from refund_core.clients import ProviderClients

BATCH_KEY: Final = "fleet_batch"
# The poller ASL's Settings, by the environment variable that carries each here.
SCHEDULE_ENV: Final[Mapping[str, str]] = {
    "first_check_seconds": "POLL_FIRST_CHECK_SECONDS",
    "max_interval_seconds": "POLL_MAX_INTERVAL_SECONDS",
    "budget_seconds": "POLL_BUDGET_SECONDS",
    "max_checks": "POLL_MAX_CHECKS",
    "not_found_grace_seconds": "POLL_NOT_FOUND_GRACE_SECONDS",
    "first_check_floor_seconds": "POLL_MIN_FIRST_CHECK_SECONDS",
    "max_interval_floor_seconds": "POLL_MIN_INTERVAL_SECONDS",
}
BATCH_SECONDS_ENV: Final = "FLEET_BATCH_SECONDS"
TICK_SECONDS_ENV: Final = "FLEET_TICK_SECONDS"
DEFAULT_BATCH_SECONDS: Final = 50.0
# Left of the function's own time when the batch stops taking refunds: the checks in flight
# end and their results are written.
MARGIN_SECONDS: Final = 10.0


@cache
def _step_functions() -> Any:
    """Built on the first poll that has waiters to tell: most batches never need it."""
    return aws_client("stepfunctions")


def is_fleet_batch(event: Any) -> bool:
    return isinstance(event, Mapping) and BATCH_KEY in event


def schedule_defaults() -> dict[str, str]:
    """The provider's schedule defaults from this function's environment (unset: the
    schedule's own)."""
    return {field: os.environ[name] for field, name in SCHEDULE_ENV.items() if os.environ.get(name)}


def run_fleet_batch(
    provider: str,
    event: Mapping[str, Any],
    time_left_seconds: float | None,
    clients: ProviderClients,
    *,
    logger: Logger,
    metrics: Metrics,
) -> dict[str, Any]:
    """One account's batch, within the function's `time_left_seconds`; answers what it did
    (the tick's Map keeps nothing of it)."""
    batch = event.get(BATCH_KEY)
    account = batch.get("account") if isinstance(batch, Mapping) else None
    if not isinstance(account, str) or not is_account_id(account):
        raise InvalidRequest("invalid fleet batch: fleet_batch.account", provider=provider)
    seconds = float(os.environ.get(BATCH_SECONDS_ENV) or DEFAULT_BATCH_SECONDS)
    if time_left_seconds is not None:
        seconds = min(seconds, max(1.0, time_left_seconds - MARGIN_SECONDS))
    rate = provider_function_settings().account_rate_per_second
    registry = FleetRegistry(aws_client("dynamodb"), required_env(RECORDS_TABLE_ENV))
    report = run_batch(
        provider,
        account,
        registry=registry,
        check=partial(
            check_due,
            defaults=schedule_defaults(),
            clients=clients,
            records=shared_records(),
            registry=registry,
        ),
        seconds=seconds,
        workers=workers_for(rate),
        lookahead_seconds=float(os.environ.get(TICK_SECONDS_ENV) or 0.0),
        notify=lambda result, tokens: notify_waiters(_step_functions(), result, tokens),
    )
    for outcome, count in report.outcomes.items():
        metrics.add_metric(name=f"Fleet_{outcome.value}", unit=MetricUnit.Count, value=count)
    # Every invocation publishes a metric: an empty flush makes Powertools warn.
    metrics.add_metric(name="PollChecks", unit=MetricUnit.Count, value=report.checked)
    # The same Error_<code> the API counts: a key a provider stopped taking at 3 a.m. shows
    # in the fleet's checks first, when nobody calls the API.
    for code, count in report.errors.items():
        metrics.add_metric(name=f"Error_{code}", unit=MetricUnit.Count, value=count)
    # Still pending past the deployment's threshold: what the StuckRefunds alarm watches.
    stuck_after = provider_function_settings().stuck_pending_seconds
    now = utc_now()
    stuck = sum(1 for since in report.pending_since if (now - since).total_seconds() >= stuck_after)
    if stuck:
        metrics.add_metric(name="StuckPendingChecks", unit=MetricUnit.Count, value=stuck)
    if report.waiters_told:
        metrics.add_metric(
            name="FleetWaitersTold", unit=MetricUnit.Count, value=report.waiters_told
        )
    if report.waiters_untold:
        # An execution still waits on a poll that ended (the log line names the refund).
        metrics.add_metric(
            name="FleetWaitersUntold", unit=MetricUnit.Count, value=report.waiters_untold
        )
    # How far behind the account is (its oldest due refund's lateness when the batch ended),
    # per account: one metric of its own, with the account as a dimension.
    # (EphemeralMetrics, not single_metric: it keeps POWERTOOLS_METRICS_DISABLED.)
    behind = EphemeralMetrics(namespace=metrics.namespace)
    behind.add_dimension(name="provider", value=provider)
    behind.add_dimension(name="account", value=account)
    behind.add_metric(
        name="FleetBehindSeconds", unit=MetricUnit.Seconds, value=report.behind_seconds
    )
    behind.flush_metrics()
    answer = {
        "provider": provider,
        "account": account,
        "checked": report.checked,
        "outcomes": {outcome.value: n for outcome, n in report.outcomes.items()},
        "behind_seconds": report.behind_seconds,
    }
    logger.info("fleet batch", extra=answer)
    return answer
