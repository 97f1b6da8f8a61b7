"""What a child needs to invoke a function as Lambda would: the event and a context.

Standard library only: the cold-start child imports this before it starts its clock.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class BenchLambdaContext:
    """The parts of a Lambda context Powertools reads (as tests/helpers.py's, copied)."""

    function_name = "refund-status-bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:refund-status-bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/refund-status-bench"
    log_stream_name = "2026/11/23/[$LATEST]0000"

    def get_remaining_time_in_millis(self) -> int:
        return 20_000


def rest_event(provider: str, refund_id: str) -> dict[str, Any]:
    """events/<provider>/get_refund.json (a REST proxy event) for `refund_id`."""
    event: dict[str, Any] = json.loads((ROOT / "events" / provider / "get_refund.json").read_text())
    old_id = event["pathParameters"]["refund_id"]
    event["pathParameters"]["refund_id"] = refund_id
    event["path"] = event["path"].replace(old_id, refund_id)
    event["requestContext"]["path"] = event["requestContext"]["path"].replace(old_id, refund_id)
    return event


def put_function_on_path(provider: str) -> None:
    """sys.path as Lambda sets it for functions/<provider>/ (CodeUri): its `app` module first."""
    sys.path.insert(0, str(ROOT / "functions" / provider))
