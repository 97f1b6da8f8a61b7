"""ConvergeGate's client: the base algorithm with ConvergeGate's transport, schema and mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from refund_core.model import Refund
from refund_core.providers.base import ErrorKind, RefundProvider
from refund_core.providers.convergegate import mapping, transport
from refund_core.providers.convergegate.schema import ConvergeGateRefund


class ConvergeGateProvider(RefundProvider[transport.ConvergeGateCredentials, ConvergeGateRefund]):
    name = "convergegate"
    display_name = "ConvergeGate"
    credentials_model = transport.ConvergeGateCredentials
    native_model = ConvergeGateRefund

    def build_request(self, refund_id: str) -> httpx.Request:
        return transport.build_refund_request(self.client, self.credentials, refund_id)

    def map_refund(
        self, native: ConvergeGateRefund, *, refund_id: str, fetched_at: datetime
    ) -> Refund:
        return mapping.to_refund(native, refund_id=refund_id, fetched_at=fetched_at)

    def error_kind(self, status: int, body: Any) -> ErrorKind | None:
        return transport.error_kind(status, body)


PROVIDER = ConvergeGateProvider
