"""ConvergeGate refund to the canonical refund. Pure.

A ConvergeGate refund names neither its currency nor its checkout session, so `currency` and
`payment_id` are always null; `amount` is already in minor units.
"""

from __future__ import annotations

from datetime import datetime

from refund_core.model import Refund, RefundStatus
from refund_core.money import minor_units_from_integer, normalize_currency
from refund_core.providers.convergegate.schema import ConvergeGateRefund
from refund_core.timestamps import from_epoch_seconds

STATUS_MAP: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
    "cancelled": RefundStatus.CANCELED,
}


def to_refund(native: ConvergeGateRefund, *, refund_id: str, fetched_at: datetime) -> Refund:
    return Refund(
        provider="convergegate",
        refund_id=refund_id,
        status=STATUS_MAP.get(native.status or "", RefundStatus.UNKNOWN),
        provider_status=native.status,
        amount=None if native.amount is None else minor_units_from_integer(native.amount),
        currency=normalize_currency(native.currency),
        reason=native.reason,
        failure_reason=None,
        payment_id=None,
        created_at=from_epoch_seconds(native.created_at),
        updated_at=None,
        completed_at=None,
        live_mode=native.livemode,
        fetched_at=fetched_at,
    )
