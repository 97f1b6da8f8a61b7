"""A consumer of the local stack's refund events: an SQS queue behind a rule on the bus.

What a team subscribing to refund changes sets up (README, "Events"), made by the local stack
so that `make up` can show the events (`python -m devstack events` tails the queue) and
`make demo` can print each refund's events in the order they arrived.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from devstack.aws.emulator import LocalAws

TAP_QUEUE: Final = "local-refund-events"
TAP_RULE: Final = "local-refund-events"
BUS_LOGICAL_ID: Final = "RefundEventBus"
# The pattern of every refund event (contract section 7).
EVERY_REFUND_EVENT: Final = {"source": ["refund-status"]}


@dataclass
class EventTap:
    """The tap's queue; `collect()` moves what arrived into `received`, in arrival order."""

    sqs: Any
    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def attach(cls, aws: LocalAws) -> EventTap:
        sqs, events = aws.client("sqs"), aws.client("events")
        url = sqs.create_queue(QueueName=TAP_QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        bus = aws.template.events[BUS_LOGICAL_ID].name
        events.put_rule(
            Name=TAP_RULE, EventBusName=bus, EventPattern=json.dumps(EVERY_REFUND_EVENT)
        )
        events.put_targets(Rule=TAP_RULE, EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])
        return cls(sqs, url)

    @classmethod
    def of_queue(cls, sqs: Any) -> EventTap:
        """The tap of a stack running elsewhere (`make up`), found by its queue's name."""
        return cls(sqs, sqs.get_queue_url(QueueName=TAP_QUEUE)["QueueUrl"])

    def collect(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Receive (and delete) what the queue holds; the new events, in arrival order."""
        new: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=0 if new else wait_seconds,
            )
            messages = answer.get("Messages", [])
            if not messages:
                break
            for message in messages:
                new.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        self.received += new
        return new

    def of_refund(self, provider: str, account: str, refund_id: str) -> list[dict[str, Any]]:
        return [
            event
            for event in self.received
            if (
                event["detail"]["provider"],
                event["detail"]["account"],
                event["detail"]["refund_id"],
            )
            == (provider, account, refund_id)
        ]


def one_line(event: dict[str, Any]) -> str:
    """An event as one line: its type, refund, sequence and what changed."""
    detail = event["detail"]
    what = (
        f"{detail['previous_status'] or '∅'} → {detail['status']}"
        + (" (late failure)" if detail["late_failure"] else "")
        if event["detail-type"] == "Refund Status Changed"
        else f"{detail['polling_state']} ({detail['code']}), status {detail['status'] or '∅'}"
    )
    return (
        f"#{detail['metadata']['sequence']} {event['detail-type']:22} {detail['provider']}/"
        f"{detail['account']}/{detail['refund_id']}: {what}"
    )
