"""Gr4vy's client: the base algorithm with Gr4vy's signed transport, schema and mapping."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from refund_core.accounts import DEFAULT_ACCOUNT
from refund_core.model import Refund
from refund_core.providers.base import ErrorKind, RefundProvider
from refund_core.providers.gr4vy import mapping, transport
from refund_core.providers.gr4vy.schema import Gr4vyRefund


class Gr4vyProvider(RefundProvider[transport.Gr4vyCredentials, Gr4vyRefund]):
    name = "gr4vy"
    display_name = "Gr4vy"
    credentials_model = transport.Gr4vyCredentials
    native_model = Gr4vyRefund

    def __init__(
        self,
        credentials: transport.Gr4vyCredentials,
        *,
        client: httpx.Client,
        timeout_seconds: float,
        account: str = DEFAULT_ACCOUNT,
    ) -> None:
        super().__init__(
            credentials, client=client, timeout_seconds=timeout_seconds, account=account
        )
        self.signer = transport.build_signer(credentials)

    def build_request(self, refund_id: str) -> httpx.Request:
        return transport.build_refund_request(self.client, self.credentials, self.signer, refund_id)

    def map_refund(self, native: Gr4vyRefund, *, refund_id: str, fetched_at: datetime) -> Refund:
        return mapping.to_refund(
            native,
            refund_id=refund_id,
            fetched_at=fetched_at,
            live_mode=self.credentials.environment == "production",
        )

    def error_kind(self, status: int, body: Any) -> ErrorKind | None:
        return transport.error_kind(status, body)


PROVIDER = Gr4vyProvider
