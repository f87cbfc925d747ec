"""An asyncio event loop whose time is virtual: when nothing is ready, it jumps to the next timer.

`loop.time()` starts at 0 and moves only when every task waits on a timer, so `asyncio.sleep(30)`
costs nothing and a schedule is a pure function of its seed (the ready queue is FIFO and nothing
waits on real I/O). A loop with nothing ready and no timer is a deadlock: it raises instead of hanging.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class Deadlock(RuntimeError):
    """Every task waits on something no timer will ever wake."""


class _VirtualSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)  # only the loop's own self-pipe is registered
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise Deadlock("nothing is ready and no timer is set")
        assert self.loop is not None
        self.loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _VirtualSelector()
        super().__init__(selector)
        selector.loop = self
        self._virtual_now = 0.0
        self._clock_resolution = 1e-9

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += max(0.0, seconds)
