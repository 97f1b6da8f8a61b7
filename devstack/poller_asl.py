"""Writes statemachine/refund_poller.asl.json from the poller's schedule ladder.

The state machine holds one retrier per rung of `refund_core.poller.schedule.LADDER`, so the
ASL is generated from that ladder instead of being kept in step by hand; a test fails when the
checked-in file and this generator disagree. Run `python -m devstack.poller_asl` (or
`make asl`) after changing the ladder or the error names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from refund_core.poller.schedule import LADDER

ASL_PATH = Path(__file__).resolve().parent.parent / "statemachine" / "refund_poller.asl.json"

PROVIDERS = {
    "convergegate": "ConvergeGate",
    "surecart": "SureCart",
    "gr4vy": "Gr4vy",
    "shoplazza": "Shoplazza",
}
# Provider trouble and Lambda's own hiccups: retried on a short schedule with full jitter, so
# the pollers of many refunds do not hit a recovering provider at the same moment.
TRANSIENT_ERRORS = [
    "ProviderRateLimited",
    "ProviderUnavailable",
    "ProviderTimeout",
    "ProviderBadResponse",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "States.Timeout",
]
# What a failed execution (and a caller's .sync task) says, per error. Static on purpose: the
# caught Cause is Lambda's error JSON, stack trace and file paths included, and parsing it in
# the ASL would fail the execution with States.Runtime on a cause that is not JSON.
_SEE_RECORD = "GET /refunds/{provider}/{refund_id}/watch answers the refund's record."
FAIL_CAUSES: dict[str | None, str] = {
    "RefundNotFound": (
        "The provider still does not know this refund after the not-found grace period. "
        + _SEE_RECORD
    ),
    "ProviderAuthFailed": (
        "The provider rejected the service's credentials, so the refund cannot be polled. "
        + _SEE_RECORD
    ),
    "RefundPollingTimedOut": (
        "The polling budget (time or provider calls) ran out before the refund reached a "
        "final status. " + _SEE_RECORD
    ),
    None: (
        "A poll check failed with this error (e.g. ConfigurationError: the provider's secret "
        "is missing or malformed), so the refund cannot be polled. " + _SEE_RECORD
    ),
}
SCHEDULE_KEYS = ("first_check_seconds", "max_interval_seconds")
BUDGET_KEYS = {
    "budget_seconds": "${PollBudgetSeconds}",
    "max_checks": "${PollMaxChecks}",
    "not_found_grace_seconds": "${PollNotFoundGraceSeconds}",
    # The least an execution input's overrides may ask for (refund_core.poller.schedule).
    "first_check_floor_seconds": "${PollMinFirstCheckSeconds}",
    "max_interval_floor_seconds": "${PollMinIntervalSeconds}",
}


def _settings_state(title: str) -> dict[str, Any]:
    defaults = {key: f"${{{title}{_camel(key)}}}" for key in SCHEDULE_KEYS} | BUDGET_KEYS
    return {
        "Type": "Pass",
        "Comment": f"{title}'s check function and its schedule defaults (template parameters).",
        "Parameters": {"function": f"${{{title}FunctionArn}}", "defaults": defaults},
        "ResultPath": "$.poller",
        "Next": "CheckRefund",
    }


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def build() -> dict[str, Any]:
    """The whole state machine definition."""
    rung_retriers = [
        {
            "ErrorEquals": [f"RefundPendingWait{seconds}"],
            "IntervalSeconds": seconds,
            "BackoffRate": 1,
            "MaxAttempts": 99999999,
        }
        for seconds in LADDER
    ]
    states: dict[str, Any] = {
        "ChooseProvider": {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.provider", "IsPresent": True},
                        {"Variable": "$.provider", "StringEquals": name},
                    ],
                    "Next": f"{title}Settings",
                }
                for name, title in PROVIDERS.items()
            ],
            "Default": "UnknownProvider",
        },
        **{f"{title}Settings": _settings_state(title) for title in PROVIDERS.values()},
        "CheckRefund": {
            "Type": "Task",
            "Comment": (
                "Asks the provider once and stores the observation. A final refund is the "
                "output; otherwise the function raises RefundPendingWait<N> and the retrier "
                "for N waits N seconds: one state transition per poll."
            ),
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName.$": "$.poller.function",
                "Payload": {
                    "watch.$": "$$.Execution.Input",
                    "defaults.$": "$.poller.defaults",
                    "execution_arn.$": "$$.Execution.Id",
                    "execution_started_at.$": "$$.Execution.StartTime",
                },
            },
            "OutputPath": "$.Payload",
            "TimeoutSeconds": 60,
            "Retry": [
                {
                    "ErrorEquals": TRANSIENT_ERRORS,
                    "IntervalSeconds": 5,
                    "BackoffRate": 2,
                    "MaxDelaySeconds": 300,
                    "JitterStrategy": "FULL",
                    "MaxAttempts": 15,
                },
                *rung_retriers,
                {
                    "ErrorEquals": ["RefundPending"],
                    "IntervalSeconds": 60,
                    "BackoffRate": 1.2,
                    "MaxDelaySeconds": LADDER[-1],
                    "MaxAttempts": 400,
                },
            ],
            "Catch": [
                {
                    "ErrorEquals": TRANSIENT_ERRORS,
                    "ResultPath": "$.last_error",
                    "Next": "ProviderStillFailing",
                },
                {"ErrorEquals": ["RefundNotFound"], "ResultPath": "$.error", "Next": "NotFound"},
                {
                    "ErrorEquals": ["ProviderAuthFailed"],
                    "ResultPath": "$.error",
                    "Next": "AuthFailed",
                },
                {
                    "ErrorEquals": ["RefundPollingTimedOut", "RefundPending"],
                    "ResultPath": "$.error",
                    "Next": "TimedOut",
                },
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "CheckFailed"},
            ],
            "End": True,
        },
        "ProviderStillFailing": {
            "Type": "Pass",
            "Comment": "A long provider outage never ends the poll: back to checking.",
            "Next": "CheckRefund",
        },
        "UnknownProvider": {
            "Type": "Fail",
            "Error": "InvalidRequest",
            "Cause": "provider must be one of: " + ", ".join(PROVIDERS),
        },
        "NotFound": _fail("RefundNotFound"),
        "AuthFailed": _fail("ProviderAuthFailed"),
        "TimedOut": _fail("RefundPollingTimedOut"),
        # Keeps the check's own error name (ConfigurationError, ...), never its cause.
        "CheckFailed": {"Type": "Fail", "ErrorPath": "$.error.Error", "Cause": FAIL_CAUSES[None]},
    }
    return {
        "Comment": (
            "Polls one refund until its provider reports a final status, storing every "
            "observation in DynamoDB; succeeds with the normalized refund. Generated by "
            "devstack/poller_asl.py."
        ),
        "StartAt": "ChooseProvider",
        "States": states,
    }


def _fail(error: str) -> dict[str, Any]:
    return {"Type": "Fail", "Error": error, "Cause": FAIL_CAUSES[error]}


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


def main() -> None:
    ASL_PATH.write_text(render())
    sys.stdout.write(f"wrote {ASL_PATH}\n")


if __name__ == "__main__":
    main()
