"""X-Ray tracing of a function's handler, paid for only where tracing is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Tracer


def traced[F: Callable[..., Any]](handler: F) -> F:
    """`Tracer().capture_lambda_handler`, or `handler` itself where tracing is off.

    Building a Tracer imports the X-Ray SDK, which builds a botocore client for its sampler:
    about 0.1-0.3 s of cold start that a function with tracing off (POWERTOOLS_TRACE_DISABLED,
    `sam local`, tests) would pay for decorators that do nothing. Tracer's own rule decides.
    """
    if Tracer._is_tracer_disabled():  # Powertools' own check (env var, emulators, not Lambda)
        return handler
    return cast(F, Tracer().capture_lambda_handler(capture_response=False)(handler))
