"""Revoke and delete identities that went stale, safely and at ACS's pace: the run.

A run feeds a bounded queue (first the deletions that requests started, the deleting index; then the
stale candidates of the activity index, oldest day first) to concurrent workers, within its limits
(identities per run, time budget); what each identity needs is decided in decisions.py. A dry run only
counts what it would take.

One run at a time: a run takes the cleanup lease (registry/lease.py) before it starts, renews it while
it runs and stops starting work if a renewal fails; a second run raises CleanupLeaseHeld naming the
holder. At its end a run gives back the claims it left unfinished. Its time budget runs on the event
loop's clock (time.monotonic in production), so the simulator's virtual-time loop can drive it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from token_service.acs.gateway import AcsGateway
from token_service.cleanup.decisions import IdentityDecisions
from token_service.cleanup.policy import CleanupPolicy, CleanupSummary
from token_service.cleanup.purge import purge_expired
from token_service.clock import Clock, day_key
from token_service.errors import ServiceError
from token_service.registry import ActivityEntry, CleanupLease, Registry, run_owner

log = logging.getLogger("token_service.cleanup")


@dataclass(frozen=True)
class _Resume:
    acs_id: str
    reason: str


_Work = ActivityEntry | _Resume


class StaleIdentityCleanup:
    def __init__(
        self,
        registry: Registry,
        acs: AcsGateway,
        clock: Clock,
        policy: CleanupPolicy,
        progress: Callable[[CleanupSummary], None] | None = None,
        kind: str = "timer",
    ) -> None:
        self._registry = registry
        self._clock = clock
        self._policy = policy
        self.progress = progress
        self.owner = f"{run_owner(kind)} run {uuid.uuid4().hex[:8]}"
        self._lease: CleanupLease = registry.cleanup_lease(self.owner, policy.lease_seconds)
        self._lost = False
        self._decisions = IdentityDecisions(registry, acs, clock, policy, self.owner)

    async def run(self) -> CleanupSummary:
        """One run under the cleanup lease; raises CleanupLeaseHeld (nothing done) if another run holds it.

        A dry run changes nothing, so it runs without the lease.
        """
        if not self._policy.dry_run:
            await self._lease.acquire()
            log.info(json.dumps({"event": "cleanup_lease_acquired", "owner": self.owner}))
        try:
            return await self._run()
        finally:
            await self._decisions.give_back_claims()
            await self._lease.release()

    async def _run(self) -> CleanupSummary:
        summary = CleanupSummary(dry_run=self._policy.dry_run, owner=self.owner)
        started = asyncio.get_running_loop().time()
        deadline = started + self._policy.time_budget_seconds
        cutoff = self._policy.cutoff(self._clock())
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=self._policy.concurrency * 2)

        async def feed_then_stop() -> None:
            try:
                await self._feed(queue, summary, cutoff, deadline)
            finally:
                for _ in range(self._policy.concurrency):
                    await queue.put(None)

        # A TaskGroup: if the run itself is cancelled (the host stops it), every worker stops with it. The
        # scan's own failure (the registry unreachable) leaves it as the ServiceError it is, not as a group.
        try:
            async with asyncio.TaskGroup() as group:
                renewing = group.create_task(self._keep_lease())
                concurrency = self._policy.concurrency
                workers = [group.create_task(self._worker(queue, summary, deadline)) for _ in range(concurrency)]
                workers.append(group.create_task(feed_then_stop()))
                await asyncio.gather(*workers)
                if not self._lost and not self._policy.repair_only:
                    await purge_expired(self._registry, self._clock, self._policy, summary, deadline)
                renewing.cancel()
        except* ServiceError as failed:
            raise failed.exceptions[0] from failed
        if self._lost:
            summary.stopped_early = "lease_lost"
        summary.duration_seconds = round(asyncio.get_running_loop().time() - started, 3)
        log.info(summary.log_line())
        for name in ("scanned", "stale", "revoked", "deleted", "already_gone", "failed", "purged"):
            log.info(json.dumps({"event": "metric", "name": f"cleanup.{name}", "value": getattr(summary, name)}))
        return summary

    @property
    def policy(self) -> CleanupPolicy:
        return self._policy

    @property
    def lease_lost(self) -> bool:
        """A renewal failed: another run may hold the lease, so this one starts no new work."""
        return self._lost

    async def _keep_lease(self) -> None:
        """Renew the lease while the run works; a failed renewal means another run may have it: stop."""
        if not self._lease.held:
            return
        while True:
            await asyncio.sleep(self._policy.lease_seconds / 3)  # two renewals may fail before it expires
            try:
                renewed = await self._lease.renew()
            except ServiceError:
                renewed = False
            if not renewed:
                self._lost = True
                log.warning(json.dumps({"event": "cleanup_lease_lost", "owner": self.owner}))
                return

    async def _feed(
        self, queue: asyncio.Queue[_Work | None], summary: CleanupSummary, cutoff: datetime, deadline: float
    ) -> None:
        taken = 0
        if not self._policy.dry_run:
            async for acs_id, reason in self._registry.pending_deletions():
                if self._out_of_budget(summary, deadline, taken):
                    return
                taken += 1
                await queue.put(_Resume(acs_id, reason))
        if self._policy.repair_only:
            return
        async for entry in self._scan(cutoff):
            summary.scanned += 1
            if entry.last_activity >= cutoff:
                continue
            if self._out_of_budget(summary, deadline, taken):
                return
            taken += 1
            summary.stale += 1
            if self._policy.dry_run:
                summary.would_delete.append(entry.acs_id)
                continue
            await queue.put(entry)

    async def count_stale(self) -> int:
        """How many identities are stale now: what a run without limits would take."""
        cutoff = self._policy.cutoff(self._clock())
        return sum([1 async for entry in self._scan(cutoff) if entry.last_activity < cutoff])

    async def preview(self, first: int) -> CleanupPreview:
        """Read-only: the stale count, the deletions a run would finish first, and the first candidates."""
        cutoff = self._policy.cutoff(self._clock())
        pending = 0 if self._policy.dry_run else sum([1 async for _ in self._registry.pending_deletions()])
        stale, candidates = 0, list[ActivityEntry]()
        async for entry in self._scan(cutoff):
            if entry.last_activity < cutoff:
                stale += 1
                if len(candidates) < first:
                    candidates.append(entry)
        would_take = min(pending + stale, self._policy.max_per_run)
        return CleanupPreview(cutoff, stale, pending, would_take, candidates)

    def _scan(self, cutoff: datetime) -> AsyncIterator[ActivityEntry]:
        """Candidates: partitions are days, so everything before the cutoff's day plus that day itself
        (callers filter the cutoff day by time)."""
        return self._registry.stale_activity(day_key(cutoff + timedelta(days=1)))

    def _out_of_budget(self, summary: CleanupSummary, deadline: float, taken: int) -> bool:
        if self._lost:
            summary.stopped_early = "lease_lost"
        elif taken >= self._policy.max_per_run:
            summary.stopped_early = "max_per_run"
        elif asyncio.get_running_loop().time() >= deadline:
            summary.stopped_early = "time_budget"
        return summary.stopped_early is not None

    async def _worker(self, queue: asyncio.Queue[_Work | None], summary: CleanupSummary, deadline: float) -> None:
        while (item := await queue.get()) is not None:
            if self._lost:
                summary.stopped_early = "lease_lost"
                continue  # another run may hold the lease now: start nothing more
            if asyncio.get_running_loop().time() >= deadline:
                summary.stopped_early = "time_budget"
                continue  # drain: what is left stays consistent for the next run
            try:
                if isinstance(item, _Resume):
                    await self._decisions.resume(item.acs_id, item.reason, summary)
                else:
                    await self._decisions.remove_stale(item, summary)
            except ServiceError as error:
                summary.failed += 1
                log.warning(json.dumps({"event": "cleanup_item_failed", "code": error.code, "detail": error.detail}))
            except Exception as error:  # one identity's surprise must not stop the run
                summary.failed += 1
                log.warning(json.dumps({"event": "cleanup_item_failed", "code": type(error).__name__}))
            if self.progress:
                self.progress(summary)


@dataclass(frozen=True)
class CleanupPreview:
    """What the next run would take, read with the run's own scan and cutoff; nothing is written."""

    cutoff: datetime
    stale: int
    pending_deletions: int
    would_take: int
    candidates: list[ActivityEntry]
