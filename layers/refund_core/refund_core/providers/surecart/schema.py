"""SureCart's refund object and error body, as documented (api-reference/refunds/retrieve)."""

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


class ExpandedObject(BaseModel):
    """An expandable field sent as an object; only its id matters here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: OptionalText = None


class SureCartRefund(BaseModel):
    model_config = NATIVE_MODEL_CONFIG

    id: OptionalText = None
    object: Literal["refund"] | None = None
    status: StatusWord
    amount: OptionalInt = None
    currency: OptionalText = None
    reason: OptionalText = None
    failure_reason: OptionalText = None
    external_refund_id: OptionalText = None
    live_mode: OptionalBool = None
    # Expandable: an id string, or the object itself when expanded.
    charge: OptionalText | ExpandedObject = None
    created_at: OptionalInt = None
    updated_at: OptionalInt = None


class SureCartError(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    http_status: str | None = None
    type: str | None = None
    code: str | None = None
