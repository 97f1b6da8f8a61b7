"""Scripted refund lives: which provider-native status a refund shows at each read.

A life is either a list of statuses advanced by reads (each rendered GET shows the next one and the
last one sticks) or a list of ``(seconds_after_creation, status)`` steps advanced by the clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

LifeSpec = Sequence[str] | Sequence[tuple[float, str]] | Sequence[Sequence[Any]]


@dataclass(frozen=True)
class Life:
    """An immutable script of statuses, by read count or by elapsed time."""

    by_reads: tuple[str, ...] = ()
    by_time: tuple[tuple[float, str], ...] = ()

    @classmethod
    def parse(cls, spec: LifeSpec | str) -> Life:
        """Build a life from a status, a list of statuses or a list of (seconds, status)."""
        if isinstance(spec, str):
            return cls(by_reads=(spec,))
        items = list(spec)
        if not items:
            raise ValueError("a life needs at least one status")
        if all(isinstance(item, str) for item in items):
            return cls(by_reads=tuple(str(item) for item in items))
        steps: list[tuple[float, str]] = []
        for item in items:
            if isinstance(item, str) or len(item) != 2:
                raise ValueError(f"life step must be a status or (seconds, status), got {item!r}")
            seconds, status = item[0], item[1]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                raise ValueError(f"life step offset must be a number, got {seconds!r}")
            if not math.isfinite(seconds):
                raise ValueError(f"life step offset must be finite, got {seconds!r}")
            if not isinstance(status, str):
                raise ValueError(f"life step status must be a string, got {status!r}")
            steps.append((float(seconds), status))
        offsets = [offset for offset, _ in steps]
        if offsets[0] != 0.0 or offsets != sorted(offsets):
            raise ValueError("timed life steps must start at 0 and be in ascending order")
        return cls(by_time=tuple(steps))

    @property
    def statuses(self) -> frozenset[str]:
        """Every status the life can show."""
        return frozenset(self.by_reads) | frozenset(status for _, status in self.by_time)

    @property
    def initial(self) -> str:
        """The status the refund has when it is created."""
        return self.by_reads[0] if self.by_reads else self.by_time[0][1]

    def status_at(self, reads: int, elapsed: float) -> tuple[str, float | None]:
        """Status for the read numbered ``reads`` (0-based) at ``elapsed`` seconds after creation.

        Also returns, for timed lives, the offset at which that status began, so ``updated_at``
        is deterministic instead of depending on when someone happened to look.
        """
        if self.by_reads:
            return self.by_reads[min(reads, len(self.by_reads) - 1)], None
        current = self.by_time[0]
        for step in self.by_time:
            if step[0] <= elapsed:
                current = step
        return current[1], current[0]

    def to_json(self) -> list[Any]:
        """The life in the admin API's JSON shape."""
        if self.by_reads:
            return list(self.by_reads)
        return [[offset, status] for offset, status in self.by_time]


def check_statuses(life: Life, allowed: Iterable[str], provider: str) -> None:
    """Reject statuses the provider never sends; unknown values are a fault, not a life."""
    unknown = sorted(life.statuses - frozenset(allowed))
    if unknown:
        raise ValueError(
            f"{provider} has no status {', '.join(map(repr, unknown))}; "
            f"use one of {sorted(allowed)} (or the 'unknown_status' fault)"
        )
