"""Refund events through the local stack the way AWS carries them (contract section 7): record
and outbox in one transaction, the table's stream, the template's own Pipe, the bus, a rule.

None lost, none invented: the function dying after its write, a throttled publish, a bus down
for a while all still deliver each event once and in order; a refused write publishes nothing;
what the Pipe gives up on lands in the dead-letter queue. And a consumer in another account
gets every event from one template parameter.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from devstack.aws.emulator import LocalAws
from devstack.aws.pipes import LocalPipe, PipeDefinition
from devstack.event_tap import EventTap
from refund_core.model import Refund, RefundStatus
from refund_core.poller.records import RefundRecords
from tests.devstack.conftest import TEMPLATE

PIPE = "RefundEventsPipe"
CONSUMER_ACCOUNT = "210987654321"
CONSUMER_BUS_ARN = f"arn:aws:events:us-east-1:{CONSUMER_ACCOUNT}:event-bus/consumer-bus"
SAME_ACCOUNT_QUEUE = "consumer-queue"
SAME_ACCOUNT_QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{SAME_ACCOUNT_QUEUE}"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:refund-status-refund-poller:x"
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclasses.dataclass
class Consumers:
    """The consumers EventConsumerArns names: their queues' clients and URLs."""

    their_sqs: Any
    their_inbox: str
    our_sqs: Any
    our_queue: str


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    overrides = {"EventConsumerArns": f"{CONSUMER_BUS_ARN},{SAME_ACCOUNT_QUEUE_ARN}"}
    with LocalAws(TEMPLATE, parameter_overrides=overrides) as local:
        yield local


@pytest.fixture(scope="module")
def consumers(aws: LocalAws) -> Consumers:
    """The consumer account's own bus with a rule to its own queue (moto's multi-account:
    the credentials of a role assumed in that account), and a queue in this account. They
    exist before any event is published (moto's PutEvents fails on a missing target)."""
    import boto3

    credentials = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{CONSUMER_ACCOUNT}:role/consumer", RoleSessionName="consumer"
    )["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name="us-east-1",
    )
    their_events = session.client("events", endpoint_url=aws.endpoint_url)
    their_sqs = session.client("sqs", endpoint_url=aws.endpoint_url)
    their_events.create_event_bus(Name="consumer-bus")
    inbox = their_sqs.create_queue(QueueName="refund-inbox")["QueueUrl"]
    inbox_arn = their_sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    assert f":{CONSUMER_ACCOUNT}:" in inbox_arn
    their_events.put_rule(
        Name="refunds", EventBusName="consumer-bus", EventPattern='{"source": ["refund-status"]}'
    )
    their_events.put_targets(
        Rule="refunds", EventBusName="consumer-bus", Targets=[{"Id": "inbox", "Arn": inbox_arn}]
    )
    ours = aws.client("sqs")
    return Consumers(
        their_sqs, inbox, ours, ours.create_queue(QueueName=SAME_ACCOUNT_QUEUE)["QueueUrl"]
    )


@pytest.fixture(scope="module")
def tap(aws: LocalAws, consumers: Consumers) -> EventTap:
    return EventTap.attach(aws)


@pytest.fixture
def records(aws: LocalAws) -> RefundRecords:
    return RefundRecords(aws.client("dynamodb"), aws.template.tables["RefundRecordsTable"].name)


_serial = iter(range(10**6))


def new_refund_id() -> str:
    return f"evt-{next(_serial)}"


def observe(records: RefundRecords, refund_id: str, status: RefundStatus, second: int) -> None:
    refund = Refund(
        provider="gr4vy",
        refund_id=refund_id,
        status=status,
        provider_status=status.value,
        fetched_at=T0 + timedelta(seconds=second),
    )
    records.record_observation(
        refund, execution_arn=EXECUTION, checked_at=T0 + timedelta(seconds=second)
    )


def delivered(aws: LocalAws, tap: EventTap, refund_id: str) -> list[dict[str, Any]]:
    assert aws.wait_for_pipes()
    tap.collect()
    return tap.of_refund("gr4vy", "default", refund_id)


def statuses(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [(e["detail"]["metadata"]["sequence"], e["detail"]["status"]) for e in events]


class FlakyBus:
    """An events client whose PutEvents fails `failures` times (throttled, or unreachable),
    then passes through."""

    def __init__(self, real: Any, failures: int, *, unreachable: bool = False) -> None:
        self.real, self.failures, self.unreachable, self.calls = real, failures, unreachable, 0

    def put_events(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            if self.unreachable:
                raise EndpointConnectionError(endpoint_url="https://events.local")
            entries = kwargs["Entries"]
            return {
                "FailedEntryCount": len(entries),
                "Entries": [
                    {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
                    for _ in entries
                ],
            }
        return self.real.put_events(**kwargs)


@pytest.fixture
def flaky(aws: LocalAws) -> Iterator[Any]:
    pipe = aws.pipe(PIPE)
    real = pipe.events

    def install(failures: int, *, unreachable: bool = False) -> FlakyBus:
        pipe.events = FlakyBus(real, failures, unreachable=unreachable)
        return pipe.events

    yield install
    pipe.events = real


# --------------------------------------------------------------------------- none lost


def test_each_change_arrives_once_in_order_on_the_bus(
    aws: LocalAws, tap: EventTap, records: RefundRecords
) -> None:
    refund_id = new_refund_id()
    observe(records, refund_id, RefundStatus.PENDING, 0)
    observe(records, refund_id, RefundStatus.PENDING, 30)
    observe(records, refund_id, RefundStatus.SUCCEEDED, 60)

    events = delivered(aws, tap, refund_id)
    assert statuses(events) == [(1, "pending"), (2, "succeeded")]
    assert {e["source"] for e in events} == {"refund-status"}
    assert [e["detail-type"] for e in events] == ["Refund Status Changed"] * 2
    # `time` is when the change was stored (the outbox's event_time), not when it was carried
    assert [e["time"] for e in events] == ["2026-12-07T12:00:00Z", "2026-12-07T12:01:00Z"]


def test_a_function_that_dies_after_its_write_still_delivers_the_event_once(
    aws: LocalAws, tap: EventTap, records: RefundRecords
) -> None:
    """The write commits, then the check's process is gone (no code of ours runs after it);
    Step Functions retries the check, which sees the same status: one event, not two."""
    refund_id = new_refund_id()
    observe(records, refund_id, RefundStatus.SUCCEEDED, 0)  # ... and the function dies here
    observe(records, refund_id, RefundStatus.SUCCEEDED, 5)  # the retried check

    assert statuses(delivered(aws, tap, refund_id)) == [(1, "succeeded")]


def test_a_throttled_publish_is_retried_until_delivered_in_order(
    aws: LocalAws, tap: EventTap, records: RefundRecords, flaky: Any
) -> None:
    bus = flaky(failures=3)
    refund_id = new_refund_id()
    observe(records, refund_id, RefundStatus.PENDING, 0)
    observe(records, refund_id, RefundStatus.FAILED, 60)

    events = delivered(aws, tap, refund_id)
    assert statuses(events) == [(1, "pending"), (2, "failed")]
    assert bus.calls == 3 + 2  # three refusals of the first, then one call each
    assert len({e["detail"]["metadata"]["event_id"] for e in events}) == 2


def test_a_bus_down_for_a_while_delivers_everything_when_it_is_back(
    aws: LocalAws, tap: EventTap, records: RefundRecords, flaky: Any
) -> None:
    bus = flaky(failures=10**6, unreachable=True)
    refund_id = new_refund_id()
    observe(records, refund_id, RefundStatus.PENDING, 0)
    observe(records, refund_id, RefundStatus.CANCELED, 60)
    deadline = time.monotonic() + 10
    while bus.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    tap.collect()
    assert bus.calls >= 3
    assert tap.of_refund("gr4vy", "default", refund_id) == []

    bus.failures = 0  # the bus is back
    assert statuses(delivered(aws, tap, refund_id)) == [(1, "pending"), (2, "canceled")]


def test_a_write_a_condition_refused_publishes_nothing(
    aws: LocalAws, tap: EventTap, records: RefundRecords
) -> None:
    refund_id = new_refund_id()
    observe(records, refund_id, RefundStatus.SUCCEEDED, 100)
    observe(records, refund_id, RefundStatus.PENDING, 50)  # older
    observe(records, refund_id, RefundStatus.PENDING, 150)  # final never goes back

    assert statuses(delivered(aws, tap, refund_id)) == [(1, "succeeded")]


def test_what_the_pipe_gives_up_on_lands_in_the_dead_letter_queue(
    aws: LocalAws, records: RefundRecords
) -> None:
    """A record older than MaximumRecordAgeInSeconds that still cannot be published goes to
    the DLQ with the stream position a person needs to replay it; it is never just dropped."""
    template_pipe = PipeDefinition.from_resource(aws.template.events[PIPE])
    assert template_pipe.maximum_record_age_seconds == 82800  # before the stream's 24 h
    late_clock = lambda: time.time() + 86400  # noqa: E731 - a day later than the records
    clients = aws.pipe_clients(PIPE)  # signed as the pipe: its calls checked against its role
    never = FlakyBus(clients.pop("events"), failures=10**6, unreachable=True)
    pipe = LocalPipe(
        dataclasses.replace(template_pipe, starting_position="LATEST"),
        **clients,
        events=never,
        invoke=lambda arn, event: aws.lambdas.invoke(arn, event).payload,
        now=late_clock,
    )
    pipe.start()
    try:
        assert pipe.wait_idle()  # reading from LATEST
        observe(records, new_refund_id(), RefundStatus.PENDING, 0)
        assert pipe.wait_idle()
    finally:
        pipe.stop()

    sqs = aws.client("sqs")
    queue = aws.template.events["RefundEventsDeadLetterQueue"].name
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert body["DDBStreamBatchInfo"]["batchSize"] == 1
    assert body["DDBStreamBatchInfo"]["shardId"].startswith("shardId-")
    assert body["DDBStreamBatchInfo"]["streamArn"].startswith(
        "arn:aws:dynamodb:us-east-1:123456789012:table/"
    )
    assert pipe.stats.dead_lettered == 1
    assert pipe.stats.delivered == 0


# --------------------------------------------------------------------------- consumers


def test_consumers_named_by_the_template_parameter_get_every_event(
    aws: LocalAws, records: RefundRecords, consumers: Consumers
) -> None:
    """EventConsumerArns: a bus in another account, and a queue; no code changed."""
    rule = aws.template.events["EventConsumersRule"].properties
    assert [t["Arn"] for t in rule["Targets"]] == [CONSUMER_BUS_ARN, SAME_ACCOUNT_QUEUE_ARN]

    refund_id = new_refund_id()
    observe(records, refund_id, RefundStatus.SUCCEEDED, 0)
    assert aws.wait_for_pipes()

    for sqs, url in (
        (consumers.their_sqs, consumers.their_inbox),
        (consumers.our_sqs, consumers.our_queue),
    ):
        bodies = [
            json.loads(m["Body"])
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)[
                "Messages"
            ]
        ]
        mine = [b for b in bodies if b["detail"]["refund_id"] == refund_id]
        assert [(b["detail-type"], b["detail"]["status"]) for b in mine] == [
            ("Refund Status Changed", "succeeded")
        ]


def test_without_consumers_there_is_no_consumer_rule() -> None:
    from devstack.aws.template import load_template

    template = load_template(TEMPLATE)
    assert "EventConsumersRule" not in template.events
    assert "RefundEventArchive" in template.events
    five = ",".join(f"arn:aws:sqs:us-east-1:{n:012d}:q" for n in range(1, 6))
    targets = (
        load_template(TEMPLATE, {"EventConsumerArns": five})
        .events["EventConsumersRule"]
        .properties["Targets"]
    )
    assert [t["Id"] for t in targets] == [f"consumer-{n}" for n in range(1, 6)]
    assert all(
        t["DeadLetterConfig"]["Arn"].endswith("RefundEventsDeadLetterQueue") for t in targets
    )
