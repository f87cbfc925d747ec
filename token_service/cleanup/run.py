"""Revoke and delete identities that went stale, safely and at ACS's pace.

Per identity the steps are: claim (etag-conditional mark 'deleting'), revoke, delete, tombstone. Each
step is idempotent and the claim is recorded before ACS is touched; the identity's activity-index row
stays until the tombstone, so a run killed anywhere finds it again and finishes it. Deletions that
requests started (the deleting index) are finished first.
A token issued while the run decides wins the etag race, and the identity survives.

One run at a time: a run takes the cleanup lease (registry/lease.py) before it starts, renews it while
it runs and stops starting work if a renewal fails; a second run raises CleanupLeaseHeld naming the
holder. Each claim records its run and an expiry (registry/claims.py): a run skips another live run's
claims and resumes only expired or ownerless ones; at its end a run gives back the claims it left
unfinished, so the next run resumes them at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from token_service.acs.gateway import AcsGateway
from token_service.acs.pacing import Pacer
from token_service.clock import Clock, day_key
from token_service.errors import IdentityNotFound, ServiceError, UpstreamThrottled
from token_service.registry import ActivityEntry, IdentityRecord, IdentityState, MappingState, Registry
from token_service.registry.claims import CleanupClaim
from token_service.registry.lease import LEASE_SECONDS, CleanupLease, run_owner
from token_service.settings import CleanupSettings

log = logging.getLogger("token_service.cleanup")
STALE_REASON = "stale"


@dataclass
class CleanupSummary:
    dry_run: bool
    scanned: int = 0
    stale: int = 0
    revoked: int = 0
    deleted: int = 0
    already_gone: int = 0
    failed: int = 0
    survived: int = 0
    resumed: int = 0
    skipped_live_claims: int = 0
    owner: str = ""
    stopped_early: str | None = None
    duration_seconds: float = 0.0
    would_delete: list[str] = field(default_factory=list)

    def log_line(self) -> str:
        data = asdict(self)
        data["would_delete"] = len(self.would_delete)
        return json.dumps({"event": "cleanup_summary", **data}, separators=(",", ":"))


@dataclass(frozen=True)
class _Resume:
    acs_id: str
    reason: str


_Work = ActivityEntry | _Resume


@dataclass(frozen=True)
class CleanupPolicy:
    stale_days: int
    max_per_run: int
    time_budget_seconds: float
    dry_run: bool
    concurrency: int = 32
    acs_calls_per_second: float = 10.0  # ACS: 500 revokes and 500 deletes per 30 s; 10/s takes 300 (60%)
    repair_only: bool = False  # the repair pass: finish started deletions only, claim nothing new
    claim_seconds: float = 300.0  # a claim outlives one identity's paced revoke+delete with retries
    lease_seconds: float = LEASE_SECONDS  # the cleanup lease's term; renewed every third of it

    @classmethod
    def from_settings(cls, settings: CleanupSettings) -> CleanupPolicy:
        """The policy the app settings define; the remaining fields are the run's own tuning."""
        return cls(
            stale_days=settings.stale_days,
            max_per_run=settings.max_per_run,
            time_budget_seconds=settings.time_budget_seconds,
            dry_run=settings.dry_run,
            acs_calls_per_second=settings.acs_calls_per_second,
        )

    def cutoff(self, now: datetime) -> datetime:
        """Identities whose last activity is before this are stale."""
        return now - timedelta(days=self.stale_days)


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
        self._acs = acs
        self._clock = clock
        self._policy = policy
        self.progress = progress
        self._revoke_pace = Pacer(policy.acs_calls_per_second)
        self._delete_pace = Pacer(policy.acs_calls_per_second)
        self.owner = f"{run_owner(kind)} run {uuid.uuid4().hex[:8]}"
        self._lease: CleanupLease = registry.cleanup_lease(self.owner, policy.lease_seconds)
        self._lost = False
        self._open_claims: dict[str, CleanupClaim] = {}

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
            await self._give_back_claims()
            await self._lease.release()

    async def _run(self) -> CleanupSummary:
        summary = CleanupSummary(dry_run=self._policy.dry_run, owner=self.owner)
        started = time.monotonic()
        deadline = started + self._policy.time_budget_seconds
        cutoff = self._policy.cutoff(self._clock())
        queue: asyncio.Queue[_Work | None] = asyncio.Queue(maxsize=self._policy.concurrency * 2)

        async def feed_then_stop() -> None:
            try:
                await self._feed(queue, summary, cutoff, deadline)
            finally:
                for _ in range(self._policy.concurrency):
                    await queue.put(None)

        # A TaskGroup: if the run itself is cancelled (the host stops it), every worker stops with it.
        async with asyncio.TaskGroup() as group:
            renewing = group.create_task(self._keep_lease())
            concurrency = self._policy.concurrency
            workers = [group.create_task(self._worker(queue, summary, deadline)) for _ in range(concurrency)]
            workers.append(group.create_task(feed_then_stop()))
            await asyncio.gather(*workers)
            renewing.cancel()
        if self._lost:
            summary.stopped_early = "lease_lost"
        summary.duration_seconds = round(time.monotonic() - started, 3)
        log.info(summary.log_line())
        for name in ("scanned", "stale", "revoked", "deleted", "already_gone", "failed"):
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

    async def _give_back_claims(self) -> None:
        """Claims this run made and did not finish: expire them now, so the next run resumes them."""
        claims, self._open_claims = self._open_claims, {}
        for acs_id, claim in claims.items():
            try:
                await self._registry.release_claim(acs_id, claim, self._clock())
            except Exception:  # best effort: an unreleased claim still expires on its own
                log.warning(json.dumps({"event": "cleanup_claim_not_released"}))

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
        elif time.monotonic() >= deadline:
            summary.stopped_early = "time_budget"
        return summary.stopped_early is not None

    async def _worker(self, queue: asyncio.Queue[_Work | None], summary: CleanupSummary, deadline: float) -> None:
        while (item := await queue.get()) is not None:
            if self._lost:
                summary.stopped_early = "lease_lost"
                continue  # another run may hold the lease now: start nothing more
            if time.monotonic() >= deadline:
                summary.stopped_early = "time_budget"
                continue  # drain: what is left stays consistent for the next run
            try:
                if isinstance(item, _Resume):
                    await self._resume(item.acs_id, item.reason, summary)
                else:
                    await self._remove_stale(item, summary)
            except ServiceError as error:
                summary.failed += 1
                log.warning(json.dumps({"event": "cleanup_item_failed", "code": error.code, "detail": error.detail}))
            except Exception as error:  # one identity's surprise must not stop the run
                summary.failed += 1
                log.warning(json.dumps({"event": "cleanup_item_failed", "code": type(error).__name__}))
            if self.progress:
                self.progress(summary)

    async def _remove_stale(self, entry: ActivityEntry, summary: CleanupSummary) -> None:
        now = self._clock()
        claim = self._open_claim(entry.acs_id)
        if not await self._registry.claim_for_cleanup(entry, STALE_REASON, now, claim):
            self._open_claims.pop(entry.acs_id, None)
            await self._recheck(entry, summary)
            return
        await self._revoke_delete_tombstone(
            entry.acs_id, entry.owner, entry.mapping_etag, entry.day, STALE_REASON, summary, pending_marker=False
        )

    async def _recheck(self, entry: ActivityEntry, summary: CleanupSummary) -> None:
        """The row changed since the index saw it: decide again from the row itself."""
        record = await self._registry.get_identity(entry.acs_id)
        if record is None or record.state == IdentityState.DELETED:
            await self._registry.drop_activity(entry.day, entry.acs_id)
            return
        if record.state == IdentityState.DELETING:
            # Claimed earlier (by a run that died or gave it back, or by a request): finish it, unless
            # a live run holds the claim. Every step is idempotent, so finishing twice is harmless.
            if not await self._take_claim(record.acs_id, summary):
                return
            summary.resumed += 1
            await self._revoke_delete_tombstone(
                record.acs_id,
                record.owner,
                record.mapping_etag,
                record.activity_day,
                record.deleted_reason or STALE_REASON,
                summary,
            )
            return
        if record.last_activity >= self._policy.cutoff(self._clock()):
            summary.survived += 1
            await self._registry.put_activity(record)  # re-index under its real day, with its etag
            if record.activity_day != entry.day:
                await self._registry.drop_activity(entry.day, entry.acs_id)
            return
        # Still stale (another field changed, e.g. a revoke): claim on the fresh etag.
        fresh = ActivityEntry(
            entry.acs_id, entry.day, record.etag or "", record.owner, record.mapping_etag, record.last_activity
        )
        claim = self._open_claim(record.acs_id)
        if await self._registry.claim_for_cleanup(fresh, STALE_REASON, self._clock(), claim):
            await self._revoke_delete_tombstone(
                record.acs_id,
                record.owner,
                record.mapping_etag,
                record.activity_day,
                STALE_REASON,
                summary,
                pending_marker=False,
            )
        else:
            self._open_claims.pop(record.acs_id, None)
            summary.survived += 1

    async def _resume(self, acs_id: str, reason: str, summary: CleanupSummary) -> None:
        """Finish a deletion a previous run (or a request) started."""
        record = await self._registry.get_identity(acs_id)
        if record is None or (record.state == IdentityState.ACTIVE and not await self._owner_began(record)):
            # Claim never landed on the row (killed between the two writes): nothing was done in ACS.
            summary.resumed += 1
            await self._registry.drop_pending_marker(acs_id)
            return
        if record.state == IdentityState.DELETING and not await self._take_claim(acs_id, summary):
            return
        summary.resumed += 1
        await self._revoke_delete_tombstone(
            acs_id, record.owner, record.mapping_etag, record.activity_day, reason or STALE_REASON, summary
        )

    async def _owner_began(self, record: IdentityRecord) -> bool:
        """A user's deletion marks the mapping `deleting` before the identity row: a crash between the two
        leaves an active row whose owner's mapping already refuses tokens, and the deletion must go on."""
        if not record.owner:
            return False
        mapping = await self._registry.read_mapping(record.owner)
        return mapping is not None and mapping.acs_id == record.acs_id and mapping.state == MappingState.DELETING

    def _open_claim(self, acs_id: str) -> CleanupClaim:
        """A claim noted as ours BEFORE its write: a run cancelled after the write landed but before the
        answer still gives it back at its end (releasing a claim that never landed changes nothing)."""
        claim = CleanupClaim(self.owner, self._clock() + timedelta(seconds=self._policy.claim_seconds))
        self._open_claims[acs_id] = claim
        return claim

    async def _take_claim(self, acs_id: str, summary: CleanupSummary) -> bool:
        """Make a started deletion ours to finish: False if a live run holds it (or took it first)."""
        current = await self._registry.get_claim(acs_id)
        if current is None:
            return True
        if current.live(self._clock(), self.owner):
            summary.skipped_live_claims += 1
            log.info(json.dumps({"event": "cleanup_claim_skipped", "held_by": current.claimed_by}))
            return False
        claim = self._open_claim(acs_id)
        if not await self._registry.take_over_claim(acs_id, current, claim):
            self._open_claims.pop(acs_id, None)
            summary.skipped_live_claims += 1
            return False
        return True

    async def _revoke_delete_tombstone(
        self,
        acs_id: str,
        owner: str | None,
        mapping_etag: str | None,
        day: str,
        reason: str,
        summary: CleanupSummary,
        pending_marker: bool = True,
    ) -> None:
        gone = not await self._paced(self._revoke_pace, self._acs.revoke_tokens, acs_id)
        if not gone:
            summary.revoked += 1
            gone = not await self._paced(self._delete_pace, self._acs.delete_identity, acs_id)
            if not gone:
                summary.deleted += 1
        if gone:
            summary.already_gone += 1
        await self._registry.tombstone(
            acs_id,
            owner=owner,
            mapping_etag=mapping_etag,
            activity_day=day,
            reason=reason,
            now=self._clock(),
            pending_marker=pending_marker,
        )
        self._open_claims.pop(acs_id, None)

    async def _paced(self, pacer: Pacer, operation: Callable[[str], Awaitable[None]], acs_id: str) -> bool:
        """Run one ACS call at the pace; True if done, False if ACS no longer has the identity."""
        for _ in range(20):
            await pacer.wait_turn()
            try:
                await operation(acs_id)
                return True
            except IdentityNotFound:
                return False
            except UpstreamThrottled as error:
                pacer.pause(error.retry_after or 1)
        raise UpstreamThrottled("ACS kept throttling this identity's cleanup", retry_after=30)


@dataclass(frozen=True)
class CleanupPreview:
    """What the next run would take, read with the run's own scan and cutoff; nothing is written."""

    cutoff: datetime
    stale: int
    pending_deletions: int
    would_take: int
    candidates: list[ActivityEntry]
