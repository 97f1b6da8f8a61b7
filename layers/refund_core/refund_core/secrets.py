"""Provider credentials from Secrets Manager, through Powertools Parameters' cache."""

from __future__ import annotations

import json
import logging
from functools import cache
from typing import Any

from refund_core.errors import ConfigurationError, SecretNotFound

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
    # Imported here, not at the top: modules that only parse secrets need no boto3.
    from aws_lambda_powertools.utilities.parameters import get_secret
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import BotoCoreError

    try:
        value = get_secret(secret_id, max_age=max_age_seconds, force_fetch=force_fetch)
    except (GetParameterError, BotoCoreError) as exc:
        if _is_missing(exc):
            raise SecretNotFound("the provider secret does not exist") from None
        # BotoCoreError: building the client failed (no region, say), before any request.
        raise ConfigurationError(_UNREADABLE) from exc
    if not isinstance(value, str):
        raise ConfigurationError("the provider secret must be a JSON string, not binary")
    return value


def _is_missing(exc: BaseException) -> bool:
    """Whether Secrets Manager said the secret is not there: never created, or deleted and
    waiting out its recovery window (an account being removed). Powertools raises
    GetParameterError inside its `except`, so the ClientError is the context."""
    original = exc.__cause__ or exc.__context__
    response = getattr(original, "response", None)
    if not isinstance(response, dict):
        return False
    error = response.get("Error") or {}
    code, message = error.get("Code"), str(error.get("Message", ""))
    return code == "ResourceNotFoundException" or (
        # AWS: "...because it was marked for deletion"; moto: "...currently marked deleted".
        code == "InvalidRequestException"
        and ("marked for deletion" in message or "marked deleted" in message)
    )


def prepare_secrets_client() -> None:
    """Create the Secrets Manager client `read_secret_text` will use, now, without a call
    (why: `refund_core.handler.prepare_first_call`).

    Best effort: with no region configured (outside Lambda) the client is left to the first
    read, whose failure answers configuration_error.
    """
    _silence_wire_logs()
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS
    from botocore.exceptions import BotoCoreError

    if "secrets" in DEFAULT_PROVIDERS:
        return
    try:
        # Where `get_secret` looks for its client, and would create this same one.
        DEFAULT_PROVIDERS["secrets"] = SecretsProvider()
    except BotoCoreError:
        return


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
