"""Provider timestamps (epoch seconds, ISO-8601 with offsets) to timezone-aware UTC datetimes."""

from __future__ import annotations

import math
from datetime import UTC, datetime

# Anything outside these years is not a refund timestamp but garbage or a unit mix-up
# (milliseconds sent as seconds land in the year 50000+).
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC).timestamp()
_LATEST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def from_epoch_seconds(value: int | float | None) -> datetime | None:
    """Unix seconds to an aware UTC datetime; None stays None. Raises ValueError on nonsense."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("epoch seconds must be a number")
    # math.isfinite() only for floats: on a huge int it raises OverflowError, not ValueError.
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("epoch seconds out of range")
    if not _EARLIEST <= value <= _LATEST:
        raise ValueError("epoch seconds out of range")
    return datetime.fromtimestamp(value, tz=UTC)


def from_iso8601(value: str | None) -> datetime | None:
    """ISO-8601 text to an aware UTC datetime; None or "" is None. Raises ValueError on nonsense.

    A timestamp without an offset is read as UTC: every provider here documents UTC.
    """
    if value is None or value == "":
        return None
    try:
        # RFC 3339 allows a lower-case `t` and `z`; nothing else in a timestamp has a case.
        parsed = datetime.fromisoformat(value.upper() if value.isascii() else value)
    except ValueError:
        # Not chained: datetime's message quotes the provider's text.
        raise ValueError("not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        # "0001-01-01T00:00:00+01:00" has no UTC datetime; a bad response, not a crash.
        raise ValueError("ISO-8601 timestamp out of range") from None


def format_rfc3339(value: datetime) -> str:
    """RFC 3339 in UTC ending in `Z`, keeping microseconds only when there are some."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)
