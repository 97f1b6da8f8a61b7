"""boto3 clients of the poller and the watch function (Secrets Manager's is Powertools')."""

from __future__ import annotations

from typing import Any, Literal

from refund_core.errors import ConfigurationError


def aws_client(service: Literal["dynamodb", "stepfunctions", "secretsmanager"]) -> Any:
    """boto3's default client for `service`, from the function's environment.

    A client that cannot be built (no region, a malformed endpoint) is the deployment's fault:
    `configuration_error`, not an internal error.
    """
    # Imported here: the provider functions' API path never needs boto3's DynamoDB or SFN.
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.client(service)
    except BotoCoreError as exc:
        raise ConfigurationError(f"the {service} client could not be built") from exc
