"""Fixtures for the unit tests of the provider clients."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

FIXED_NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
FIXED_NOW_TEXT = "2026-11-22T10:00:00Z"


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Freeze the clock the provider clients read (`fetched_at`, Retry-After dates)."""
    monkeypatch.setattr("refund_core.providers.base.utc_now", lambda: FIXED_NOW)
    return FIXED_NOW
