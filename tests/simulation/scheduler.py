"""The seeded scheduler: at every await inside a model call it decides how the instances interleave,
whether the calling instance dies there, and which fault the call meets. Every decision comes from one
`random.Random(seed)`, so a seed replays exactly; the ones that matter are written to the trace.

Kill = the instance's tasks are cancelled at this await and every later call of that instance goes
nowhere (a process killed outright sends nothing more, runs no `finally`). Before the write: nothing
happened; after it: the write happened and nobody learns. Storms (a run of 429s or 503s on one ACS
operation) are set by the workload; `check` runs the safety invariants after every call.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.simulation.actors import Instance, current_actor
from tests.simulation.weather import Fault


@dataclass
class Odds:
    kill_before: float = 0.004
    kill_after: float = 0.004
    table_unavailable: float = 0.01
    table_lost: float = 0.01
    acs_unavailable: float = 0.01
    acs_not_found: float = 0.01  # spurious 404 on issue, revoke, delete
    acs_lost: float = 0.005
    delay: float = 0.1  # a virtual delay (up to 50 ms) instead of bare yields


@dataclass
class SeededWeather:
    rng: random.Random
    trace: list[str]
    odds: Odds = field(default_factory=Odds)
    storms: dict[str, Fault] = field(default_factory=dict)  # ACS op -> THROTTLED / UNAVAILABLE
    calm: bool = False  # the healing phase: no faults, no kills
    check: Callable[[], None] = lambda: None
    on_kill: Callable[[Instance], None] = lambda instance: None
    calls: int = 0

    async def before(self, service: str, op: str) -> Fault | None:
        actor = current_actor()
        if actor is not None and actor.instance.dead:
            raise asyncio.CancelledError
        self.calls += 1
        self.check()
        await self._interleave()
        if actor is not None and actor.instance.dead:  # killed while this call waited its turn
            raise asyncio.CancelledError
        if self.calm:
            return None
        roll = self.rng.random()
        if actor is not None and roll < self.odds.kill_before:
            self._kill(actor.instance, f"{service}.{op} before")
        roll -= self.odds.kill_before
        if service == "table":
            if roll < self.odds.table_unavailable:
                return self._note(Fault.UNAVAILABLE, service, op)
            return None
        storm = self.storms.get(op)
        if storm is not None:
            return storm
        if roll < self.odds.acs_unavailable:
            return self._note(Fault.UNAVAILABLE, service, op)
        roll -= self.odds.acs_unavailable
        if op in ("issue", "revoke", "delete") and roll < self.odds.acs_not_found:
            return self._note(Fault.NOT_FOUND, service, op)
        return None

    async def after(self, service: str, op: str) -> Fault | None:
        if self.calm:
            return None
        actor = current_actor()
        roll = self.rng.random()
        if actor is not None and roll < self.odds.kill_after:
            self._kill(actor.instance, f"{service}.{op} after the write")
        roll -= self.odds.kill_after
        lost = self.odds.table_lost if service == "table" else self.odds.acs_lost
        if op not in ("get", "query", "ensure") and roll < lost:
            return self._note(Fault.LOST, service, op)
        return None

    async def _interleave(self) -> None:
        if self.rng.random() < self.odds.delay:
            await asyncio.sleep(self.rng.random() * 0.05)
            return
        for _ in range(self.rng.randint(0, 3)):
            await asyncio.sleep(0)

    def _note(self, fault: Fault, service: str, op: str) -> Fault:
        actor = current_actor()
        who = f"{actor.instance.name}/{actor.route}" if actor else "?"
        self.trace.append(f"  fault {fault.value} on {service}.{op} ({who})")
        return fault

    def _kill(self, instance: Instance, where: str) -> None:
        instance.dead = True
        self.trace.append(f"  KILL {instance.name} at {where}")
        self.on_kill(instance)
        raise asyncio.CancelledError
