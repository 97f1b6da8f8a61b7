"""Gr4vy refunds: ``GET /refunds/{id}`` with an ES512 bearer JWT holding a read scope."""

from __future__ import annotations

import hmac
import uuid
from datetime import UTC, datetime
from email.message import Message
from typing import Any, ClassVar

from .base import ALNUM, JsonObject, Provider, Reply, StoredRefund, json_reply, random_alnum
from .gr4vy_jwt import (
    TokenError,
    TokenVerifier,
    generate_private_key_pem,
    load_private_key,
    mint_token,
)

_PREFIX = "/refunds/"
# Either scope grants GET /refunds/{id}: the endpoint's own and the SDK's read-everything one.
# [inference] write scopes and a bare "*" do not imply read (the SDK's enum has no "*").
READ_SCOPES = frozenset({"transactions.read", "*.read"})
DEFAULT_MERCHANT_ACCOUNT = "default"
_BASE62 = "0123456789" + ALNUM[:52]  # digits, then upper and lower case letters [inference]
_ERRORS: dict[str, tuple[int, str, str]] = {
    "not_found": (404, "not_found", "The resource could not be found"),
    "bad_request": (400, "bad_request", "Request failed validation"),
    "unauthorized": (401, "unauthorized", "No valid API authentication found"),
    "forbidden": (403, "forbidden", "Insufficient permissions to access this resource"),
    "rate_limited": (429, "too_many_requests", "Too many requests"),
    "server_error": (500, "server_error", "Request could not be processed"),
    "bad_gateway": (502, "bad_gateway", "Request could not be processed"),
    # [inference] 503 is not in the documented list; same shape, a matching code.
    "service_unavailable": (503, "service_unavailable", "Request could not be processed"),
    "gateway_timeout": (504, "gateway_timeout", "Request could not be processed"),
}
# [inference] what a declined or failed refund carries; the docs give the fields, not values.
_FAILURE_DETAILS: dict[str, tuple[str, str | None, str | None]] = {
    "declined": ("insufficient_funds", "51", "Insufficient funds"),
    "failed": ("internal_error", None, None),
}


def base62_uuid(value: str) -> str:
    """A UUID as 22 base62 characters, like Gr4vy's ``reconciliation_id``."""
    number = uuid.UUID(value).int
    out = []
    while number:
        number, digit = divmod(number, 62)
        out.append(_BASE62[digit])
    return "".join(reversed(out)).rjust(22, "0")


def iso(timestamp: float) -> str:
    """ISO-8601 with microseconds and a ``+00:00`` offset, as Gr4vy writes times."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


class Gr4vy(Provider):
    """The Gr4vy dialect: JWT auth, upper-case currency, ISO-8601 times, open status enum."""

    name: ClassVar[str] = "gr4vy"
    statuses: ClassVar[frozenset[str]] = frozenset(
        {"processing", "succeeded", "declined", "failed", "voided"}
    )
    pending_status: ClassVar[str] = "processing"

    def __init__(
        self,
        private_key_pem: str | None = None,
        merchant_account_id: str | None = None,
        instance_id: str = "devstack",
        clock_skew: float = 30.0,
    ) -> None:
        self.private_key_pem = private_key_pem or generate_private_key_pem()
        self.merchant_account_id = merchant_account_id
        self.instance_id = instance_id
        # Built once: key generation and parsing stay out of the request path.
        public_key = load_private_key(self.private_key_pem).public_key()
        self.verifier = TokenVerifier(public_key, clock_skew=clock_skew)

    def route(self, path: str) -> str | None:
        if not path.startswith(_PREFIX):
            return None
        refund_id = path[len(_PREFIX) :]
        return refund_id if refund_id and "/" not in refund_id else None

    def authenticate(self, headers: Message) -> Reply | None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._reject("unauthorized", "No valid API authentication found")
        try:
            claims = self.verifier.verify(token.strip())
        except TokenError as exc:
            return self._reject("unauthorized", str(exc))
        scopes: Any = claims.get("scopes")
        if not isinstance(scopes, list) or not READ_SCOPES.intersection(
            s for s in scopes if isinstance(s, str)
        ):
            return self._reject("forbidden", "Missing required scope: transactions.read")
        requested = headers.get("X-GR4VY-MERCHANT-ACCOUNT-ID")
        expected = self.merchant_account_id or DEFAULT_MERCHANT_ACCOUNT
        if self.merchant_account_id is not None and requested is None:
            return self._reject("forbidden", "A merchant account ID is required for this key")
        if requested is not None and not hmac.compare_digest(requested.encode(), expected.encode()):
            return self._reject("forbidden", f"No access to merchant account {requested!r}")
        return None

    def _reject(self, kind: str, message: str) -> Reply:
        status, body = self.error(kind, None)
        body["message"] = message
        return json_reply(status, body)

    def refund_path(self, refund_id: str) -> str:
        return _PREFIX + refund_id

    def auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {mint_token(self.private_key_pem)}"}
        if self.merchant_account_id is not None:
            headers["X-GR4VY-MERCHANT-ACCOUNT-ID"] = self.merchant_account_id
        return headers

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def new_fields(self, refund_id: str) -> JsonObject:
        transaction_id = str(uuid.uuid4())
        try:
            reconciliation_id = base62_uuid(refund_id)
        except ValueError:  # a caller-chosen id need not be a UUID
            reconciliation_id = random_alnum(22)
        return {
            "transaction_id": transaction_id,
            "reconciliation_id": reconciliation_id,
            "transaction_reconciliation_id": base62_uuid(transaction_id),
            "payment_service_refund_id": f"re_{random_alnum(24)}",
            "target_id": str(uuid.uuid4()),
        }

    def validate_refund(self, amount: int, currency: str | None) -> None:
        super().validate_refund(amount, currency)
        if amount >= 99_999_999:
            raise ValueError("Gr4vy refund amounts must be below 99999999")

    def render(self, refund: StoredRefund, status: str, updated_at: float) -> JsonObject:
        fields = refund.fields
        error_code, raw_code, raw_description = _FAILURE_DETAILS.get(status, (None, None, None))
        return {
            "type": "refund",
            "id": refund.id,
            "transaction_id": fields["transaction_id"],
            # [inference] the PSP's id exists only once the PSP has answered.
            "payment_service_refund_id": (
                None if status == "processing" else fields["payment_service_refund_id"]
            ),
            "status": status,
            "currency": (refund.currency or "USD").upper(),
            "amount": refund.amount,
            "reason": refund.reason,
            "target_type": "payment-method",
            "target_id": fields["target_id"],
            "external_identifier": None,
            "reconciliation_id": fields["reconciliation_id"],
            "transaction_external_identifier": None,
            "transaction_reconciliation_id": fields["transaction_reconciliation_id"],
            "creator": None,
            "error_code": error_code,
            "raw_response_code": raw_code,
            "raw_response_description": raw_description,
            "settled": False,
            "settled_currency": None,
            "settled_amount": 0,
            "created_at": iso(refund.created_at),
            "updated_at": iso(updated_at),
        }

    def error(self, kind: str, refund_id: str | None) -> tuple[int, JsonObject]:
        status, code, message = _ERRORS[kind]
        return status, {
            "type": "error",
            "code": code,
            "status": status,
            "message": message,
            "details": [],
        }

    def credentials(self, base_url: str) -> dict[str, str]:
        secret = {
            "instance_id": self.instance_id,
            "private_key": self.private_key_pem,
            "environment": "sandbox",
            "base_url": base_url,
        }
        if self.merchant_account_id is not None:
            secret["merchant_account_id"] = self.merchant_account_id
        return secret
