"""Refund events (contract section 7): what is published on every stored status change.

`model` is the events' shape (and their JSON Schema, docs/events.schema.json); `outbox` is the
item each change writes in the same DynamoDB transaction as the record; `pipe` is the
EventBridge Pipe's enrichment, which turns an outbox item from the table's stream into the
event's `detail`. No code here publishes: the Pipe does, from the stream, so an event exists
exactly when its change was stored.
"""
