"""SureCart refunds: ``GET /v1/refunds/{id}`` with ``Authorization: Bearer <api token>``."""

from __future__ import annotations

import hmac
import uuid
from email.message import Message
from typing import ClassVar

from .base import JsonObject, Provider, Reply, StoredRefund, json_reply, random_alnum

_PREFIX = "/v1/refunds/"
# status, http_status symbol, type, code, message. The docs' own example pairs 422 with
# type "not_found" and a dotted code ("product.not_found"); the rest follow that pattern.
_ERRORS: dict[str, tuple[int, str, str, str, str]] = {
    "not_found": (404, "not_found", "not_found", "refund.not_found", "Unable to find refund"),
    "not_found_422": (
        422,
        "unprocessable_entity",
        "not_found",
        "refund.not_found",
        "Unable to find refund",
    ),
    "bad_request": (400, "bad_request", "bad_request", "bad_request", "The request was invalid."),
    "unauthorized": (
        401,
        "unauthorized",
        "unauthorized",
        "unauthorized",
        "Invalid API token provided.",
    ),
    "forbidden": (403, "forbidden", "forbidden", "forbidden", "You may not access this refund."),
    "rate_limited": (
        429,
        "too_many_requests",
        "rate_limit",
        "rate_limit",
        "Too many requests. Please slow down.",
    ),
    "server_error": (
        500,
        "internal_server_error",
        "server_error",
        "server_error",
        "Something went wrong.",
    ),
    "bad_gateway": (502, "bad_gateway", "server_error", "server_error", "Bad gateway."),
    "service_unavailable": (
        503,
        "service_unavailable",
        "server_error",
        "server_error",
        "Service unavailable.",
    ),
    "gateway_timeout": (504, "gateway_timeout", "server_error", "server_error", "Gateway timeout."),
}


class SureCart(Provider):
    """The SureCart dialect: lower-case currency, epoch-second times, Stripe-backed refunds."""

    name: ClassVar[str] = "surecart"
    statuses: ClassVar[frozenset[str]] = frozenset({"pending", "succeeded", "failed", "canceled"})
    pending_status: ClassVar[str] = "pending"
    extra_error_faults: ClassVar[frozenset[str]] = frozenset({"not_found_422"})

    def __init__(self, api_token: str | None = None) -> None:
        # [inference] SureCart does not publish a token format; an opaque string is enough.
        self.api_token = api_token or random_alnum(32)

    def route(self, path: str) -> str | None:
        if not path.startswith(_PREFIX):
            return None
        refund_id = path[len(_PREFIX) :]
        return refund_id if refund_id and "/" not in refund_id else None

    def authenticate(self, headers: Message) -> Reply | None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_token.encode()
        ):
            return None
        status, body = self.error("unauthorized", None)
        return json_reply(status, body)

    def refund_path(self, refund_id: str) -> str:
        return _PREFIX + refund_id

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_token}"}

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def new_fields(self, refund_id: str) -> JsonObject:
        return {
            "charge": str(uuid.uuid4()),
            "customer": str(uuid.uuid4()),
            # [inference] `re_…` as Stripe refund ids; the docs' example is opaque.
            "external_refund_id": f"re_{random_alnum(24)}",
        }

    def render(self, refund: StoredRefund, status: str, updated_at: float) -> JsonObject:
        return {
            "id": refund.id,
            "object": "refund",
            "amount": refund.amount,
            "currency": (refund.currency or "usd").lower(),
            "external_refund_id": refund.fields["external_refund_id"],
            "failure_reason": "insufficient_funds" if status == "failed" else None,
            "live_mode": False,
            "metadata": {},
            "reason": refund.reason,
            "status": status,
            "charge": refund.fields["charge"],
            "customer": refund.fields["customer"],
            "return_request": None,
            "created_at": int(refund.created_at),
            "updated_at": int(updated_at),
        }

    def error(self, kind: str, refund_id: str | None) -> tuple[int, JsonObject]:
        status, http_status, error_type, code, message = _ERRORS[kind]
        if refund_id is not None and kind.startswith("not_found"):
            message = f"{message} with id='{refund_id}'"
        return status, {
            "http_status": http_status,
            "type": error_type,
            "code": code,
            "message": message,
            "validation_errors": {},
        }

    def credentials(self, base_url: str) -> dict[str, str]:
        return {"api_token": self.api_token, "base_url": base_url}
