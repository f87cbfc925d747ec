"""Time as a dependency, so tests of staleness and leases control it instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def day_key(moment: datetime) -> str:
    """The UTC day a moment falls on, as the registry's activity-index partition suffix."""
    return moment.astimezone(UTC).strftime("%Y%m%d")
