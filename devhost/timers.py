"""Timer triggers: NCRONTAB (6 fields, seconds first) or TimeSpan schedules, fired on time.

Like the Functions host: `%NAME%` schedules come from app settings, times are UTC, one timer
never overlaps itself, `runOnStartup` fires once at start, and `past_due` tells a late firing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest
from croniter import croniter

from devhost.functions import FunctionSpec
from devhost.invoke import invoke

log = logging.getLogger("devhost")

PAST_DUE_AFTER = timedelta(seconds=5)
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")
_SETTING = re.compile(r"^%([^%]+)%$")


class ScheduleError(ValueError):
    """A schedule (or the setting it names) is missing or malformed."""


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; `expression` is what was resolved from settings."""

    expression: str
    interval: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        if self.interval is not None:
            return moment + self.interval
        fields = self.expression.split()
        return croniter(self.expression, moment, second_at_beginning=len(fields) == 6).get_next(datetime)


def resolve_schedule(raw: str, environ: dict[str, str] | None = None) -> Schedule:
    """Resolve `%SETTING%` and validate; the error names the setting or the expression."""
    env = os.environ if environ is None else environ
    expression = raw.strip()
    named = _SETTING.match(expression)
    if named:
        setting = named.group(1)
        if not env.get(setting, "").strip():
            raise ScheduleError(f"timer schedule {raw}: app setting {setting} is not set")
        expression = env[setting].strip()
    span = _TIMESPAN.match(expression)
    if span:
        days, hours, minutes, seconds = (int(part or 0) for part in span.groups())
        interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        if interval <= timedelta(0):
            raise ScheduleError(f"timer schedule {raw!r}: the interval must be positive")
        return Schedule(expression, interval)
    if len(expression.split()) not in (5, 6) or not croniter.is_valid(
        expression, second_at_beginning=len(expression.split()) == 6
    ):
        raise ScheduleError(f"timer schedule {raw!r} ({expression!r}) is not a valid NCRONTAB expression")
    return Schedule(expression)


async def sleep_until(moment: datetime) -> None:
    """Sleep in bounded steps so a wall-clock jump (suspend, NTP) delays a firing by 30 s at most."""
    remaining = (moment - datetime.now(UTC)).total_seconds()
    while remaining > 0:
        await asyncio.sleep(min(remaining, 30))
        remaining = (moment - datetime.now(UTC)).total_seconds()


class TimerRunner:
    """Runs one timer function on its schedule until stopped; `run_now` serves the admin endpoint."""

    def __init__(self, function: FunctionSpec, schedule: Schedule) -> None:
        self.function = function
        self.schedule = schedule
        self.last: datetime | None = None
        self.next: datetime | None = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"timer:{self.function.name}")

    async def stop(self, grace: float = 30) -> None:
        """Let a running invocation finish (up to `grace` seconds), then cancel the schedule."""
        if self._lock.locked():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lock.acquire(), grace)
                self._lock.release()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run_now(self, reason: str, past_due: bool = False) -> None:
        """One invocation; waits for a running one first (a timer never overlaps itself)."""
        async with self._lock:
            now = datetime.now(UTC)
            request = TimerRequest(
                past_due=past_due,
                schedule_status={
                    "Last": (self.last or now).isoformat(),
                    "Next": (self.next or self.schedule.next_after(now)).isoformat(),
                    "LastUpdated": now.isoformat(),
                },
                schedule={"AdjustForDST": True},
            )
            self.last = now
            try:
                await invoke(self.function, request, reason)
            except Exception:  # noqa: S110 - invoke logged it; a failed run must not stop the timer
                pass

    async def _loop(self) -> None:
        if self.function.trigger.get("runOnStartup"):
            await self.run_now("RunOnStartup")
        while True:
            due = self.schedule.next_after(datetime.now(UTC))
            self.next = due
            await sleep_until(due)
            late = datetime.now(UTC) - due
            await self.run_now("Timer fired at " + due.isoformat(), past_due=late > PAST_DUE_AFTER)
