"""Per-user rate limits, global across instances: the window lives in the user's mapping row.

A pure decision: given the window as read, either the fields that count this request (written by the
caller in its one etag-conditional write of the mapping, so two instances can never both take the last
slot) or `RateLimited` with the seconds until the window frees. Fixed windows of one minute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from token_service.errors import RateLimited
from token_service.registry.records import UserMapping, window_fields

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class UserLimits:
    """Requests per user per minute, per route ("token", "teams", "delete")."""

    per_minute: Mapping[str, int]

    def count(self, mapping: UserMapping | None, route: str, now: datetime) -> dict[str, Any]:
        """The mapping fields that count one more request, or RateLimited when the window is full."""
        limit = self.per_minute[route]
        window = mapping.windows.get(route) if mapping is not None else None
        if window is None or not window[0] <= now < window[0] + WINDOW:
            return window_fields(route, now, 1)
        start, used = window
        if used >= limit:
            wait = max(1, math.ceil((start + WINDOW - now).total_seconds()))
            raise RateLimited(f"at most {limit} {_NOUNS[route]} per minute", retry_after=wait)
        return window_fields(route, start, used + 1)


_NOUNS = {"token": "token requests", "teams": "Teams token exchanges", "delete": "deletions"}
