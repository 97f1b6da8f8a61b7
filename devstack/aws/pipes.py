"""An EventBridge Pipe from a DynamoDB stream to an event bus, run from its template definition.

moto accepts `CreatePipe` and moves nothing, so the local stack runs the template's
`AWS::Pipes::Pipe` itself, the way the Pipes service documents it:

- it reads the table's stream (moto's DynamoDB Streams) from `StartingPosition`, shard by shard;
- `FilterCriteria` patterns are matched by moto's own EventBridge pattern engine against each
  record as the Pipe sees it (`eventName`, `dynamodb.NewImage`, ...): unmatched records are
  dropped without cost, as in AWS;
- batches of `BatchSize` go to the `Enrichment` function (a local Lambda worker), whose answer
  holds one event detail per record;
- each detail goes to the `Target` bus with `TargetParameters.EventBridgeEventBusParameters`,
  a dynamic `$.` path read from the source record;
- a batch whose enrichment fails or whose `PutEvents` is refused in part (throttled, the bus
  unreachable) is retried, with backoff, from the same stream position: the shard does not move
  past it until it is delivered or older than `MaximumRecordAgeInSeconds`, when its records go
  to the `DeadLetterConfig` queue as the Pipes service sends them (batch metadata).

What the local pipe cannot run (another source or target kind, input templates, ...) is
refused by name.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, cast

from moto.events.models import EventPattern

from devstack.aws.errors import TemplateError, UnsupportedProperty
from devstack.aws.template import PIPE, DeclaredResource

_STREAM_PARAMETERS: Final = frozenset(
    {
        "StartingPosition",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "ParallelizationFactor",  # order per key is what matters; one local reader keeps it
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "DeadLetterConfig",
        "OnPartialBatchItemFailure",
    }
)
_SOURCE_PARAMETERS: Final = frozenset({"DynamoDBStreamParameters", "FilterCriteria"})
_BUS_PARAMETERS: Final = frozenset({"Source", "DetailType", "Time", "Resources"})
_TARGET_PARAMETERS: Final = frozenset({"EventBridgeEventBusParameters"})
_RETRY_FIRST_SECONDS: Final = 0.05
_RETRY_MAX_SECONDS: Final = 2.0


@dataclass(frozen=True)
class PipeDefinition:
    """What the local pipe needs from an `AWS::Pipes::Pipe` of the template."""

    logical_id: str
    name: str
    table_name: str
    patterns: tuple[EventPattern, ...]
    enrichment_arn: str | None
    bus_arn: str
    bus_parameters: Mapping[str, Any]
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = 1
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    dead_letter_arn: str | None = None

    @classmethod
    def from_resource(cls, resource: DeclaredResource) -> PipeDefinition:
        if resource.resource_type != PIPE:
            raise TemplateError(f"{resource.logical_id} is not an {PIPE}")
        props = resource.properties
        where = resource.logical_id

        def refuse_unknown(values: Mapping[str, Any], known: frozenset[str], path: str) -> None:
            for key in values:
                if key not in known:
                    raise UnsupportedProperty(where, PIPE, f"{path}.{key}")

        source = props.get("SourceParameters") or {}
        refuse_unknown(source, _SOURCE_PARAMETERS, "SourceParameters")
        stream = source.get("DynamoDBStreamParameters") or {}
        refuse_unknown(stream, _STREAM_PARAMETERS, "SourceParameters.DynamoDBStreamParameters")
        target = props.get("TargetParameters") or {}
        refuse_unknown(target, _TARGET_PARAMETERS, "TargetParameters")
        bus = target.get("EventBridgeEventBusParameters") or {}
        refuse_unknown(bus, _BUS_PARAMETERS, "TargetParameters.EventBridgeEventBusParameters")
        filters = (source.get("FilterCriteria") or {}).get("Filters") or []
        return cls(
            logical_id=where,
            name=resource.name,
            table_name=_stream_table(where, str(props.get("Source", ""))),
            patterns=tuple(EventPattern.load(str(item["Pattern"])) for item in filters),
            enrichment_arn=props.get("Enrichment"),
            bus_arn=_bus_arn(where, str(props.get("Target", ""))),
            bus_parameters=dict(bus),
            starting_position=str(stream.get("StartingPosition", "TRIM_HORIZON")),
            batch_size=int(stream.get("BatchSize", 1)),
            maximum_retry_attempts=int(stream.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(stream.get("MaximumRecordAgeInSeconds", -1)),
            dead_letter_arn=(stream.get("DeadLetterConfig") or {}).get("Arn"),
        )

    def matches(self, record: Mapping[str, Any]) -> bool:
        event = cast(Any, dict(record))
        return not self.patterns or any(p.matches_event(event) for p in self.patterns)


def _stream_table(where: str, source: str) -> str:
    # arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    parts = source.split(":", 5)
    resource = parts[5] if len(parts) == 6 and parts[2] == "dynamodb" else ""
    pieces = resource.split("/")
    if len(pieces) < 4 or pieces[0] != "table" or pieces[2] != "stream":
        raise UnsupportedProperty(where, PIPE, "Source (only a DynamoDB stream runs locally)")
    return pieces[1]


def _bus_arn(where: str, target: str) -> str:
    if ":events:" not in target or ":event-bus/" not in target:
        raise UnsupportedProperty(where, PIPE, "Target (only an event bus runs locally)")
    return target


def json_path(document: Any, path: str) -> Any:
    """The value at `$.a.b.c` (the dot notation Pipes' dynamic parameters take)."""
    if not path.startswith("$."):
        raise TemplateError(f"not a JSON path: {path!r}")
    value = document
    for part in path[2:].split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(path)
    return value


class DeliveryFailed(Exception):
    """A batch that did not reach the bus whole; it is retried from the same position."""


Invoke = Callable[[str, Any], Any]  # (function ARN, event) -> the function's JSON answer


@dataclass
class PipeStats:
    delivered: int = 0  # events accepted by the bus
    filtered_out: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    errors: list[str] = field(default_factory=list)


class LocalPipe:
    """Runs one pipe in a thread: `start()`, `wait_idle()`, `stop()`."""

    def __init__(
        self,
        definition: PipeDefinition,
        *,
        dynamodb: Any,
        streams: Any,
        events: Any,
        sqs: Any,
        invoke: Invoke,
        poll_seconds: float = 0.02,
        idle_poll_seconds: float = 0.5,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.definition = definition
        self.stats = PipeStats()
        # The client the pipe publishes with (a test wraps it to make the bus fail).
        self.events = events
        self._dynamodb, self._streams, self._sqs = dynamodb, streams, sqs
        self._invoke = invoke
        # After a record, poll again soon; idle, back off to idle_poll_seconds (wait_idle and
        # stop wake the loop at once), so an idle stack does not keep a core busy.
        self._poll_seconds, self._idle_poll_seconds = poll_seconds, idle_poll_seconds
        self._now = now
        self._iterators: dict[str, str | None] = {}
        self._stream: tuple[str, float] | None = None  # (ARN, when its shards were listed)
        self._shard_ids: list[str] = []
        self._shard_id = ""  # the shard being delivered (its dead letters name it)
        self._stop = threading.Event()
        self._wake = threading.Event()
        # Polls started, and the start number of the last poll that found nothing new.
        self._polls = 0
        self._last_idle_poll = -1
        self._progress = threading.Condition()
        self._thread = threading.Thread(
            target=self._run, name=f"pipe-{definition.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once the pipe has read every record written before this call (and delivered
        or dead-lettered them): a poll that started after the call found nothing new."""
        with self._progress:
            called_at = self._polls
            self._wake.set()
            return self._progress.wait_for(lambda: self._last_idle_poll > called_at, timeout)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        pause = self._poll_seconds
        while not self._stop.is_set():
            with self._progress:
                self._polls += 1
                started = self._polls
            try:
                moved = self._poll_once()
            except Exception as exc:  # keep the pipe alive; say why, as Pipes' logs would
                self.stats.errors.append(f"{type(exc).__name__}: {exc}")
                moved = True  # not idle: it did not read to the end
            if moved:
                pause = self._poll_seconds
            else:
                with self._progress:
                    self._last_idle_poll = started
                    self._progress.notify_all()
                pause = min(pause * 2, self._idle_poll_seconds)
            self._wake.wait(pause)
            self._wake.clear()

    def _shards(self) -> tuple[str, list[str]]:
        """The stream's ARN and shard ids, listed again at most once a second."""
        if self._stream is None or self._now() - self._stream[1] > 1.0:
            table = self._dynamodb.describe_table(TableName=self.definition.table_name)["Table"]
            if not table.get("LatestStreamArn"):
                raise TemplateError(f"{self.definition.table_name} has no stream")
            self._stream = (table["LatestStreamArn"], self._now())
            description = self._streams.describe_stream(StreamArn=self._stream[0])
            self._shard_ids = [s["ShardId"] for s in description["StreamDescription"]["Shards"]]
        return self._stream[0], self._shard_ids

    def _poll_once(self) -> bool:
        """Read each shard once and deliver what it held; True when any record was read."""
        stream_arn, shard_ids = self._shards()
        moved = False
        for shard_id in shard_ids:
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self._streams.get_shard_iterator(
                    StreamArn=stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType=self.definition.starting_position,
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            if iterator is None:  # a closed shard, read to its end
                continue
            answer = self._streams.get_records(ShardIterator=iterator)
            records = [as_pipe_record(r, stream_arn) for r in answer.get("Records", [])]
            if records:
                moved = True
                self._shard_id = shard_id
                self._deliver_in_order(records)
            if self._stop.is_set():
                return moved
            self._iterators[shard_id] = answer.get("NextShardIterator")
        return moved

    def _deliver_in_order(self, records: Sequence[dict[str, Any]]) -> None:
        matched = [r for r in records if self.definition.matches(r)]
        self.stats.filtered_out += len(records) - len(matched)
        size = max(1, self.definition.batch_size)
        for start in range(0, len(matched), size):
            self._deliver_with_retries(matched[start : start + size])

    def _deliver_with_retries(self, batch: list[dict[str, Any]]) -> None:
        attempts, wait = 0, _RETRY_FIRST_SECONDS
        limit = self.definition.maximum_retry_attempts
        while not self._stop.is_set():
            try:
                self._deliver(batch)
                return
            except DeliveryFailed as failure:
                self.stats.failed_attempts += 1
                self.stats.errors.append(str(failure))
                attempts += 1
                if (limit >= 0 and attempts > limit) or self._too_old(batch):
                    self._dead_letter(batch, str(failure))
                    return
                self._stop.wait(wait)
                wait = min(wait * 2, _RETRY_MAX_SECONDS)

    def _too_old(self, batch: Sequence[Mapping[str, Any]]) -> bool:
        limit = self.definition.maximum_record_age_seconds
        if limit < 0:
            return False
        oldest = min(float(r["dynamodb"]["ApproximateCreationDateTime"]) for r in batch)
        return self._now() - oldest > limit

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        details: Any = batch
        if self.definition.enrichment_arn:
            try:
                details = self._invoke(self.definition.enrichment_arn, batch)
            except Exception as exc:
                raise DeliveryFailed(f"enrichment failed: {exc}") from exc
        if not isinstance(details, list) or len(details) != len(batch):
            raise DeliveryFailed("the enrichment must answer one detail per record")
        entries = [
            self._entry(record, detail) for record, detail in zip(batch, details, strict=True)
        ]
        try:
            answer = self.events.put_events(Entries=entries)
        except Exception as exc:  # the bus unreachable, throttled as an error...
            raise DeliveryFailed(f"PutEvents failed: {type(exc).__name__}: {exc}") from exc
        failed = int(answer.get("FailedEntryCount", 0))
        self.stats.delivered += len(entries) - failed
        if failed:
            codes = sorted({e.get("ErrorCode", "?") for e in answer["Entries"] if "ErrorCode" in e})
            # (PutEvents is not atomic: a consumer may see an accepted entry twice; at least once.)
            raise DeliveryFailed(f"PutEvents refused {failed} of {len(entries)}: {codes}")

    def _entry(self, record: Mapping[str, Any], detail: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "EventBusName": self.definition.bus_arn,
            "Detail": json.dumps(detail),
        }
        for parameter, key in (("Source", "Source"), ("DetailType", "DetailType")):
            if parameter in self.definition.bus_parameters:
                entry[key] = self._parameter(record, self.definition.bus_parameters[parameter])
        if "Time" in self.definition.bus_parameters:
            moment = self._parameter(record, self.definition.bus_parameters["Time"])
            entry["Time"] = datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
        if "Resources" in self.definition.bus_parameters:
            entry["Resources"] = [
                self._parameter(record, value)
                for value in self.definition.bus_parameters["Resources"]
            ]
        return entry

    @staticmethod
    def _parameter(record: Mapping[str, Any], value: Any) -> Any:
        # A whole value starting with `$.` is a dynamic path into the source record.
        if isinstance(value, str) and value.startswith("$."):
            try:
                return json_path(record, value)
            except KeyError as exc:
                raise DeliveryFailed(f"dynamic parameter {value} is not in the record") from exc
        return value

    def _dead_letter(self, batch: Sequence[Mapping[str, Any]], reason: str) -> None:
        self.stats.dead_lettered += len(batch)
        if not self.definition.dead_letter_arn:
            return
        queue_name = self.definition.dead_letter_arn.rsplit(":", 1)[-1]
        url = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in batch]
        body = {
            "context": {"pipeName": self.definition.name, "reason": reason},
            "DDBStreamBatchInfo": {
                "shardId": self._shard_id,
                "streamArn": batch[0]["eventSourceARN"],
                "startSequenceNumber": sequence_numbers[0],
                "endSequenceNumber": sequence_numbers[-1],
                "batchSize": len(batch),
            },
        }
        self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))


def as_pipe_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A Streams API record as a pipe's source event carries it (JSON: epoch seconds)."""
    shaped = json.loads(json.dumps(record, default=_epoch_seconds))
    shaped["eventSourceARN"] = stream_arn
    return dict(shaped)


def _epoch_seconds(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")
