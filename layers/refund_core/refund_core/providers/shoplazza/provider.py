"""Shoplazza's client: the base algorithm with Shoplazza's transport, envelope and mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from refund_core.model import Refund
from refund_core.providers.base import ErrorKind, RefundProvider
from refund_core.providers.shoplazza import mapping, transport
from refund_core.providers.shoplazza.schema import ShoplazzaEnvelope, ShoplazzaRefundOrder


class ShoplazzaProvider(RefundProvider[transport.ShoplazzaCredentials, ShoplazzaRefundOrder]):
    name = "shoplazza"
    display_name = "Shoplazza"
    credentials_model = transport.ShoplazzaCredentials
    native_model = ShoplazzaEnvelope

    def build_request(self, refund_id: str) -> httpx.Request:
        return transport.build_refund_request(self.client, self.credentials, refund_id)

    def parse_refund(self, payload: Any) -> ShoplazzaRefundOrder:
        envelope = ShoplazzaEnvelope.model_validate(payload)
        if not envelope.succeeded:
            # An error inside a 200 envelope: judged by its code like any error body.
            kind = transport.code_kind(envelope.code) or ErrorKind.BAD_REQUEST
            raise self.error_of_kind(kind, 200)
        if envelope.data is None:
            raise ValueError("a success envelope without data")
        return envelope.data.refund_order

    def map_refund(
        self, native: ShoplazzaRefundOrder, *, refund_id: str, fetched_at: datetime
    ) -> Refund:
        return mapping.to_refund(native, refund_id=refund_id, fetched_at=fetched_at)

    def error_kind(self, status: int, body: Any) -> ErrorKind | None:
        return transport.error_kind(status, body)


PROVIDER = ShoplazzaProvider
