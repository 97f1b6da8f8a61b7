"""Shoplazza Payments refund orders: ``GET /openapi/{version}/shoplazza-payment/refunds/{id}``."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from email.message import Message
from typing import ClassVar

from .base import (
    JsonObject,
    Provider,
    Reply,
    StoredRefund,
    format_minor,
    json_reply,
    random_alnum,
)
from .faults import Fault

API_VERSIONS = frozenset({"2024-07", "2025-06", "2026-01"})
DEFAULT_API_VERSION = "2024-07"
_PREFIX = "/openapi/"
_MIDDLE = "/shoplazza-payment/refunds/"
# [inference] error codes other than InvalidParameter are not published; these follow its
# UpperCamelCase style, and the 400 variants reuse the 404/401 codes so a client can classify
# a 400 by its code alone.
_ERRORS: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "NotFound", "refund order not found"),
    "not_found_400": (400, "NotFound", "refund order not found"),
    "bad_request": (400, "InvalidParameter", "invalid parameter"),
    "unauthorized": (401, "Unauthorized", "invalid access token"),
    "bad_credentials_400": (400, "Unauthorized", "invalid access token"),
    "forbidden": (403, "Forbidden", "access scope read_finance is required"),
    "rate_limited": (429, "TooManyRequests", "exceeded the rate limit of 2 requests per second"),
    "server_error": (500, "InternalError", "internal server error"),
    "bad_gateway": (502, "BadGateway", "bad gateway"),
    "service_unavailable": (503, "ServiceUnavailable", "service unavailable"),
    "gateway_timeout": (504, "GatewayTimeout", "gateway timeout"),
}


def iso_z(timestamp: float) -> str:
    """ISO-8601 in UTC with ``Z`` and whole seconds, as the docs' examples write times."""
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Shoplazza(Provider):
    """The Shoplazza dialect: an envelope, decimal-string amounts, ``Access-Token`` auth."""

    name: ClassVar[str] = "shoplazza"
    statuses: ClassVar[frozenset[str]] = frozenset({"processing", "succeeded", "failed"})
    pending_status: ClassVar[str] = "processing"
    extra_error_faults: ClassVar[frozenset[str]] = frozenset(
        {"not_found_400", "bad_credentials_400"}
    )
    extra_body_faults: ClassVar[frozenset[str]] = frozenset({"excess_precision"})

    def __init__(
        self,
        access_token: str | None = None,
        store_domain: str = "devstack.myshoplaza.com",
        api_version: str = DEFAULT_API_VERSION,
        omit_completed_at_while_processing: bool = False,
    ) -> None:
        if api_version not in API_VERSIONS:
            raise ValueError(f"api_version must be one of {sorted(API_VERSIONS)}")
        self.access_token = access_token or random_alnum(43)
        self.store_domain = store_domain
        self.api_version = api_version
        self.omit_completed_at = omit_completed_at_while_processing
        self.store_id = str(secrets.randbelow(9 * 10**5) + 10**5)

    def route(self, path: str) -> str | None:
        if not path.startswith(_PREFIX):
            return None
        version, sep, rest = path[len(_PREFIX) :].partition("/")
        if not sep or version not in API_VERSIONS or not ("/" + rest).startswith(_MIDDLE):
            return None
        refund_id = ("/" + rest)[len(_MIDDLE) :]
        return refund_id if refund_id and "/" not in refund_id else None

    def authenticate(self, headers: Message) -> Reply | None:
        token = headers.get("Access-Token") or ""
        if token and hmac.compare_digest(token.encode(), self.access_token.encode()):
            return None
        status, body = self.error("unauthorized", None)
        return json_reply(status, body)

    def refund_path(self, refund_id: str) -> str:
        return f"{_PREFIX}{self.api_version}{_MIDDLE}{refund_id}"

    def auth_headers(self) -> dict[str, str]:
        return {"Access-Token": self.access_token}

    def new_id(self) -> str:
        # The docs' example id is numeric ("123456"); longer here so ids do not collide.
        return str(secrets.randbelow(9 * 10**17) + 10**17)

    def new_fields(self, refund_id: str) -> JsonObject:
        return {"transaction_order_id": str(secrets.randbelow(9 * 10**17) + 10**17)}

    def render(self, refund: StoredRefund, status: str, updated_at: float) -> JsonObject:
        currency = refund.currency or "USD"
        obj: JsonObject = {
            "id": refund.id,
            "store_id": self.store_id,
            "transaction_order_id": refund.fields["transaction_order_id"],
            "status": status,
            "amount": format_minor(refund.amount, currency),
            "balance_currency": currency.upper(),
            "original_order_amount": format_minor(refund.amount * 2, currency),
            "created_at": iso_z(refund.created_at),
        }
        if status != "processing":
            obj["completed_at"] = iso_z(updated_at)
        elif not self.omit_completed_at:
            # [unconfirmed] the docs do not say what completed_at holds before completion.
            obj["completed_at"] = ""
        return obj

    def envelope(self, refund_object: JsonObject) -> JsonObject:
        return {
            "code": "Success",
            "message": "Request successful",
            "data": {"refund_order": refund_object},
        }

    def apply_body_fault(
        self, fault: Fault, refund_object: JsonObject, refund: StoredRefund
    ) -> None:
        if fault.name != "excess_precision":
            super().apply_body_fault(fault, refund_object, refund)
        # One digit more than the currency allows: a bad response, never to be rounded.
        refund_object["amount"] = _one_more_digit(refund.amount, refund.currency or "USD")

    def error(self, kind: str, refund_id: str | None) -> tuple[int, JsonObject]:
        status, code, message = _ERRORS[kind]
        return status, {"code": code, "message": message}

    def credentials(self, base_url: str) -> dict[str, str]:
        return {
            "store_domain": self.store_domain,
            "access_token": self.access_token,
            "api_version": self.api_version,
            "base_url": base_url,
        }


def _one_more_digit(amount: int, currency: str) -> str:
    text = format_minor(amount, currency)
    return text + "1" if "." in text else text + ".1"
