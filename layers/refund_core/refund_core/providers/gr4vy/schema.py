"""Gr4vy's refund and error body, as its SDK models them (gr4vy-python models/refund.py).

Only `status`, `amount` and `currency` are required here: the rest is read when present, so an
additive API change cannot break parsing. `status` is an open enum in the SDK as well.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from refund_core.providers.fields import (
    NATIVE_MODEL_CONFIG,
    OptionalBool,
    OptionalInt,
    OptionalText,
    StatusWord,
)


class Gr4vyRefund(BaseModel):
    model_config = NATIVE_MODEL_CONFIG

    type: Literal["refund"] | None = None
    id: OptionalText = None
    transaction_id: OptionalText = None
    payment_service_refund_id: OptionalText = None
    status: StatusWord
    # Required by the SDK's model; an empty value is still null (contract section 4).
    currency: OptionalText
    amount: OptionalInt
    reason: OptionalText = None
    target_type: OptionalText = None
    target_id: OptionalText = None
    external_identifier: OptionalText = None
    reconciliation_id: OptionalText = None
    created_at: OptionalText = None
    updated_at: OptionalText = None
    settled: OptionalBool = None
    error_code: OptionalText = None
    raw_response_code: OptionalText = None
    raw_response_description: OptionalText = None


class Gr4vyErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str | None = None
    code: str | None = None
