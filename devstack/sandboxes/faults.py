"""Fault injection: what a sandbox does instead of, or on top of, a normal answer."""

from __future__ import annotations

import itertools
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
        if fault.times is not None and fault.times < 1:
            raise ValueError("times must be at least 1 (or None for until cleared)")
        if fault.seconds < 0 or fault.size_bytes < 0:
            raise ValueError("seconds and size_bytes must not be negative")
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
