"""The strict text parsers (token_service/scalars.py): what the schema says, ASCII only, bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from token_service.scalars import (
    MAX_RETRY_AFTER_SECONDS,
    ascii_integer,
    json_integer,
    retry_after_seconds,
    rfc3339,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50", 50), ("0", 0), ("0050", 50), ("\u0665\u0660", None), ("\uff11", None), ("+5", None), ("-5", None),
     (" 5", None), ("1_0", None), ("", None), ("12345", None), ("5.0", None)],
)  # fmt: skip
def test_ascii_integer(text: str, expected: int | None) -> None:
    assert ascii_integer(text, 4) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-31T00:00:00Z", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31t00:00:00z", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T00:00:00.123456789Z", datetime(2026, 1, 31, 0, 0, 0, 123456, tzinfo=UTC)),
        ("2026-01-31T02:00:00+02:00", datetime(2026, 1, 31, tzinfo=UTC)),
        ("2026-01-31T00:00:00." + "1" * 3000 + "Z", None),
        ("2026-01-31T00:00:00.1234567891Z", None),
        ("2026-01-31 00:00:00Z", None),
        ("2026-01-31T00:00:00", None),  # no zone
        ("2026-02-30T00:00:00Z", None),  # no such day
        ("2026-01-31T00:00:00.\u0665Z", None),
        ("\u0662026-01-31T00:00:00Z", None),
        ("2026-01-31T00:00:00+0200", None),
    ],
)
def test_rfc3339(text: str, expected: datetime | None) -> None:
    assert rfc3339(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(60, 60), (Decimal("60.0"), 60), (Decimal("6E+1"), 60), (Decimal("60.000000000000001"), None),
     (Decimal("60.5"), None), (Decimal("NaN"), None), (Decimal("Infinity"), None), (Decimal("1E+999999999"), 1441),
     (Decimal("-1E+999999999"), 59), (10**400, 1441), (Decimal("-0.0"), 59)],
)  # fmt: skip
def test_json_integer_clamps_outside_the_range(value: Decimal | int, expected: int | None) -> None:
    assert json_integer(value, 60, 1440) == expected


NOW = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 1), ("30", 30), ("0", 1), ("inf", 1), ("1e999", 1), ("nan", 1), ("2.5", 1), ("\u0663\u0660", 1),
     ("99999999999", 1), ("9999999999", MAX_RETRY_AFTER_SECONDS), ("Sat, 31 Jan 2026 12:00:30 GMT", 30),
     ("Sat, 31 Jan 2026 11:00:00 GMT", 1), ("soon", 1)],
)  # fmt: skip
def test_retry_after_seconds(raw: str | None, expected: int) -> None:
    """`int(float("inf"))` raised OverflowError, which the gateway did not catch: a 500."""
    assert retry_after_seconds(raw, NOW) == expected
