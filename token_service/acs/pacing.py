"""Client-side pacing for background ACS calls, so a cleanup runs at ACS's limit, not into it.

ACS limits each operation per resource over 30-second windows; a steady pace of `rate` calls per
second never exceeds them. A 429 with Retry-After pauses every caller of that operation until then.
Time is the running loop's clock (time.monotonic in production), so a virtual-time loop can drive it.
"""

from __future__ import annotations

import asyncio
import time


def _now() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:  # built outside a loop (a CLI): the same monotonic clock
        return time.monotonic()


class Pacer:
    def __init__(self, rate_per_second: float) -> None:
        self._interval = 1.0 / rate_per_second
        self._next_slot = _now()
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        async with self._lock:
            now = _now()
            slot = max(self._next_slot, now, self._paused_until)
            self._next_slot = slot + self._interval
        delay = slot - _now()
        if delay > 0:
            await asyncio.sleep(delay)

    def pause(self, seconds: float) -> None:
        """Upstream said 429: nobody starts this operation again before `seconds` from now."""
        until = _now() + seconds
        self._paused_until = max(self._paused_until, until)
        self._next_slot = max(self._next_slot, until)
