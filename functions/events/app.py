"""The events function: the Pipe's enrichment, from outbox stream records to event details."""

from refund_core.events.pipe import build_enrichment_handler

lambda_handler = build_enrichment_handler()
