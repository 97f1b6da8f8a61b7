"""ConvergeGate's refund object and error body (Retrieve checkout session refund)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from refund_core.providers.fields import (
    NATIVE_MODEL_CONFIG,
    OptionalBool,
    OptionalEpoch,
    OptionalInt,
    OptionalText,
    StatusWord,
)


class ConvergeGateRefund(BaseModel):
    model_config = NATIVE_MODEL_CONFIG

    id: OptionalText = None
    status: StatusWord
    amount: OptionalInt = None
    # Not documented for refunds; read if a future answer carries it.
    currency: OptionalText = None
    reason: OptionalText = None
    created_at: OptionalEpoch = None
    livemode: OptionalBool = None


class ConvergeGateError(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: str | None = None
    code: str | None = None


class ConvergeGateErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    error: ConvergeGateError
