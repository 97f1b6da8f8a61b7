"""What every API function shares: JSON responses, the error body, route misses, 405s."""
# Powertools\' route and exception decorators are untyped.
# mypy: disallow-untyped-decorators=False

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.metrics import MetricUnit

from refund_core.accounts import (
    DEFAULT_ACCOUNT,
    INVALID_ACCOUNT_ID_MESSAGE,
    is_account_id,
    validate_account_id,
)
from refund_core.errors import (
    InvalidAccountId,
    InvalidRefundId,
    InvalidRequest,
    MethodNotAllowed,
    RefundServiceError,
    RouteNotFound,
)
from refund_core.ids import INVALID_REFUND_ID_MESSAGE, validate_refund_id

JSON = "application/json"


@dataclass(frozen=True)
class RouteShape:
    """A route this function serves, for telling a wrong method (405) from a miss (404)."""

    method: str
    pattern: re.Pattern[str]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=JSON,
        body=json.dumps(body, separators=(",", ":")),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def error_response(
    error: RefundServiceError, headers: dict[str, str] | None = None
) -> Response[str]:
    extra = dict(headers or {})
    if error.retry_after is not None:
        extra["Retry-After"] = str(error.retry_after)
    return json_response(error.http_status, error.to_body(), extra)


def count_error(metrics: Metrics, error: RefundServiceError) -> None:
    """One `Error_<code>` for one error answered: the only place the metric is named."""
    metrics.add_metric(name=f"Error_{error.code}", unit=MetricUnit.Count, value=1)


# What Powertools reads from a REST proxy event, and the types API Gateway sends.
_STRING_MAPS = ("headers", "queryStringParameters", "pathParameters", "stageVariables")
_LIST_MAPS = ("multiValueHeaders", "multiValueQueryStringParameters")


def answer_api_event(
    app: APIGatewayRestResolver,
    event: Mapping[str, Any],
    context: Any,
    *,
    logger: Logger,
    metrics: Metrics,
    provider: str | None = None,
) -> dict[str, Any] | None:
    """The answer to a REST proxy event, or None when `event` is no API event at all.

    An API event no API Gateway would send (a `path` that is no string, `pathParameters` that
    is a list...) answers 400 `invalid_request`, checked before Powertools reads it: its data
    classes trust the shape, and a wrong one would escape as a raw TypeError (API Gateway's
    502, with no error code).
    """
    if not isinstance(event, Mapping) or "httpMethod" not in event:
        return None
    problem = _event_problem(event)
    if problem is None:
        answer: dict[str, Any] = app.resolve(event, context)
        return answer
    error = InvalidRequest(f"not an API Gateway REST proxy event: {problem}", provider=provider)
    logger.info("request failed", extra={"error_code": error.code, "cause": problem})
    count_error(metrics, error)
    # The resolver cannot read this event, so its response is turned into the proxy answer
    # here, in the shape the resolver gives (multiValueHeaders).
    response = error_response(error)
    return {
        "statusCode": response.status_code,
        "isBase64Encoded": False,
        "multiValueHeaders": {
            name: value if isinstance(value, list) else [value]
            for name, value in response.headers.items()
        },
        "body": response.body,
    }


def _event_problem(event: Mapping[str, Any]) -> str | None:
    for name in ("httpMethod", "path"):
        if not isinstance(event.get(name), str):
            return f"{name} must be a string"
    for name in _STRING_MAPS:
        value = event.get(name)
        if value is not None and not _is_map_of(value, str):
            return f"{name} must be an object of strings"
    for name in _LIST_MAPS:
        value = event.get(name)
        if value is not None and not (
            _is_map_of(value, list)
            and all(isinstance(item, str) for items in value.values() for item in items)
        ):
            return f"{name} must be an object of string lists"
    if not isinstance(event.get("requestContext") or {}, Mapping):
        return "requestContext must be an object"
    if not isinstance(event.get("body"), str | None):
        return "body must be a string"
    if not isinstance(event.get("isBase64Encoded"), bool | None):
        return "isBase64Encoded must be a boolean"
    return None


def _is_map_of(value: Any, kind: type) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(item, kind) for key, item in value.items()
    )


def path_refund_id(app: APIGatewayRestResolver, matched: str, *, provider: str) -> str:
    """The refund id API Gateway extracted (already URL-decoded), validated.

    The route's own capture is the raw path segment; API Gateway's `pathParameters` is what
    the caller meant, so `a%2Fb` is judged as `a/b` (refused), not as a literal segment.
    """
    parameters = app.current_event.path_parameters or {}
    return validate_refund_id(parameters.get("refund_id", matched), provider=provider)


def path_account(app: APIGatewayRestResolver, matched: str, *, provider: str | None) -> str:
    """The account API Gateway extracted (URL-decoded), validated: `invalid_account_id`
    before any AWS or provider call."""
    parameters = app.current_event.path_parameters or {}
    return validate_account_id(parameters.get("account", matched), provider=provider)


def request_account(app: APIGatewayRestResolver) -> str | None:
    """The account a request is for, to name in its error: the path's when valid, `default`
    on the routes without one, None when the path's is not a valid id (never echoed)."""
    parameters = app.current_event.path_parameters or {}
    if "account" in parameters:
        named = parameters["account"]
        return named if is_account_id(named) else None
    path = app.current_event.path or ""
    return DEFAULT_ACCOUNT if path == "/refunds" or path.startswith("/refunds/") else None


_ACCOUNT_PREFIX = re.compile(r"/accounts/[^/]*")


def install_error_handlers(
    app: APIGatewayRestResolver,
    *,
    logger: Logger,
    metrics: Metrics,
    routes: Sequence[RouteShape],
    provider: str | None = None,
    refund_path_prefix: str | None = None,
) -> None:
    """Every failure answers the contract's JSON error shape; nothing answers a stack trace.

    Each error answer is counted once (`count_error`), here and not where it was raised.
    """

    def answer(error: RefundServiceError, headers: dict[str, str] | None = None) -> Response[str]:
        if error.account is None:
            error.account = request_account(app)
        count_error(metrics, error)
        return error_response(error, headers)

    @app.exception_handler(RefundServiceError)
    def _service_error(error: RefundServiceError) -> Response[str]:
        if error.provider is None:
            # Errors raised below the provider layer (settings, secrets, a bad body) still
            # belong to the provider the request is about.
            error.provider = provider or _path_provider(app)
        if error.account is None:
            error.account = request_account(app)
        logger.info(
            "request failed",
            extra={
                "error_code": error.code,
                "provider": error.provider,
                "account": error.account,
                "cause": _cause(error),
            },
        )
        return answer(error)

    @app.exception_handler(NotFoundError)
    def _route_miss(_: NotFoundError) -> Response[str]:
        event = app.current_event
        path = event.path or ""
        allowed = sorted({r.method for r in routes if r.pattern.fullmatch(path)})
        if allowed and event.http_method not in allowed:
            return answer(
                MethodNotAllowed(
                    f"{event.http_method} is not allowed here",
                    provider=provider or _path_provider(app),
                ),
                {"Allow": ", ".join(allowed)},
            )
        parameters = event.path_parameters or {}
        if "account" in parameters and not is_account_id(parameters["account"]):
            # API Gateway matched `{account}` but our route did not (an empty one, one with
            # a `/`): the account is what is wrong.
            return answer(InvalidAccountId(INVALID_ACCOUNT_ID_MESSAGE, provider=provider))
        unprefixed = _ACCOUNT_PREFIX.sub("", path, count=1) if "account" in parameters else path
        if (
            "refund_id" in parameters
            and refund_path_prefix
            and unprefixed.startswith(refund_path_prefix)
        ):
            # API Gateway matched `{refund_id}` but our route did not: an id holding `/`,
            # an empty id. It is the id that is wrong, not the route.
            return answer(InvalidRefundId(INVALID_REFUND_ID_MESSAGE, provider=provider))
        return answer(RouteNotFound("no such route", provider=provider))

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error", extra={"error_type": type(error).__name__})
        return answer(RefundServiceError("internal error", provider=provider))


def _path_provider(app: APIGatewayRestResolver) -> str | None:
    from refund_core.providers.registry import PROVIDER_NAMES

    named = (app.current_event.path_parameters or {}).get("provider")
    return named if named in PROVIDER_NAMES else None


def _cause(error: BaseException) -> str | None:
    cause = error.__cause__
    return None if cause is None else f"{type(cause).__name__}: {cause}"[:300]
