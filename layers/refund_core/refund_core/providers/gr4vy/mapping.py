"""Gr4vy refund to the canonical refund. Pure.

`declined` (the processor said no) and `failed` (a technical failure) are both `failed`, with
Gr4vy's `error_code` (or the processor's description) as the reason; `voided` is `canceled`.
Gr4vy refunds carry no live/test flag: the credentials' environment decides `live_mode`.
"""

from __future__ import annotations

from datetime import datetime

from refund_core.model import Refund, RefundStatus
from refund_core.money import minor_units_from_integer, normalize_currency
from refund_core.providers.gr4vy.schema import Gr4vyRefund
from refund_core.timestamps import from_iso8601

STATUS_MAP: dict[str, RefundStatus] = {
    "processing": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "declined": RefundStatus.FAILED,
    "failed": RefundStatus.FAILED,
    "voided": RefundStatus.CANCELED,
}


def to_refund(
    native: Gr4vyRefund, *, refund_id: str, fetched_at: datetime, live_mode: bool
) -> Refund:
    status = STATUS_MAP.get(native.status or "", RefundStatus.UNKNOWN)
    failure_reason = None
    if status is RefundStatus.FAILED:
        failure_reason = native.error_code or native.raw_response_description
    return Refund(
        provider="gr4vy",
        refund_id=refund_id,
        status=status,
        provider_status=native.status,
        amount=None if native.amount is None else minor_units_from_integer(native.amount),
        currency=normalize_currency(native.currency),
        reason=native.reason,
        failure_reason=failure_reason,
        payment_id=native.transaction_id,
        created_at=from_iso8601(native.created_at),
        updated_at=from_iso8601(native.updated_at),
        completed_at=None,
        live_mode=live_mode,
        fetched_at=fetched_at,
    )
