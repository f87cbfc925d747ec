"""Per-user rate limits, global across instances: the window lives in the user's mapping row.

A pure decision: given the window as read, either the window that counts this request (written by the
caller in its one etag-conditional write of the mapping, so two instances can never both take the last
slot) or a refusal with the seconds until the window frees. Fixed windows of one minute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from token_service.errors import RateLimited
from token_service.registry import RateWindow, UserMapping

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class RateDecision:
    """One request judged against its route's window: allowed, with `window` the window that counts it,
    or refused (`retry_after` seconds until the window frees), with `window` the full one as read."""

    window: RateWindow
    limit: int
    retry_after: int | None = None

    @property
    def allowed(self) -> bool:
        return self.retry_after is None


@dataclass(frozen=True)
class UserLimits:
    """Requests per user per minute, per route ("token", "teams", "delete")."""

    per_minute: Mapping[str, int]

    def count(self, mapping: UserMapping | None, route: str, now: datetime) -> RateDecision:
        """Judge one more request of `route` against the window the mapping holds."""
        limit = self.per_minute[route]
        window = mapping.windows.get(route) if mapping is not None else None
        if window is None or not window.start <= now < window.start + WINDOW:
            return RateDecision(RateWindow(route, now, 1), limit)
        if window.count >= limit:
            wait = max(1, math.ceil((window.start + WINDOW - now).total_seconds()))
            return RateDecision(window, limit, retry_after=wait)
        return RateDecision(RateWindow(route, window.start, window.count + 1), limit)

    def admit(self, mapping: UserMapping | None, route: str, now: datetime) -> RateWindow:
        """The window that counts this request, or RateLimited (429 with Retry-After) when it is full."""
        decision = self.count(mapping, route, now)
        if decision.retry_after is not None:
            noun = _NOUNS[route]
            raise RateLimited(f"at most {decision.limit} {noun} per minute", retry_after=decision.retry_after)
        return decision.window


_NOUNS = {"token": "token requests", "teams": "Teams token exchanges", "delete": "deletions"}
