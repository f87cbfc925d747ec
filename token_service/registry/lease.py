"""The cleanup lease: one cleanup run at a time across instances, manual runs and the CLI.

The Functions host makes each timer's schedule a singleton (a blob lease per listener), but a manual
run (`POST /admin/functions/...`), the CLI or a second timer (the repair pass) is outside it. So a run
takes this lease first: one row in the registry table (PK=RK="lease_cleanup") holding the owner and an
expiry, written only with an etag condition (insert, renew, take over after expiry). The holder renews
it while it runs; a run that fails to renew has lost it and starts no new work. A holder killed
outright is taken over once its expiry has passed. Lease times are wall-clock (system clock): they
coordinate processes, unlike the cleanup's own clock, which tests move.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from token_service.clock import Clock, system_clock
from token_service.registry.table import Conflict, Table

LEASE_KEY = "lease_cleanup"
LEASE_SECONDS = 60.0  # a killed holder blocks other runs this long at most; renewed every third of it


def run_owner(kind: str) -> str:
    """Who runs: the instance (WEBSITE_INSTANCE_ID in Azure, else the host name), the pid and the kind."""
    instance = os.environ.get("WEBSITE_INSTANCE_ID", "").strip()[:16] or socket.gethostname()
    return f"{instance} pid {os.getpid()} {kind}"


@dataclass(frozen=True)
class LeaseHolder:
    owner: str
    until: datetime

    def describe(self) -> str:
        return f"{self.owner} until {self.until.isoformat(timespec='seconds')}"


class CleanupLeaseHeld(Exception):
    """Another run holds the lease: this run does not start."""

    def __init__(self, holder: LeaseHolder) -> None:
        super().__init__(f"another cleanup run holds the lease: {holder.describe()}")
        self.holder = holder


class CleanupLease:
    """Acquire, renew and release the one cleanup lease row (all etag-conditional)."""

    def __init__(self, table: Table, owner: str, clock: Clock = system_clock, seconds: float = LEASE_SECONDS) -> None:
        self._table = table
        self.owner = owner
        self._token = uuid.uuid4().hex  # two runs may share an owner string (same pid): the token tells them apart
        self._clock = clock
        self._duration = timedelta(seconds=seconds)
        self._etag: str | None = None
        self.until: datetime | None = None

    @property
    def held(self) -> bool:
        return self._etag is not None

    def _entity(self) -> tuple[dict[str, object], datetime]:
        until = self._clock() + self._duration
        entity: dict[str, object] = {
            "PartitionKey": LEASE_KEY,
            "RowKey": LEASE_KEY,
            "owner": self.owner,
            "token": self._token,
            "until": until,
        }
        return entity, until

    async def acquire(self) -> None:
        """Take the lease, or raise CleanupLeaseHeld naming the live holder."""
        current = await self._table.get(LEASE_KEY, LEASE_KEY)
        entity, until = self._entity()
        try:
            if current is None:
                self._etag = await self._table.create(entity)
            else:
                holder = _holder(current)
                if current.get("token") != self._token and holder.until > self._clock():
                    raise CleanupLeaseHeld(holder)
                self._etag = await self._table.replace(entity, current.metadata["etag"])  # expired: take over
        except Conflict as lost:
            latest = await self._table.get(LEASE_KEY, LEASE_KEY)
            raise CleanupLeaseHeld(
                _holder(latest) if latest is not None else LeaseHolder("another run (just released)", self._clock())
            ) from lost
        self.until = until

    async def renew(self) -> bool:
        """Extend the lease; False if it was lost (taken over, or the row changed), and it is then not held."""
        if self._etag is None:
            return False
        entity, until = self._entity()
        try:
            self._etag = await self._table.replace(entity, self._etag)
        except Conflict:
            self._etag = None
            return False
        self.until = until
        return True

    async def release(self) -> None:
        """Give the lease back (only if still ours), so the next run need not wait for its expiry."""
        if self._etag is None:
            return
        etag, self._etag = self._etag, None
        try:
            await self._table.delete(LEASE_KEY, LEASE_KEY, etag)
        except Conflict:
            pass  # taken over meanwhile: not ours to delete


def _holder(entity: object) -> LeaseHolder:
    row = dict(entity)  # type: ignore[call-overload]
    until = row.get("until")
    if not isinstance(until, datetime):
        until = datetime.min.replace(tzinfo=UTC)
    return LeaseHolder(str(row.get("owner", "unknown")), until)
