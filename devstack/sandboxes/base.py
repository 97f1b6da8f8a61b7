"""What every provider sandbox shares: the stored refund, replies, and the Provider interface.

A provider module fills in only what differs: its paths, its credential check, its refund JSON,
its error bodies and its credentials secret.
"""

from __future__ import annotations

import json
import secrets
import string
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, ClassVar

from .faults import COMMON_FAULTS, Fault
from .lives import Life

JsonObject = dict[str, Any]

ALNUM = string.ascii_letters + string.digits
# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENT_0 = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"}
    | {"RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}
)
_EXPONENT_3 = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def currency_exponent(currency: str) -> int:
    """ISO 4217 exponent of ``currency`` (JPY 0, USD 2, KWD 3)."""
    code = currency.upper()
    if code in _EXPONENT_0:
        return 0
    if code in _EXPONENT_3:
        return 3
    return 2


def format_minor(amount: int, currency: str) -> str:
    """Minor units as an exact decimal string: 5000 USD -> "50.00", 5000 JPY -> "5000"."""
    exponent = currency_exponent(currency)
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(exponent + 1, "0")
    if exponent == 0:
        return sign + digits
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def random_alnum(length: int) -> str:
    """A random string of ASCII letters and digits."""
    return "".join(secrets.choice(ALNUM) for _ in range(length))


@dataclass(frozen=True)
class Reply:
    """A complete HTTP answer, or ``drop=True`` to close the socket without one."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False


def json_reply(status: int, body: object, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """A JSON reply with compact separators, as the providers' APIs send."""
    data = json.dumps(body, separators=(",", ":")).encode()
    return Reply(status=status, body=data, headers=headers)


@dataclass
class StoredRefund:
    """A refund held in memory by a sandbox, plus its scripted life and read counters."""

    id: str
    amount: int
    currency: str | None
    reason: str | None
    life: Life
    created_at: float  # Unix seconds, wall clock
    created_mono: float  # monotonic, so timed lives ignore wall-clock jumps
    fields: JsonObject = field(default_factory=dict)  # provider-specific generated fields
    overrides: JsonObject = field(default_factory=dict)  # merged over the rendered object
    reads: int = 0
    requests: int = 0
    status: str = ""
    status_since: float = 0.0

    def summary(self) -> JsonObject:
        """Internal state for the admin API and tests (does not advance the life)."""
        return {
            "id": self.id,
            "amount": self.amount,
            "currency": self.currency,
            "reason": self.reason,
            "life": self.life.to_json(),
            "status": self.status,
            "reads": self.reads,
            "requests": self.requests,
            "created_at": self.created_at,
            "updated_at": self.status_since,
        }


class Provider(ABC):
    """One provider's dialect. Subclasses are stateless apart from their credentials."""

    name: ClassVar[str]
    statuses: ClassVar[frozenset[str]]
    pending_status: ClassVar[str]
    default_currency: ClassVar[str | None] = "USD"
    default_reason: ClassVar[str | None] = "requested_by_customer"
    # Provider-only faults: error answers (fired before auth) and body changes (on a refund).
    extra_error_faults: ClassVar[frozenset[str]] = frozenset()
    extra_body_faults: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def fault_names(cls) -> frozenset[str]:
        """Every fault name this provider's sandbox accepts."""
        return COMMON_FAULTS | cls.extra_error_faults | cls.extra_body_faults

    @abstractmethod
    def route(self, path: str) -> str | None:
        """The refund id if ``path`` (no query string) is this provider's refund GET path."""

    @abstractmethod
    def authenticate(self, headers: Message) -> Reply | None:
        """None when the request's credentials are good, else the provider's rejection."""

    @abstractmethod
    def new_id(self) -> str:
        """A fresh refund id in the provider's own style."""

    @abstractmethod
    def refund_path(self, refund_id: str) -> str:
        """The path a client GETs for ``refund_id``."""

    @abstractmethod
    def auth_headers(self) -> dict[str, str]:
        """Headers a well-behaved client sends (for tests, demos and benchmarks)."""

    def new_fields(self, refund_id: str) -> JsonObject:
        """Provider-specific fields generated once per refund (charge ids and the like)."""
        return {}

    @abstractmethod
    def render(self, refund: StoredRefund, status: str, updated_at: float) -> JsonObject:
        """The refund object exactly as the provider documents it."""

    def envelope(self, refund_object: JsonObject) -> JsonObject:
        """The whole response body around the refund object (most providers send it bare)."""
        return refund_object

    @abstractmethod
    def error(self, kind: str, refund_id: str | None) -> tuple[int, JsonObject]:
        """HTTP status and body for an error fault name, in the provider's error style."""

    @abstractmethod
    def credentials(self, base_url: str) -> dict[str, str]:
        """The Secrets Manager secret (contract section 3) that points a client here."""

    def apply_body_fault(
        self, fault: Fault, refund_object: JsonObject, refund: StoredRefund
    ) -> None:
        """Apply a provider-only body fault; the shared ones are handled by the server."""
        raise ValueError(f"{self.name} has no body fault {fault.name!r}")

    def validate_refund(self, amount: int, currency: str | None) -> None:
        """Reject refunds the provider could not hold."""
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount must be a positive integer in minor units")
        if currency is not None and (len(currency) != 3 or not currency.isalpha()):
            raise ValueError("currency must be a three-letter ISO 4217 code")
