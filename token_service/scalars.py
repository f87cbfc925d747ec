"""Integers and RFC 3339 date-times read from text as the OpenAPI document and the settings table write
them: ASCII digits only, bounded length.

Python is lenient where the schema is strict: int() takes any Unicode decimal digit (an Arabic-Indic
50 was pageSize 50, a fullwidth 1 was 1), signs, underscores and spaces; datetime.fromisoformat takes
any number of fractional digits (3,000 were accepted) and a space for the `T`; json.loads takes NaN and
Infinity and turns 60.000000000000001 into the integer-valued float 60.0. These parsers accept only
what the document describes, so a value is either the one the caller wrote or refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime

MAX_FRACTION_DIGITS = 9  # nanoseconds: what any clock writes (.NET 7, Go 9); Python keeps 6
# RFC 3339 section 5.6 `date-time` (JSON Schema's format), a zone required; T and Z in either case.
DATE_TIME_PATTERN = (
    rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[Tt][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})"
)
_DATE_TIME = re.compile(DATE_TIME_PATTERN)
_DIGITS = re.compile(r"[0-9]+")
MAX_RETRY_AFTER_SECONDS = 3600  # an upstream's Retry-After beyond an hour is passed on as an hour


def ascii_integer(text: str, max_digits: int) -> int | None:
    """A non-negative integer written as 1 to `max_digits` ASCII digits; None for anything else."""
    if not 1 <= len(text) <= max_digits or not _DIGITS.fullmatch(text):
        return None
    return int(text)


def rfc3339(text: str) -> datetime | None:
    """An RFC 3339 date-time with a zone (as JSON Schema's `date-time`), at most MAX_FRACTION_DIGITS
    fractional digits (Python keeps six); None for anything else, an impossible date included."""
    if not _DATE_TIME.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


def json_integer(value: Decimal | int, low: int, high: int) -> int | None:
    """A JSON number (floats parsed as Decimal, so the text decides) that is an integer: the integer,
    clamped to [low - 1, high + 1] so that a range check still refuses it without ever building a
    huge int (1e999999999 is an integer too); None when the number is not an integer."""
    if isinstance(value, int):
        return max(low - 1, min(high + 1, value))
    if not value.is_finite() or value != value.to_integral_value():
        return None
    if value < low:
        return low - 1
    if value > high:
        return high + 1
    return int(value)


def retry_after_seconds(raw: str | None, now: datetime | None = None) -> int:
    """An upstream's Retry-After (RFC 9110: delay-seconds or an HTTP-date) as whole seconds, 1 to
    MAX_RETRY_AFTER_SECONDS; 1 when absent or unreadable (retrying soon is the safe reading)."""
    if raw is None:
        return 1
    text = raw.strip()
    seconds = ascii_integer(text, 10)
    if seconds is None:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return 1
        if moment.tzinfo is None:
            return 1
        reference = now or datetime.now(moment.tzinfo)
        seconds = int((moment - reference).total_seconds() + 0.999)
    return max(1, min(MAX_RETRY_AFTER_SECONDS, seconds))
