"""Shoplazza refund order to the canonical refund. Pure.

Amounts arrive as decimal strings in the major unit; they are converted to minor units by the
currency's ISO 4217 exponent, exactly, and refused rather than rounded when they do not fit.
"""

from __future__ import annotations

from datetime import datetime

from refund_core.model import Refund, RefundStatus
from refund_core.money import minor_units_from_decimal, normalize_currency
from refund_core.providers.shoplazza.schema import ShoplazzaRefundOrder
from refund_core.timestamps import from_iso8601

STATUS_MAP: dict[str, RefundStatus] = {
    "processing": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
}


def to_refund(native: ShoplazzaRefundOrder, *, refund_id: str, fetched_at: datetime) -> Refund:
    currency = normalize_currency(native.balance_currency)
    amount = None
    if native.amount is not None:
        if currency is None:
            raise ValueError("an amount without a currency cannot be converted exactly")
        amount = minor_units_from_decimal(native.amount, currency)
    return Refund(
        provider="shoplazza",
        refund_id=refund_id,
        status=STATUS_MAP.get(native.status or "", RefundStatus.UNKNOWN),
        provider_status=native.status,
        amount=amount,
        currency=currency,
        reason=None,
        failure_reason=None,
        payment_id=native.transaction_order_id,
        created_at=from_iso8601(native.created_at),
        updated_at=None,
        completed_at=from_iso8601(native.completed_at),
        live_mode=None,
        fetched_at=fetched_at,
    )
