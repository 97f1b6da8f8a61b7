"""The Lambda handler of a provider function: the API route, with Powertools around it.

`functions/<provider>/app.py` is one line calling `build_lambda_handler`; everything a
provider function does is here once, and what differs between the four lives in template.yaml.
"""
# Powertools\' route and exception decorators are untyped.
# mypy: disallow-untyped-decorators=False

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.accounts import DEFAULT_ACCOUNT
from refund_core.clients import ProviderClients
from refund_core.errors import InvalidRequest
from refund_core.http_api import (
    RouteShape,
    answer_api_event,
    count_error,
    install_error_handlers,
    json_response,
    path_account,
    path_refund_id,
)
from refund_core.model import Refund
from refund_core.secrets import prepare_secrets_client
from refund_core.tracing import traced
from refund_core.transport import shared_http_client

LambdaHandler = Callable[[Mapping[str, Any], LambdaContext], dict[str, Any]]


def build_lambda_handler(provider: str, *, clients: ProviderClients | None = None) -> LambdaHandler:
    """The decorated `lambda_handler` of `provider`'s function."""
    logger = Logger()
    metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RefundStatus"))
    if clients is None:
        clients = ProviderClients(provider)
        prepare_first_call()
    app = build_provider_api(provider, clients, logger=logger, metrics=metrics)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @traced
    @metrics.log_metrics
    def lambda_handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        # (No request counter: Lambda's own Invocations metric is that.)
        metrics.add_dimension(name="provider", value=provider)
        answer = answer_api_event(
            app, event, context, logger=logger, metrics=metrics, provider=provider
        )
        if answer is not None:
            return answer
        # Imported here: API calls never need the fleet's code (and its DynamoDB client).
        from refund_core.fleet.lambda_batch import is_fleet_batch, run_fleet_batch

        if is_fleet_batch(event):
            return run_fleet_batch(
                provider, event, _time_left(context), clients, logger=logger, metrics=metrics
            )
        refused = InvalidRequest(
            "expected an API Gateway REST proxy event or a fleet batch",
            provider=provider,
        )
        count_error(metrics, refused)
        raise refused

    return cast(LambdaHandler, lambda_handler)


def prepare_first_call() -> None:
    """Build at import what every call needs: the HTTP client (its TLS context) and the
    Secrets Manager client (boto3). No network: the secret itself is read on the first call.

    Lambda runs a function's import (INIT) with burst CPU, and its invocations with the CPU
    share its memory buys (256 MB: about a seventh of a vCPU), so the same work done lazily
    on the first call would take several times longer for the first caller.
    """
    shared_http_client()
    prepare_secrets_client()


def build_provider_api(
    provider: str, clients: ProviderClients, *, logger: Logger, metrics: Metrics
) -> APIGatewayRestResolver:
    """`GET /refunds/<provider>/{refund_id}` (the default account's),
    `GET /accounts/{account}/refunds/<provider>/{refund_id}`, and the contract's errors."""
    app = APIGatewayRestResolver()
    refund_path = f"/refunds/{provider}/<refund_id>"

    def answer(account: str, refund_id: str) -> Response[str]:
        refund = observe(
            lambda time_left: clients.fetch_refund(
                refund_id, account=account, time_left_seconds=time_left
            ),
            context=app.lambda_context,
            logger=logger,
            metrics=metrics,
        )
        return json_response(200, refund.to_json_dict())

    @app.get(refund_path)
    def get_refund(refund_id: str) -> Response[str]:
        return answer(DEFAULT_ACCOUNT, path_refund_id(app, refund_id, provider=provider))

    @app.get(f"/accounts/<account>{refund_path}")
    def get_account_refund(account: str, refund_id: str) -> Response[str]:
        # The account first: a bad one is refused before anything else is read.
        account = path_account(app, account, provider=provider)
        return answer(account, path_refund_id(app, refund_id, provider=provider))

    install_error_handlers(
        app,
        logger=logger,
        metrics=metrics,
        provider=provider,
        routes=[RouteShape("GET", re.compile(rf"(?:/accounts/[^/]+)?/refunds/{provider}/[^/]+"))],
        refund_path_prefix=f"/refunds/{provider}/",
    )
    return app


def observe(
    fetch: Callable[[float | None], Refund],
    *,
    context: LambdaContext | None,
    logger: Logger,
    metrics: Metrics,
) -> Refund:
    """Run one provider call within the function's remaining time, logging and metering it."""
    started = time.perf_counter()
    try:
        refund = fetch(_time_left(context))
    finally:
        # (A failure is counted once, as Error_<code>, by the API's error handlers.)
        elapsed_ms = (time.perf_counter() - started) * 1000
        metrics.add_metric(name="ProviderLatency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    metrics.add_metric(name=f"Status_{refund.status.value}", unit=MetricUnit.Count, value=1)
    logger.info(
        "refund fetched",
        extra={
            "refund_id": refund.refund_id,
            "account": refund.account,
            "status": refund.status.value,
            "provider_status": refund.provider_status,
            "latency_ms": round(elapsed_ms, 2),
        },
    )
    return refund


def _time_left(context: LambdaContext | None) -> float | None:
    """Seconds until the function's own deadline, when the context knows it."""
    remaining_ms = getattr(context, "get_remaining_time_in_millis", None)
    if remaining_ms is None:
        return None
    try:
        return float(remaining_ms()) / 1000
    except (TypeError, ValueError):
        return None
