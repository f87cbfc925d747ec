"""One schedule per seed: a seeded workload of N instances, then a healing phase, then the verdict.

Workload rounds (each drawn from the seed): a burst of one user's token requests on several
instances; a mix of token requests, DELETE /api/me, admin deletes, erasures, cleanup runs and repair
passes; a clock jump (11 minutes, 2 days or 40 days); an ACS storm (429s or 503s on one operation)
begun or ended. The operations of a round run concurrently and the scheduler interleaves them, kills
instances, loses responses and injects faults at their awaits. Healing: faults off, the clock moved
past the stale threshold, two cleanup runs and one repair pass on a fresh instance.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

from tests.simulation.invariants import Invariants
from tests.simulation.scheduler import SeededWeather
from tests.simulation.table_model import Paging
from tests.simulation.virtual_loop import VirtualTimeLoop
from tests.simulation.weather import Fault
from tests.simulation.world import STALE_DAYS, World

OPS = ("token", "token", "token", "delete_me", "admin_delete", "erase", "cleanup", "repair")
JUMPS = (timedelta(minutes=11), timedelta(days=2), timedelta(days=40))
STORM_OPS = ("issue", "revoke", "delete", "create")


@dataclass
class ScheduleResult:
    seed: int
    violations: list[str]
    trace: list[str] = field(default_factory=list)
    calls: int = 0
    orphans: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.violations)


def run_schedule(seed: int) -> ScheduleResult:
    """Run one schedule on a fresh virtual-time loop (deterministic: the same seed, the same run)."""
    loop = VirtualTimeLoop()
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)  # the app logs every step; a schedule needs none of it
    random.seed(seed)  # users.py's jitter
    try:
        return loop.run_until_complete(_schedule(seed))
    finally:
        logging.disable(previous)
        loop.close()


async def _schedule(seed: int) -> ScheduleResult:
    rng = random.Random(seed)
    trace: list[str] = []
    weather = SeededWeather(random.Random(rng.random()), trace)
    paging = Paging.odd(rng.randrange(1 << 30)) if rng.random() < 0.5 else Paging()
    world = World(weather, paging)
    checks = Invariants(world)
    weather.check = checks.safety
    checks.actors = world.actors
    world.start(rng.randint(2, 4))
    users = [f"oid:tenant:u{n}" for n in range(rng.randint(1, 3))]
    trace.append(f"seed {seed}: {len(world.nodes)} instances, users {users}, odd pages {paging.rng is not None}")
    for round_number in range(rng.randint(4, 12)):
        tasks = _round(rng, world, users, round_number)
        for outcome in await asyncio.gather(*tasks):
            trace.append(f"  {outcome.actor.instance.name} {outcome.op} {outcome.actor.user or ''} -> {outcome.result}")
            checks.outcome(outcome)
            if outcome.op == "erase" and outcome.result == "ok" and outcome.actor.user:
                checks.erasures.append((outcome.actor.user, outcome.ended))
        checks.safety()
    weather.calm = True
    weather.storms.clear()
    world.jump(timedelta(days=STALE_DAYS + 1))
    healer = world.nodes[0]
    trace.append("healing: faults off, clock +31 days, cleanup, cleanup, repair")
    for op, work in (
        ("cleanup", world.cleanup(False)),
        ("cleanup", world.cleanup(False)),
        ("repair", world.cleanup(True)),
    ):
        outcome = await world.spawn(healer, op, None, work)
        trace.append(f"  {healer.instance.name} {op} -> {outcome.result}")
        checks.outcome(outcome)
    checks.safety()
    checks.eventual()
    return ScheduleResult(seed, checks.violations, trace, weather.calls, checks.orphans)


def _round(rng: random.Random, world: World, users: list[str], number: int) -> list[asyncio.Task]:  # type: ignore[type-arg]
    trace = world.weather.trace
    kind = rng.choices(("burst", "mix", "jump", "storm"), weights=(3, 5, 2, 2))[0]
    if kind == "jump":
        by = rng.choice(JUMPS)
        world.jump(by)
        trace.append(f"round {number}: clock +{by}")
        return []
    if kind == "storm":
        op = rng.choice(STORM_OPS)
        if op in world.weather.storms and rng.random() < 0.7:
            del world.weather.storms[op]
            trace.append(f"round {number}: ACS {op} storm ends")
        else:
            fault = rng.choice((Fault.THROTTLED, Fault.UNAVAILABLE))
            world.weather.storms[op] = fault
            trace.append(f"round {number}: ACS {op} storm begins ({fault.value})")
        return []
    if kind == "burst":
        user = rng.choice(users)
        count = rng.randint(2, 6)
        trace.append(f"round {number}: burst of {count} token requests for {user}")
        return [
            world.spawn(rng.choice(world.nodes), "token", user, lambda n, u=user: world.token(n, u))
            for _ in range(count)
        ]
    tasks = []
    names = []
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(OPS)
        user = rng.choice(users)
        node = rng.choice(world.nodes)
        names.append(f"{node.instance.name}:{op}({user[-2:]})")
        if op in ("cleanup", "repair"):
            tasks.append(world.spawn(node, op, None, world.cleanup(op == "repair")))
            continue
        work = {
            "token": world.token,
            "delete_me": world.delete_me,
            "admin_delete": world.admin_delete,
            "erase": world.erase,
        }[op]
        tasks.append(world.spawn(node, op, user, lambda n, w=work, u=user: w(n, u)))
    trace.append(f"round {number}: " + ", ".join(names))
    return tasks


def run_many(seeds: range, stop_after: int | None = None) -> tuple[list[ScheduleResult], float]:
    """Run schedules; the failing ones (all, or the first `stop_after`) and the seconds it took."""
    started = time.perf_counter()
    failing = []
    for seed in seeds:
        result = run_schedule(seed)
        if result.failed:
            failing.append(result)
            if stop_after is not None and len(failing) >= stop_after:
                break
    return failing, time.perf_counter() - started
