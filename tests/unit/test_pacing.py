"""Pacer, through its API. It reads time.monotonic itself (no clock parameter), so these tests use paces
of an hour per call: "is still waiting" is then a fact, not a timing, on any machine, however loaded."""

from __future__ import annotations

import asyncio

from token_service.acs.pacing import Pacer

HOUR = 3600.0
LIVENESS = 60.0  # only bounds a hang; a correct pacer returns at once


async def held(pacer: Pacer, callers: int = 1) -> bool:
    """True when every one of `callers` new wait_turn() calls is still waiting once the loop ran all
    else that was ready; the calls are cancelled afterwards."""
    tasks = [asyncio.create_task(pacer.wait_turn()) for _ in range(callers)]
    try:
        await asyncio.wait(tasks, timeout=0.05)
        return not any(task.done() for task in tasks)
    finally:
        for task in tasks:
            task.cancel()


async def test_the_first_call_goes_at_once_the_next_waits_its_slot() -> None:
    pacer = Pacer(1 / HOUR)
    await asyncio.wait_for(pacer.wait_turn(), LIVENESS)
    assert await held(pacer)


async def test_a_fast_pace_lets_many_calls_through() -> None:
    pacer = Pacer(1_000_000)
    await asyncio.wait_for(asyncio.gather(*(pacer.wait_turn() for _ in range(100))), LIVENESS)


async def test_pause_holds_every_caller() -> None:
    pacer = Pacer(1_000_000)
    pacer.pause(HOUR)
    assert await held(pacer, callers=3)


async def test_a_shorter_pause_does_not_shorten_a_longer_one() -> None:
    pacer = Pacer(1_000_000)
    pacer.pause(HOUR)
    pacer.pause(0)
    assert await held(pacer)


async def test_a_zero_pause_on_a_fresh_pacer_changes_nothing() -> None:
    pacer = Pacer(1_000_000)
    pacer.pause(0)
    await asyncio.wait_for(pacer.wait_turn(), LIVENESS)


async def test_pacers_are_independent() -> None:
    revokes, deletes = Pacer(1_000_000), Pacer(1_000_000)
    revokes.pause(HOUR)
    await asyncio.wait_for(deletes.wait_turn(), LIVENESS)
