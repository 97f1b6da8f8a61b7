"""The canonical refund: one shape for every provider (contract section 4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, computed_field

from refund_core.accounts import DEFAULT_ACCOUNT
from refund_core.timestamps import format_rfc3339


class RefundStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.CANCELED})


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    return value


UtcDateTime = Annotated[
    datetime,
    AfterValidator(_require_aware),
    PlainSerializer(format_rfc3339, return_type=str, when_used="json"),
]


class Refund(BaseModel):
    """A refund as the service answers it, whatever the provider."""

    # `terminal` is derived; a stored refund read back still carries it, so it is ignored on input.
    model_config = ConfigDict(frozen=True, extra="ignore")

    provider: str
    # The merchant account at `provider` (contract section 6); `default` on the routes
    # without `/accounts/{account}` and for records stored before accounts existed.
    account: str = DEFAULT_ACCOUNT
    refund_id: str
    status: RefundStatus
    provider_status: str | None
    amount: int | None = Field(default=None, ge=0)
    currency: str | None = None
    reason: str | None = None
    failure_reason: str | None = None
    payment_id: str | None = None
    created_at: UtcDateTime | None = None
    updated_at: UtcDateTime | None = None
    completed_at: UtcDateTime | None = None
    live_mode: bool | None = None
    fetched_at: UtcDateTime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def terminal(self) -> bool:
        return self.status.terminal

    def with_account(self, account: str) -> Refund:
        return self.model_copy(update={"account": account})

    def to_json_dict(self) -> dict[str, Any]:
        """The contract's JSON object, keys in the documented order."""
        body = self.model_dump(mode="json")
        return {key: body[key] for key in _FIELD_ORDER}


_FIELD_ORDER = (
    "provider",
    "account",
    "refund_id",
    "status",
    "terminal",
    "provider_status",
    "amount",
    "currency",
    "reason",
    "failure_reason",
    "payment_id",
    "created_at",
    "updated_at",
    "completed_at",
    "live_mode",
    "fetched_at",
)
