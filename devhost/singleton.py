"""Singleton listener locks as the WebJobs SDK takes them: a blob lease per timer function.

Blob `locks/{hostId}/{FunctionFullName}.Listener` in `azure-webjobs-hosts` (BlobLeaseDistributedLockManager,
SingletonListener). The holder renews the lease at half its period; a host that cannot get it
retries every recovery interval (ListenerLockRecoveryPollingInterval), so when the holder stops,
another host takes over the schedule. Periods come from host.json `singleton` (or
`AzureFunctionsJobHost__singleton__*` settings), with the SDK's defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

log = logging.getLogger("devhost")

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


@dataclass(frozen=True)
class SingletonOptions:
    """SingletonOptions: listener lease 60 s (15 s in Development, as Core Tools), recovery poll 60 s."""

    listener_lock_period: timedelta = timedelta(seconds=15)
    recovery_polling_interval: timedelta = timedelta(minutes=1)

    @classmethod
    def load(cls, app_dir: Path, environ: Mapping[str, str] | None = None) -> SingletonOptions:
        env = os.environ if environ is None else environ
        try:
            section: Any = json.loads((app_dir / "host.json").read_text(encoding="utf-8")).get("singleton", {})
        except (OSError, ValueError):
            section = {}

        def read(name: str, default: timedelta) -> timedelta:
            raw = env.get(f"AzureFunctionsJobHost__singleton__{name}") or section.get(name)
            parsed = _timespan(str(raw)) if raw else None
            return parsed or default

        return cls(
            read("listenerLockPeriod", cls.listener_lock_period),
            read("listenerLockRecoveryPollingInterval", cls.recovery_polling_interval),
        )


def _timespan(text: str) -> timedelta | None:
    found = _TIMESPAN.match(text.strip())
    if not found:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return value if value > timedelta(0) else None


class ListenerLock:
    """One listener lock; `acquire()` returns True when this host holds it (and keeps renewing it)."""

    def __init__(self, container: ContainerClient, host_id: str, function_full_name: str,
                 options: SingletonOptions) -> None:  # fmt: skip
        self.lock_id = f"{host_id}/{function_full_name}.Listener"
        self.blob_name = f"locks/{self.lock_id}"
        self.container = container
        self.options = options
        self.lost = asyncio.Event()
        self._lease: BlobLeaseClient | None = None
        self._renewal: asyncio.Task[None] | None = None

    async def try_acquire(self) -> bool:
        """One attempt (TryAcquireLeaseAsync): create the blob if missing, then lease it if free."""
        blob = self.container.get_blob_client(self.blob_name)
        lease = BlobLeaseClient(blob, lease_id=str(uuid.uuid4()))
        seconds = int(self.options.listener_lock_period.total_seconds())
        try:
            await lease.acquire(lease_duration=seconds)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                await self.container.create_container()
            with contextlib.suppress(ResourceExistsError, HttpResponseError):
                await blob.upload_blob(b"", overwrite=False)
            try:
                await lease.acquire(lease_duration=seconds)
            except HttpResponseError as error:
                if error.status_code == 409:
                    return False
                raise
        except HttpResponseError as error:
            if error.status_code == 409:
                return False
            raise
        self._lease = lease
        self.lost.clear()
        self._renewal = asyncio.create_task(self._renew(), name=f"lease:{self.lock_id}")
        log.info("Singleton lock acquired (%s)", self.lock_id)
        return True

    async def _renew(self) -> None:
        """Renew at half the lease period; a failed renewal means another host may take over."""
        interval = self.options.listener_lock_period.total_seconds() / 2
        while True:
            await asyncio.sleep(interval)
            assert self._lease is not None
            try:
                await self._lease.renew()
            except HttpResponseError as error:
                log.error("Singleton lock renewal failed for blob '%s' with error code %s.", self.lock_id,
                          getattr(error, "error_code", None) or error.status_code)
                self.lost.set()
                return

    async def release(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewal
            self._renewal = None
        if self._lease is not None:
            with contextlib.suppress(HttpResponseError):
                await self._lease.release()
            log.info("Singleton lock released (%s)", self.lock_id)
            self._lease = None
