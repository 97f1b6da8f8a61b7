"""SureCart's refund object and error body, as documented (api-reference/refunds/retrieve)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from refund_core.providers.fields import NATIVE_MODEL_CONFIG, OptionalText


class ExpandedObject(BaseModel):
    """An expandable field sent as an object; only its id matters here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: OptionalText = None


class SureCartRefund(BaseModel):
    model_config = NATIVE_MODEL_CONFIG

    id: OptionalText = None
    object: Literal["refund"] | None = None
    status: StrictStr = Field(min_length=1)
    amount: StrictInt | None = None
    currency: OptionalText = None
    reason: OptionalText = None
    failure_reason: OptionalText = None
    external_refund_id: OptionalText = None
    live_mode: StrictBool | None = None
    # Expandable: an id string, or the object itself when expanded.
    charge: OptionalText | ExpandedObject = None
    created_at: StrictInt | None = None
    updated_at: StrictInt | None = None


class SureCartError(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    http_status: str | None = None
    type: str | None = None
    code: str | None = None
