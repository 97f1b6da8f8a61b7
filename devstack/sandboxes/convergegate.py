"""ConvergeGate APM Checkout refunds: ``GET /v1/refunds/{id}`` with the secret key over Basic."""

from __future__ import annotations

import base64
import binascii
import hmac
from email.message import Message
from typing import ClassVar

from .base import JsonObject, Provider, Reply, StoredRefund, json_reply, random_alnum

_PREFIX = "/v1/refunds/"
_ERRORS: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "invalid_request_error", "No such refund: '{id}'"),
    "bad_request": (400, "invalid_request_error", "Invalid request."),
    "unauthorized": (401, "authentication_error", "Invalid API Key provided."),
    "forbidden": (403, "permission_error", "The provided key does not have access to refunds."),
    # [inference] the type for 429; the docs list the status but no example body.
    "rate_limited": (429, "rate_limit_error", "Too many requests hit the API too quickly."),
    "server_error": (500, "api_error", "An unexpected error occurred."),
    "bad_gateway": (502, "api_error", "Bad gateway."),
    "service_unavailable": (503, "api_error", "Service temporarily unavailable."),
    "gateway_timeout": (504, "api_error", "Gateway timeout."),
}


def _auth_error(message: str) -> Reply:
    return json_reply(401, {"error": {"type": "authentication_error", "message": message}})


class ConvergeGate(Provider):
    """The ConvergeGate dialect: Stripe-like, no currency in the refund, epoch-second times."""

    name: ClassVar[str] = "convergegate"
    # [inference] pending appears in examples; the webhook events imply succeeded and failed;
    # canceled is accepted because the contract maps it.
    statuses: ClassVar[frozenset[str]] = frozenset({"pending", "succeeded", "failed", "canceled"})
    pending_status: ClassVar[str] = "pending"
    default_currency: ClassVar[str | None] = None

    def __init__(self, secret_key: str | None = None) -> None:
        self.secret_key = secret_key or f"sk_test_{random_alnum(24)}"

    def route(self, path: str) -> str | None:
        if not path.startswith(_PREFIX):
            return None
        refund_id = path[len(_PREFIX) :]
        return refund_id if refund_id and "/" not in refund_id else None

    def authenticate(self, headers: Message) -> Reply | None:
        value = headers.get("Authorization")
        if not value:
            return _auth_error(
                "You did not provide an API key. Provide your API key in the Authorization "
                "header, using HTTP Basic Auth (-u sk_test_...:)."
            )
        scheme, _, credential = value.partition(" ")
        key: str | None = None
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return _auth_error("Invalid Basic authorization header.")
            user, sep, password = decoded.partition(":")
            # The documented form is the key as user and an empty password (`-u sk_test_…:`).
            if not sep or password:
                return _auth_error("Provide your secret key as the username and no password.")
            key = user
        elif scheme.lower() == "bearer":
            key = credential.strip()
        if key is None:
            return _auth_error("Invalid authorization scheme; use HTTP Basic or Bearer.")
        if not hmac.compare_digest(key.encode(), self.secret_key.encode()):
            shown = key[-4:] if len(key) > 8 else ""
            return _auth_error(f"Invalid API Key provided: sk_****{shown}")
        return None

    def refund_path(self, refund_id: str) -> str:
        return _PREFIX + refund_id

    def auth_headers(self) -> dict[str, str]:
        basic = base64.b64encode(f"{self.secret_key}:".encode()).decode()
        return {"Authorization": f"Basic {basic}"}

    def new_id(self) -> str:
        # Shaped like the docs' example id `kLcRRC5P8U68CYe0kVA`: 19 opaque alphanumerics.
        return random_alnum(19)

    def render(self, refund: StoredRefund, status: str, updated_at: float) -> JsonObject:
        return {
            "id": refund.id,
            "amount": refund.amount,
            "status": status,
            "reason": refund.reason,
            "created_at": int(refund.created_at),
            "livemode": False,
        }

    def error(self, kind: str, refund_id: str | None) -> tuple[int, JsonObject]:
        status, error_type, message = _ERRORS[kind]
        if kind == "not_found" and refund_id is None:
            # A path that names no refund at all: Stripe-style APIs say so, not "No such refund".
            return status, {"error": {"type": error_type, "message": "Unrecognized request URL."}}
        error: JsonObject = {"type": error_type, "message": message.format(id=refund_id)}
        if kind == "not_found":
            error["param"] = "id"
        return status, {"error": error}

    def credentials(self, base_url: str) -> dict[str, str]:
        return {"secret_key": self.secret_key, "base_url": base_url}
