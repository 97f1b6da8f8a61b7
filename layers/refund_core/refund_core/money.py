"""Exact money: ISO 4217 currency codes and amounts in minor units, never through a float."""

from __future__ import annotations

import re

# ISO 4217 minor-unit exponents for codes whose exponent is not 2 (ISO 4217 list one, 2024).
_EXPONENT_EXCEPTIONS: dict[str, int] = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(),  # noqa: SIM905
        0,
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),  # noqa: SIM905
    **dict.fromkeys("CLF UYW".split(), 4),  # noqa: SIM905
}

# Every other active ISO 4217 code with a minor unit has exponent 2.
_TWO_DECIMAL_CODES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN
    BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK
    LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK
    NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG
    YER ZAR ZMW ZWG ZWL
    """.split()  # noqa: SIM905
)

# Larger amounts lose precision in JSON consumers that read numbers as doubles (JavaScript).
MAX_MINOR_UNITS = 2**53 - 1

_CURRENCY_CODE = re.compile(r"[A-Za-z]{3}")
# Digits, optionally a point and more digits: no sign, exponent, spaces or thousands separators.
_DECIMAL_AMOUNT = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")


def currency_exponent(code: str) -> int:
    """The ISO 4217 exponent of an upper-case currency code. Raises ValueError if not ISO 4217."""
    if code in _EXPONENT_EXCEPTIONS:
        return _EXPONENT_EXCEPTIONS[code]
    if code in _TWO_DECIMAL_CODES:
        return 2
    raise ValueError("not an ISO 4217 currency with a minor unit")


def normalize_currency(value: str | None) -> str | None:
    """A provider's currency code, upper-cased; None or "" is None. Raises ValueError otherwise.

    Any well-formed three-letter code is kept, known to ISO 4217 or not, so a new currency
    does not break an integer amount that needs no exponent.
    """
    if value is None or value == "":
        return None
    if not _CURRENCY_CODE.fullmatch(value):
        raise ValueError("currency must be a three-letter ISO 4217 code")
    return value.upper()


def minor_units_from_decimal(amount: str, currency: str) -> int:
    """Exact minor units of a decimal string such as "50.00" in `currency` (upper case).

    A string with more fraction digits than the currency has ("1.234" USD, "5000.00" JPY) is
    refused, never rounded: it means the provider and we disagree on the currency.
    """
    match = _DECIMAL_AMOUNT.fullmatch(amount)
    if match is None:
        raise ValueError("amount must be a non-negative decimal string such as '50.00'")
    exponent = currency_exponent(currency)
    fraction = match["fraction"] or ""
    if len(fraction) > exponent:
        raise ValueError("amount has more fraction digits than the currency allows")
    return _bounded(int(match["whole"] + fraction.ljust(exponent, "0")))


def minor_units_from_integer(amount: int) -> int:
    """An integer amount already in minor units; refuses negatives (a refund is never negative)."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError("amount must be an integer number of minor units")
    if amount < 0:
        raise ValueError("amount must not be negative")
    return _bounded(amount)


def _bounded(minor_units: int) -> int:
    if minor_units > MAX_MINOR_UNITS:
        raise ValueError("amount is larger than any real refund")
    return minor_units
