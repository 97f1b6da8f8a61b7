"""Refund id validation, done before anything reaches a provider."""

from __future__ import annotations

import re

from refund_core.errors import InvalidRefundId

REFUND_ID_MAX_LENGTH = 128
_REFUND_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
INVALID_REFUND_ID_MESSAGE = "refund_id must be 1 to 128 characters of A-Z, a-z, 0-9, '_' or '-'"


def validate_refund_id(value: object, *, provider: str | None = None) -> str:
    """Return `value` if it is 1 to 128 of `A-Z a-z 0-9 _ -`, else raise `InvalidRefundId`.

    The id goes into a provider URL path, so anything that could change the path (`/`, `..`,
    percent escapes) or smuggle bytes (non-ASCII) is refused here.
    """
    if isinstance(value, str) and _REFUND_ID.fullmatch(value):
        return value
    raise InvalidRefundId(INVALID_REFUND_ID_MESSAGE, provider=provider)
