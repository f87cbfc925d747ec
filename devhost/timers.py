"""Timer triggers: NCRONTAB (6 fields, seconds first) or TimeSpan schedules, fired on time.

Like the Functions host: `%NAME%` schedules come from app settings, times are UTC, one timer
never overlaps itself, one host per storage account runs a schedule (singleton listener lock),
`runOnStartup` fires once at start, and an occurrence missed while no host ran fires at start
with IsPastDue (`useMonitor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.storage.blob.aio import ContainerClient
from croniter import croniter

from devhost.functions import FunctionSpec
from devhost.runner import FunctionRunner
from devhost.schedule_monitor import NEVER, ScheduleMonitor, ScheduleStatus
from devhost.singleton import ListenerLock, SingletonOptions

log = logging.getLogger("devhost")

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


@dataclass
class TimerStorage:
    """Where timers keep their lock and status: AzureWebJobsStorage's hosts container, per host id."""

    container: ContainerClient
    host_id: str
    options: SingletonOptions


class TimerRunner:
    """One timer function's listener, as the WebJobs timer extension runs it.

    With storage: only the host holding the singleton listener lock runs the schedule (others
    retry every recovery interval), and with `useMonitor` (default true) the schedule status blob
    makes a missed occurrence fire at start with IsPastDue. Without storage (no
    AzureWebJobsStorage connection string) the schedule runs in this process alone.
    `run_now` serves the admin endpoint (no lock, no status update, as the host).
    """

    def __init__(
        self, function: FunctionSpec, schedule: Schedule, runtime: FunctionRunner, storage: TimerStorage | None = None
    ) -> None:
        self.function = function
        self.schedule = schedule
        self.runtime = runtime
        self.full_name = f"Host.Functions.{function.name}"  # FunctionDescriptor.FullName in the host
        self.use_monitor = _flag(function.trigger.get("useMonitor"), default=True)
        self.run_on_startup = _flag(function.trigger.get("runOnStartup"), default=False)
        self.storage = storage
        self.lock = (
            ListenerLock(storage.container, storage.host_id, self.full_name, storage.options) if storage else None
        )
        self.monitor = (
            ScheduleMonitor(storage.container, storage.host_id, self.full_name)
            if storage and self.use_monitor
            else None
        )
        self.status = ScheduleStatus(NEVER, NEVER, NEVER)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"timer:{self.function.name}")

    async def stop(self, grace: float = 30) -> None:
        """Let a running invocation finish (up to `grace` seconds), cancel the schedule, release the lock."""
        if self._lock.locked():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lock.acquire(), grace)
                self._lock.release()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.lock is not None:
            await self.lock.release()

    def timer_info(self, past_due: bool) -> dict[str, Any]:
        """The TimerInfo JSON the host sends; ScheduleStatus is null when the schedule is not monitored."""
        return {
            "Schedule": {"AdjustForDST": True},
            "ScheduleStatus": self.status.to_json() if self.use_monitor else None,
            "IsPastDue": past_due,
        }

    async def run_now(self, reason: str, past_due: bool = False) -> None:
        """One invocation outside the schedule; waits for a running one first (no overlap)."""
        async with self._lock:
            await self.runtime.invoke_timer(self.function, self.timer_info(past_due), reason)

    async def _run(self) -> None:
        if self.lock is None:
            await self._listen()
            return
        told = False
        while True:
            try:
                acquired = await self.lock.try_acquire()
            except HttpResponseError as error:
                log.warning("Timer %s: singleton lock check failed (%s); retrying", self.function.name, error.reason)
                acquired = False
            if not acquired:
                (log.debug if told else log.info)("Unable to acquire Singleton lock (%s).", self.lock.lock_id)
                told = True
                await asyncio.sleep(self.lock.options.recovery_polling_interval.total_seconds())
                continue
            listening = asyncio.create_task(self._listen())
            lost = asyncio.create_task(self.lock.lost.wait())
            try:
                await asyncio.wait({listening, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (listening, lost):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await self.lock.release()  # lost: stop firing, then compete for the lock again
            told = False

    async def _listen(self) -> None:
        """TimerListener.StartAsync and its timer loop."""
        now = datetime.now(UTC)
        past_due = False
        recorded: ScheduleStatus | None = None
        log.info("The next occurrences of '%s' (schedule '%s') are computed in UTC.", self.function.name,
                 self.schedule.expression)  # fmt: skip
        if self.monitor is not None:
            recorded = await self.monitor.get_status()
            lateness, recorded = await self.monitor.check_past_due(now, self.schedule, recorded)
            past_due = lateness > timedelta(0)
        self.status = recorded or ScheduleStatus(NEVER, self.schedule.next_after(now), NEVER)
        if past_due:
            log.info("Function '%s' is past due on startup. Executing now.", self.function.name)
            await self._fire(datetime.now(UTC), "IsPastDue", past_due=True)
        elif self.run_on_startup:
            log.info("Function '%s' is configured to run on startup. Executing now.", self.function.name)
            await self._fire(datetime.now(UTC), "RunOnStartup", run_on_startup=True)
        while True:
            await sleep_until(self.status.next)
            await self._fire(datetime.now(UTC), "Timer fired at " + _iso(self.status.next))

    async def _fire(self, invoked_at: datetime, reason: str, past_due: bool = False,
                    run_on_startup: bool = False) -> None:  # fmt: skip
        """InvokeJobFunction: run, then record Last/Next (from the scheduled time if fired early)."""
        async with self._lock:
            await self.runtime.invoke_timer(self.function, self.timer_info(past_due), reason)
            adjusted = invoked_at
            if not past_due and not run_on_startup and self.status.next > invoked_at:
                adjusted = self.status.next
            self.status = ScheduleStatus(adjusted, self.schedule.next_after(adjusted), adjusted)
            if self.monitor is not None:
                await self.monitor.update_status(self.status)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def _iso(moment: datetime) -> str:
    return moment.isoformat()
