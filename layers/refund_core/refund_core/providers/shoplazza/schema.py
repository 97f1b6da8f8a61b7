"""Shoplazza's refund order envelope and error body (Get Refund Order Details)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr

from refund_core.providers.fields import NATIVE_MODEL_CONFIG, OptionalText, StatusWord


class ShoplazzaRefundOrder(BaseModel):
    model_config = NATIVE_MODEL_CONFIG

    id: StrictStr | StrictInt | None = None
    store_id: StrictStr | StrictInt | None = None
    transaction_order_id: OptionalText = None
    status: StatusWord
    # Decimal strings ("50.00") in the currency's major unit, converted exactly in mapping.
    amount: OptionalText = None
    balance_currency: OptionalText = None
    original_order_amount: OptionalText = None
    created_at: OptionalText = None
    completed_at: OptionalText = None


class ShoplazzaRefundData(BaseModel):
    model_config = NATIVE_MODEL_CONFIG

    refund_order: ShoplazzaRefundOrder


class ShoplazzaEnvelope(BaseModel):
    model_config = NATIVE_MODEL_CONFIG

    code: StrictStr
    message: StrictStr | None = None
    data: ShoplazzaRefundData | None = None

    @property
    def succeeded(self) -> bool:
        # The docs write both "Success" and "success".
        return self.code.lower() == "success"


class ShoplazzaErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    code: str | None = None
    error: str | None = None
