"""SureCart refund to the canonical refund. Pure."""

from __future__ import annotations

from datetime import datetime

from refund_core.model import Refund, RefundStatus
from refund_core.money import minor_units_from_integer, normalize_currency
from refund_core.providers.surecart.schema import ExpandedObject, SureCartRefund
from refund_core.timestamps import from_epoch_seconds

STATUS_MAP: dict[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


def to_refund(native: SureCartRefund, *, refund_id: str, fetched_at: datetime) -> Refund:
    charge = native.charge.id if isinstance(native.charge, ExpandedObject) else native.charge
    return Refund(
        provider="surecart",
        refund_id=refund_id,
        status=STATUS_MAP.get(native.status or "", RefundStatus.UNKNOWN),
        provider_status=native.status,
        amount=None if native.amount is None else minor_units_from_integer(native.amount),
        currency=normalize_currency(native.currency),
        reason=native.reason,
        failure_reason=native.failure_reason,
        payment_id=charge,
        created_at=from_epoch_seconds(native.created_at),
        updated_at=from_epoch_seconds(native.updated_at),
        completed_at=None,
        live_mode=native.live_mode,
        fetched_at=fetched_at,
    )
