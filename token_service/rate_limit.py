"""Per-user token rate limit (sliding window, per worker), so one user cannot spend ACS's shared budget.

ACS allows about 1,000 token issues per 30 s per resource; the limit keeps any one caller far below.
It is per worker instance: with N instances a user can reach N times the limit.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic):
        self._limit = limit
        self._window = window_seconds
        self._monotonic = monotonic
        self._hits: dict[str, deque[float]] = {}

    def acquire(self, key: str) -> int | None:
        """Count one hit for `key`; None when allowed, else seconds until the next hit would be."""
        now = self._monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return max(1, math.ceil(hits[0] + self._window - now))
        hits.append(now)
        if len(self._hits) > 10_000:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        idle = [key for key, hits in self._hits.items() if not hits or hits[-1] <= now - self._window]
        for key in idle:
            del self._hits[key]
