"""Provider timestamps (epoch seconds, ISO-8601 with offsets) to UTC, and RFC 3339 `Z` output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_core.timestamps import format_rfc3339, from_epoch_seconds, from_iso8601


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (1534255857, datetime(2018, 8, 14, 14, 10, 57, tzinfo=UTC)),
        (1770234892, datetime(2026, 2, 4, 19, 54, 52, tzinfo=UTC)),
        (1534255857.5, datetime(2018, 8, 14, 14, 10, 57, 500000, tzinfo=UTC)),
        (253402300799, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_epoch_seconds(value: float, expected: datetime) -> None:
    result = from_epoch_seconds(value)

    assert result == expected
    assert result is not None
    assert result.utcoffset() == timedelta(0)


def test_epoch_null_is_none() -> None:
    assert from_epoch_seconds(None) is None


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        "1534255857",
        -1,
        253402300800,  # past the year 9999
        1534255857000000,  # microseconds sent as seconds
        float("nan"),
        float("inf"),
        float("-inf"),
        10**400,
        [1534255857],
    ],
)
def test_epoch_nonsense_refused(value: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        from_epoch_seconds(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-04-28T06:50:19Z", datetime(2024, 4, 28, 6, 50, 19, tzinfo=UTC)),
        ("2024-04-28T06:50:19+00:00", datetime(2024, 4, 28, 6, 50, 19, tzinfo=UTC)),
        (
            "2024-04-28T06:50:19.333316+00:00",
            datetime(2024, 4, 28, 6, 50, 19, 333316, tzinfo=UTC),
        ),
        ("2024-04-28T08:50:19+02:00", datetime(2024, 4, 28, 6, 50, 19, tzinfo=UTC)),
        ("2024-04-27T22:50:19-08:00", datetime(2024, 4, 28, 6, 50, 19, tzinfo=UTC)),
        ("2024-04-28T00:20:19+05:30", datetime(2024, 4, 27, 18, 50, 19, tzinfo=UTC)),
        ("2024-04-28T06:50:19.5Z", datetime(2024, 4, 28, 6, 50, 19, 500000, tzinfo=UTC)),
        # RFC 3339 section 5.6: "T" and "Z" may be lower case.
        ("2024-04-28t06:50:19z", datetime(2024, 4, 28, 6, 50, 19, tzinfo=UTC)),
    ],
)
def test_iso8601_to_utc(value: str, expected: datetime) -> None:
    result = from_iso8601(value)

    assert result == expected
    assert result is not None
    assert result.utcoffset() == timedelta(0)
    assert result.microsecond == expected.microsecond


@pytest.mark.parametrize("value", ["", None])
def test_iso8601_empty_is_none(value: str | None) -> None:
    assert from_iso8601(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "yesterday",
        "28/04/2024",
        "2024-13-01T00:00:00Z",
        "2024-04-28T25:00:00Z",
        "2024-04-28T06:50:19+25:00",
        "1714287019",
        "2024-04-28 06:50:19 UTC",
        " ",
        # Valid ISO-8601 with no UTC datetime: before year 1 or after 9999 once converted.
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
)
def test_iso8601_garbage_refused(value: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        from_iso8601(value)


def test_iso8601_error_does_not_quote_the_input() -> None:
    with pytest.raises(ValueError) as caught:  # noqa: PT011
        from_iso8601("secret-looking-garbage")

    assert "secret-looking-garbage" not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2024, 4, 28, 6, 50, 19, tzinfo=UTC), "2024-04-28T06:50:19Z"),
        (datetime(2024, 4, 28, 6, 50, 19, 333316, tzinfo=UTC), "2024-04-28T06:50:19.333316Z"),
        (
            datetime(2024, 4, 28, 8, 50, 19, tzinfo=timezone(timedelta(hours=2))),
            "2024-04-28T06:50:19Z",
        ),
        (
            datetime(2024, 4, 27, 22, 50, 19, 5, tzinfo=timezone(timedelta(hours=-8))),
            "2024-04-28T06:50:19.000005Z",
        ),
    ],
)
def test_format_rfc3339(value: datetime, text: str) -> None:
    assert format_rfc3339(value) == text


@given(
    value=st.datetimes(
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-11, minutes=-30))]
        ),
    )
)
def test_format_rfc3339_always_utc_z_and_round_trips(value: datetime) -> None:
    text = format_rfc3339(value)

    assert text.endswith("Z")
    assert "+" not in text
    assert text.count("-") == 2
    assert from_iso8601(text) == value


@given(seconds=st.integers(min_value=0, max_value=253402300799))
def test_epoch_round_trips_through_rfc3339(seconds: int) -> None:
    parsed = from_epoch_seconds(seconds)
    assert parsed is not None

    text = format_rfc3339(parsed)

    assert text.endswith("Z")
    assert from_iso8601(text) == parsed
    assert int(parsed.timestamp()) == seconds
