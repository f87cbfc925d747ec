"""What happens around each call a model serves: the seam between the models and the scheduler.

A model awaits `before(op)` ahead of applying a call and `after(op)` once it has applied it. Either
may yield to other tasks (so instances interleave), raise CancelledError (the calling instance was
killed there: before the write, nothing happened; after it, the write happened and nobody learns),
or return a fault for the model to answer with. `Calm` is the weather of the contract suite: one
yield, no faults.
"""

from __future__ import annotations

import asyncio
from enum import Enum
from typing import Protocol


class Fault(Enum):
    UNAVAILABLE = "unavailable"  # before: the call fails and changes nothing (503, connection refused)
    LOST = "lost"  # after: the call took effect, its response never arrives
    THROTTLED = "throttled"  # before (ACS): 429 with Retry-After
    NOT_FOUND = "not_found"  # before (ACS): a spurious 404


class Weather(Protocol):
    async def before(self, service: str, op: str) -> Fault | None: ...

    async def after(self, service: str, op: str) -> Fault | None: ...


class Calm:
    async def before(self, service: str, op: str) -> Fault | None:
        await asyncio.sleep(0)
        return None

    async def after(self, service: str, op: str) -> Fault | None:
        return None
