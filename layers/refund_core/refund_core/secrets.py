"""Provider credentials from Secrets Manager, through Powertools Parameters' cache."""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from refund_core.errors import ConfigurationError

_UNREADABLE = "the provider secret could not be read"


@cache
def _silence_wire_logs() -> None:
    """Keep botocore's DEBUG wire log off: it prints GetSecretValue answers, secret included.

    A user who sets DEBUG on the root logger to chase a problem must not leak every provider
    credential into CloudWatch while doing it.
    """
    botocore_logger = logging.getLogger("botocore")
    if botocore_logger.level < logging.INFO:  # NOTSET (inherit root) or DEBUG
        botocore_logger.setLevel(logging.INFO)


def read_secret_text(secret_id: str, *, max_age_seconds: int, force_fetch: bool = False) -> str:
    """The secret's string value, cached by Powertools for `max_age_seconds`."""
    _silence_wire_logs()
    # Imported here: Powertools Parameters pulls in boto3, which only the first call needs.
    from aws_lambda_powertools.utilities.parameters import get_secret
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        value = get_secret(secret_id, max_age=max_age_seconds, force_fetch=force_fetch)
    except GetParameterError as exc:
        raise ConfigurationError(_UNREADABLE) from exc
    if not isinstance(value, str):
        raise ConfigurationError("the provider secret must be a JSON string, not binary")
    return value


def parse_secret_json(text: str) -> dict[str, Any]:
    """The secret's JSON object. Errors never quote the text: it is the secret."""
    try:
        value = json.loads(text)
    except ValueError:
        # `from None`: a JSONDecodeError keeps the whole document in `.doc`.
        raise ConfigurationError("the provider secret is not valid JSON") from None
    if not isinstance(value, dict):
        raise ConfigurationError("the provider secret must be a JSON object")
    return value
