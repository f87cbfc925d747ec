"""Timer schedule status as the WebJobs timer extension keeps it (StorageScheduleMonitor).

Blob `timers/{hostId}/{FunctionFullName}/status` in `azure-webjobs-hosts`, JSON
`{"Last": ..., "Next": ..., "LastUpdated": ...}`. At listener start the recorded `Next` tells
whether an occurrence was missed while no host ran (then the function fires at once with
IsPastDue = true); a schedule changed since is re-based first (CheckPastDueAsync).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import ContainerClient

log = logging.getLogger("devhost")

NEVER = datetime(1, 1, 1, tzinfo=UTC)  # .NET's default(DateTime): "not recorded yet"


class NextOccurrence(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...


@dataclass
class ScheduleStatus:
    last: datetime
    next: datetime
    last_updated: datetime

    def to_json(self) -> dict[str, str]:
        return {"Last": _iso(self.last), "Next": _iso(self.next), "LastUpdated": _iso(self.last_updated)}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ScheduleStatus:
        return cls(_parse(document.get("Last")), _parse(document.get("Next")), _parse(document.get("LastUpdated")))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse(value: Any) -> datetime:
    """ISO 8601 as .NET writes it (up to 7 fractional digits, with or without offset) -> aware UTC."""
    if not value:
        return NEVER
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value)).replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


class ScheduleMonitor:
    """Reads and writes one timer's status blob; `check_past_due` is CheckPastDueAsync."""

    def __init__(self, container: ContainerClient, host_id: str, timer_name: str) -> None:
        self.blob_name = f"timers/{host_id}/{timer_name}/status"
        self.container = container
        self.timer_name = timer_name

    async def get_status(self) -> ScheduleStatus | None:
        try:
            downloaded = await self.container.get_blob_client(self.blob_name).download_blob()
            return ScheduleStatus.from_json(json.loads(await downloaded.readall()))
        except ResourceNotFoundError:
            return None

    async def update_status(self, status: ScheduleStatus) -> None:
        """Best effort, as the host: a failed write is logged, the schedule goes on."""
        try:
            with contextlib.suppress(ResourceExistsError):
                await self.container.create_container()
            body = json.dumps(status.to_json()).encode()
            await self.container.get_blob_client(self.blob_name).upload_blob(body, overwrite=True)
        except HttpResponseError:
            log.exception("Function '%s' failed to update the timer trigger status.", self.timer_name)

    async def check_past_due(
        self, now: datetime, schedule: NextOccurrence, status: ScheduleStatus | None
    ) -> tuple[timedelta, ScheduleStatus]:
        """How late the recorded next occurrence is (zero if not), and the status now recorded."""
        if status is None:
            status = ScheduleStatus(NEVER, schedule.next_after(now), now)
            await self.update_status(status)
        else:
            if status.last != NEVER:
                expected, last_updated = schedule.next_after(status.last), status.last
            elif status.last_updated != NEVER:
                expected, last_updated = schedule.next_after(status.last_updated), status.last_updated
            else:
                expected, last_updated = schedule.next_after(now), now
            if status.next != expected:  # the schedule changed since the status was written
                if now > expected:
                    expected, last_updated = schedule.next_after(now), now
                status = ScheduleStatus(NEVER, expected, last_updated)
                await self.update_status(status)
        return (now - status.next if now > status.next else timedelta(0)), status
