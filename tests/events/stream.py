"""Reading the records table's stream the way the template's Pipe does (its own filter)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from devstack.aws.pipes import PipeDefinition, as_pipe_record
from devstack.aws.template import load_template
from refund_core.events.pipe import event_details
from tests.dynamodb_local import REPO_ROOT

PIPE_LOGICAL_ID = "RefundEventsPipe"


def template_pipe() -> PipeDefinition:
    template = load_template(REPO_ROOT / "template.yaml")
    return PipeDefinition.from_resource(template.events[PIPE_LOGICAL_ID])


def stream_events(dynamodb: Any, table: str) -> list[tuple[str, dict[str, Any]]]:
    """(detail-type, detail) of every record the Pipe would carry, in stream order."""
    endpoint = dynamodb.meta.endpoint_url
    kwargs: dict[str, Any] = {"region_name": dynamodb.meta.region_name}
    if "amazonaws.com" not in endpoint:  # DynamoDB Local serves Streams on its own endpoint
        kwargs |= {
            "endpoint_url": endpoint,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
    streams = boto3.client("dynamodbstreams", **kwargs)
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    pipe = template_pipe()
    found: list[tuple[str, dict[str, Any]]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            answer = streams.get_records(ShardIterator=iterator)
            records = [as_pipe_record(r, arn) for r in answer.get("Records", [])]
            if not records:
                break
            for record in records:
                if pipe.matches(record):
                    (detail,) = event_details([record])
                    detail_type = record["dynamodb"]["NewImage"]["detail_type"]["S"]
                    found.append((detail_type, json.loads(json.dumps(detail))))
            iterator = answer.get("NextShardIterator")
    return found


def events_of(
    events: list[tuple[str, dict[str, Any]]], refund_id: str
) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, detail) for kind, detail in events if detail["refund_id"] == refund_id]
