"""Fault injection: what a sandbox does instead of, or on top of, a normal answer."""

from __future__ import annotations

import itertools
import math
import threading
from dataclasses import dataclass, field
from typing import Any

# Faults that answer in the provider's place, before credentials are checked (the way a load
# balancer or an outage would), each rendered in the provider's own error style.
ERROR_FAULTS = frozenset(
    {
        "not_found",
        "bad_request",
        "unauthorized",
        "forbidden",
        "rate_limited",
        "server_error",
        "bad_gateway",
        "service_unavailable",
        "gateway_timeout",
    }
)
# Faults about the transport or the body format rather than the provider's error vocabulary.
TRANSPORT_FAULTS = frozenset({"delay", "drop_connection", "html"})
# Faults that alter a successful refund answer; they only fire when a refund is rendered.
BODY_FAULTS = frozenset({"truncated_json", "unknown_status", "extra_fields", "oversized"})
COMMON_FAULTS = ERROR_FAULTS | TRANSPORT_FAULTS | BODY_FAULTS

DEFAULT_DELAY_SECONDS = 30.0
DEFAULT_OVERSIZED_BYTES = 5 * 1024 * 1024
DEFAULT_UNKNOWN_STATUS = "under_review"
# Bounds of the fault settings: a delay longer than any client waits is a mistake, and a padding
# larger than this is a memory problem for the sandbox rather than a test of the client.
MAX_DELAY_SECONDS = 600.0
MAX_OVERSIZED_BYTES = 64 * 1024 * 1024
# The statuses an HTTP/1.1 status line can carry.
MIN_HTTP_STATUS, MAX_HTTP_STATUS = 100, 599

_ids = itertools.count(1)


@dataclass
class Fault:
    """One injected fault, sandbox-wide or for one refund id, for ``times`` requests or forever."""

    name: str
    refund_id: str | None = None
    times: int | None = None
    retry_after: str | None = None
    seconds: float = DEFAULT_DELAY_SECONDS
    value: str = DEFAULT_UNKNOWN_STATUS
    size_bytes: int = DEFAULT_OVERSIZED_BYTES
    status: int = 200
    id: int = field(default_factory=lambda: next(_ids))

    def __post_init__(self) -> None:
        """Refuse settings the sandbox could not act on, naming the field."""
        check_optional_str("name", self.name, required=True)
        check_optional_str("refund_id", self.refund_id)
        if self.times is not None:
            check_int("times", self.times, low=1)
        if self.retry_after is not None:
            check_header_value("retry_after", self.retry_after)
        self.seconds = check_seconds("seconds", self.seconds, high=MAX_DELAY_SECONDS)
        check_optional_str("value", self.value, required=True)
        check_int("size_bytes", self.size_bytes, low=0, high=MAX_OVERSIZED_BYTES)
        check_int("status", self.status, low=MIN_HTTP_STATUS, high=MAX_HTTP_STATUS)

    def to_json(self) -> dict[str, Any]:
        """The fault in the admin API's JSON shape."""
        return {
            "id": self.id,
            "name": self.name,
            "refund_id": self.refund_id,
            "times": self.times,
            "retry_after": self.retry_after,
            "seconds": self.seconds,
            "value": self.value,
            "size_bytes": self.size_bytes,
            "status": self.status,
        }


class FaultBook:
    """Thread-safe list of active faults; per-refund faults win over sandbox-wide ones."""

    def __init__(self, supported: frozenset[str]) -> None:
        self.supported = supported
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        """Register a fault after checking that this provider can produce it."""
        if fault.name not in self.supported:
            raise ValueError(f"unknown fault {fault.name!r}; known: {sorted(self.supported)}")
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self, refund_id: str | None = None) -> int:
        """Remove all faults, or only those keyed to ``refund_id``; returns how many went."""
        with self._lock:
            before = len(self._faults)
            if refund_id is None:
                self._faults.clear()
            else:
                self._faults = [f for f in self._faults if f.refund_id != refund_id]
            return before - len(self._faults)

    def active(self) -> list[Fault]:
        """A snapshot of the active faults."""
        with self._lock:
            return list(self._faults)

    def take(self, names: frozenset[str], refund_id: str | None) -> Fault | None:
        """Consume one use of the first matching fault whose name is in ``names``."""
        if not self._faults:  # the common case, without taking the lock
            return None
        with self._lock:
            match = self._find(names, refund_id)
            if match is not None and match.times is not None:
                match.times -= 1
                if match.times == 0:
                    self._faults.remove(match)
            return match

    def take_all(self, names: frozenset[str], refund_id: str | None) -> list[Fault]:
        """Consume one use of every distinct-named matching fault (body faults can stack)."""
        taken: list[Fault] = []
        seen: set[str] = set()
        while True:
            fault = self.take(names - seen, refund_id)
            if fault is None:
                return taken
            seen.add(fault.name)
            taken.append(fault)

    def _find(self, names: frozenset[str], refund_id: str | None) -> Fault | None:
        fallback: Fault | None = None
        for fault in self._faults:
            if fault.name not in names:
                continue
            if fault.refund_id is not None and fault.refund_id == refund_id:
                return fault
            if fault.refund_id is None and fallback is None:
                fallback = fault
        return fallback


# --- checks shared by the Python API and the admin API (each names the field it refuses) -------


def check_int(field_name: str, value: object, *, low: int, high: int | None = None) -> int:
    """``value`` if it is an integer (not a bool, not a float) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{field_name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{field_name} must be {bounds}, got {value}")
    return value


def check_seconds(field_name: str, value: object, *, high: float | None = None) -> float:
    """``value`` as float seconds if it is a finite, non-negative number (at most ``high``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{field_name} must be a number of seconds, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{field_name} must be a finite number of seconds, got {value!r}")
    if value < 0:
        raise ValueError(f"{field_name} must not be negative, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{field_name} must be at most {high:g} seconds, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an integer beyond any float
        raise ValueError(
            f"{field_name} must be a finite number of seconds, got {value!r}"
        ) from None


def check_optional_str(field_name: str, value: object, *, required: bool = False) -> None:
    """Refuse anything but a string (or None, unless ``required``)."""
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise TypeError(f"{field_name} must be a string, got {value!r}")


def check_header_value(field_name: str, value: object) -> str:
    """A header value: a non-negative integer, or a short string of visible ASCII characters."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(check_int(field_name, value, low=0))
    check_optional_str(field_name, value, required=True)
    text = str(value)
    if not text or len(text) > 100 or any(not " " <= c <= "~" for c in text):
        raise ValueError(
            f"{field_name} must be 1-100 visible ASCII characters (a header value), got {text!r}"
        )
    return text
