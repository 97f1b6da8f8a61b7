"""Exact money: ISO 4217 exponents, decimal strings to minor units, currency codes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from refund_core.money import (
    MAX_MINOR_UNITS,
    currency_exponent,
    minor_units_from_decimal,
    minor_units_from_integer,
    normalize_currency,
)

# ISO 4217 exponents, written out here rather than read from the code under test.
EXPONENTS = {
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "CLF": 4,
}


@pytest.mark.parametrize(("code", "exponent"), sorted(EXPONENTS.items()))
def test_currency_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent


@pytest.mark.parametrize("code", ["XAU", "XXX", "ABC", "usd", "", "US"])
def test_currency_exponent_refuses_codes_without_a_minor_unit(code: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        currency_exponent(code)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("50.00", "USD", 5000),
        ("50", "USD", 5000),
        ("50.0", "USD", 5000),
        ("0.01", "USD", 1),
        ("0", "USD", 0),
        ("0.00", "USD", 0),
        ("1450", "JPY", 1450),
        ("5000", "JPY", 5000),
        ("1.250", "KWD", 1250),
        ("1.25", "KWD", 1250),
        ("1", "KWD", 1000),
        ("0.001", "KWD", 1),
        ("1.2345", "CLF", 12345),
        ("7", "CLF", 70000),
        ("0050.00", "USD", 5000),
        ("90071992547409.91", "USD", MAX_MINOR_UNITS),
    ],
)
def test_decimal_string_to_minor_units(amount: str, currency: str, minor: int) -> None:
    result = minor_units_from_decimal(amount, currency)

    assert result == minor
    assert type(result) is int


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1.234", "USD"),  # more fraction digits than USD has: refused, not rounded
        ("5000.00", "JPY"),
        ("5000.0", "JPY"),
        ("1.2500", "KWD"),
        ("1.23456", "CLF"),
        ("abc", "USD"),
        ("", "USD"),
        ("-1.00", "USD"),
        ("+1.00", "USD"),
        ("1e3", "USD"),
        ("1E3", "USD"),
        (" 5.00", "USD"),
        ("5.00 ", "USD"),
        ("5.00\n", "USD"),
        ("5,00", "USD"),
        ("1,000.00", "USD"),
        ("1_000", "USD"),
        (".50", "USD"),
        ("5.", "USD"),
        ("5..0", "USD"),
        ("\u0665", "USD"),  # Arabic-Indic five
        ("\uff15", "USD"),  # fullwidth five
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("0x10", "USD"),
        ("90071992547409.92", "USD"),  # one more than 2**53-1 minor units
        ("1" * 40, "JPY"),
        ("5.00", "XYZ"),  # not ISO 4217: the exponent is unknown
    ],
)
def test_decimal_string_refused(amount: str, currency: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        minor_units_from_decimal(amount, currency)


@pytest.mark.parametrize("amount", [0, 1, 1450, 99999999, MAX_MINOR_UNITS])
def test_integer_minor_units_kept(amount: int) -> None:
    assert minor_units_from_integer(amount) == amount


@pytest.mark.parametrize(
    "amount", [True, False, 10.0, 10.5, -1, -1450, MAX_MINOR_UNITS + 1, 2**64, "1450", None]
)
def test_integer_minor_units_refused(amount: Any) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        minor_units_from_integer(amount)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("usd", "USD"), ("USD", "USD"), ("Jpy", "JPY"), ("kwd", "KWD"), ("", None), (None, None)],
)
def test_normalize_currency(value: str | None, expected: str | None) -> None:
    assert normalize_currency(value) == expected


@pytest.mark.parametrize("value", ["US", "USDX", "U$D", " USD", "USD ", "us d", "123", "ÜSD", "€"])
def test_normalize_currency_refuses_what_is_not_a_code(value: str) -> None:
    with pytest.raises(ValueError, match="three-letter"):
        normalize_currency(value)


def _as_decimal(minor: int, exponent: int) -> str:
    """Minor units written as a decimal string the way a provider would: "50.00", "5000"."""
    if exponent == 0:
        return str(minor)
    whole, fraction = divmod(minor, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


@given(
    minor=st.integers(min_value=0, max_value=MAX_MINOR_UNITS),
    currency=st.sampled_from(sorted(EXPONENTS)),
)
def test_decimal_round_trip(minor: int, currency: str) -> None:
    text = _as_decimal(minor, EXPONENTS[currency])

    assert minor_units_from_decimal(text, currency) == minor


@given(
    minor=st.integers(min_value=0, max_value=MAX_MINOR_UNITS),
    currency=st.sampled_from(sorted(c for c, e in EXPONENTS.items() if e > 0)),
    dropped=st.integers(min_value=1, max_value=4),
)
def test_trailing_zeros_may_be_left_out(minor: int, currency: str, dropped: int) -> None:
    exponent = EXPONENTS[currency]
    text = _as_decimal(minor, exponent)
    whole, _, fraction = text.partition(".")
    kept = fraction[: max(exponent - dropped, 0)]
    if fraction[len(kept) :].strip("0"):
        # Only zeros may be dropped; "50.5" for 5050 is a different amount.
        return
    shortened = f"{whole}.{kept}" if kept else whole

    assert minor_units_from_decimal(shortened, currency) == minor


@given(
    minor=st.integers(min_value=0, max_value=MAX_MINOR_UNITS),
    currency=st.sampled_from(sorted(EXPONENTS)),
    extra=st.integers(min_value=1, max_value=9),
)
def test_one_fraction_digit_too_many_is_refused(minor: int, currency: str, extra: int) -> None:
    text = _as_decimal(minor, EXPONENTS[currency])
    too_fine = (text if "." in text else text + ".") + str(extra)

    with pytest.raises(ValueError, match="fraction digits"):
        minor_units_from_decimal(too_fine, currency)


@given(minor=st.integers(min_value=MAX_MINOR_UNITS + 1, max_value=10**30))
def test_amounts_beyond_2_53_are_refused(minor: int) -> None:
    with pytest.raises(ValueError, match="larger"):
        minor_units_from_decimal(_as_decimal(minor, 2), "USD")
    with pytest.raises(ValueError, match="larger"):
        minor_units_from_integer(minor)
