"""What the cleanup does with one identity: remove a stale one, decide again on one that changed, or
finish a deletion someone began.

Per identity the steps are: claim (etag-conditional mark 'deleting'), revoke, delete, tombstone. Each
step is idempotent and the claim is recorded before ACS is touched; the identity's activity-index row
stays until the tombstone, so a run killed anywhere finds it again and finishes it. A token issued
while the run decides wins the etag race, and the identity survives. Each claim records its run and
an expiry (registry/claims.py): a run skips another live run's claims and resumes only expired or
ownerless ones, and gives back the claims it leaves unfinished, so the next run resumes them at once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from token_service.acs.gateway import AcsGateway
from token_service.acs.pacing import Pacer
from token_service.cleanup.policy import CleanupPolicy, CleanupSummary
from token_service.clock import Clock
from token_service.errors import IdentityNotFound, UpstreamThrottled
from token_service.identities.lifecycle import UNDO_REASONS
from token_service.registry import (
    ActivityEntry,
    CleanupClaim,
    Conflict,
    IdentityRecord,
    IdentityState,
    IndexedIdentity,
    MappingState,
    Registry,
)

log = logging.getLogger("token_service.cleanup")
STALE_REASON = "stale"
# Longer than any request runs (host.json functionTimeout is 10 minutes): a deleting-index marker younger
# than this may belong to a request still between the marker and its mapping write.
MARKER_GRACE = timedelta(minutes=15)


class IdentityDecisions:
    """One run's per-identity work, paced under ACS's limits; remembers the claims it has open."""

    def __init__(self, registry: Registry, acs: AcsGateway, clock: Clock, policy: CleanupPolicy, owner: str) -> None:
        self._registry = registry
        self._acs = acs
        self._clock = clock
        self._policy = policy
        self._owner = owner
        self._revoke_pace = Pacer(policy.acs_calls_per_second)
        self._delete_pace = Pacer(policy.acs_calls_per_second)
        self._open_claims: dict[str, CleanupClaim] = {}

    async def remove_stale(self, entry: ActivityEntry, summary: CleanupSummary) -> None:
        """Claim an identity the activity index calls stale and remove it, unless it changed since."""
        now = self._clock()
        claim = self._open_claim(entry.acs_id)
        if not await self._registry.claim_for_cleanup(entry, STALE_REASON, now, claim):
            self._open_claims.pop(entry.acs_id, None)
            await self._recheck(entry, summary)
            return
        await self._revoke_delete_tombstone(entry, STALE_REASON, summary, pending_marker=False)

    async def resume(self, acs_id: str, reason: str, summary: CleanupSummary) -> None:
        """Finish a deletion a previous run (or a request) started."""
        record = await self._registry.get_identity(acs_id)
        if reason in UNDO_REASONS and (record is None or record.state == IdentityState.ACTIVE):
            await self._finish_undo(acs_id, record, reason, summary)
            return
        if record is None or (record.state == IdentityState.ACTIVE and not await self._owner_began(record)):
            await self._drop_unbegun(acs_id, summary)
            return
        if record.state == IdentityState.DELETING and not await self._take_claim(acs_id, summary):
            return
        summary.resumed += 1
        await self._revoke_delete_tombstone(record, reason or STALE_REASON, summary)

    async def _finish_undo(
        self, acs_id: str, record: IdentityRecord | None, reason: str, summary: CleanupSummary
    ) -> None:
        """A create whose registry write failed and whose compensating delete ACS refused: nobody's
        identity (UserIdentities never handed out its token), so it is deleted without a claim."""
        summary.resumed += 1
        if await self._paced(self._delete_pace, self._acs.delete_identity, acs_id):
            summary.deleted += 1
        else:
            summary.already_gone += 1
        if record is None:
            await self._registry.drop_pending_marker(acs_id)
        else:
            await self._registry.tombstone(record, reason, self._clock())

    async def _drop_unbegun(self, acs_id: str, summary: CleanupSummary) -> None:
        """The marker names a deletion whose claim never landed (killed between the marker and the mapping
        or row write): nothing was done in ACS, so the marker goes. Unless it is younger than any request
        runs: its request may still be about to write the mapping, and a marker dropped then would leave
        that deletion to nobody if the request died next. The next pass (within the hour) decides it."""
        marker = await self._registry.pending_marker(acs_id)
        if marker is None:
            return
        if marker.noted_at is not None and self._clock() - marker.noted_at < MARKER_GRACE:
            summary.deferred += 1
            return
        summary.resumed += 1
        try:
            await self._registry.drop_pending_marker(acs_id, marker.etag)
        except Conflict:
            pass  # noted again meanwhile: a new deletion began, the next pass judges it

    async def give_back_claims(self) -> None:
        """Claims this run made and did not finish: expire them now, so the next run resumes them."""
        claims, self._open_claims = self._open_claims, {}
        for acs_id, claim in claims.items():
            try:
                await self._registry.release_claim(acs_id, claim, self._clock())
            except Exception:  # best effort: an unreleased claim still expires on its own
                log.warning(json.dumps({"event": "cleanup_claim_not_released"}))

    async def _recheck(self, entry: ActivityEntry, summary: CleanupSummary) -> None:
        """The row changed since the index saw it: decide again from the row itself."""
        record = await self._registry.get_identity(entry.acs_id)
        if record is None or record.state == IdentityState.DELETED:
            await self._registry.drop_activity(entry.activity_day, entry.acs_id)
            return
        if record.state == IdentityState.DELETING:
            # Claimed earlier (by a run that died or gave it back, or by a request): finish it, unless
            # a live run holds the claim. Every step is idempotent, so finishing twice is harmless.
            if not await self._take_claim(record.acs_id, summary):
                return
            summary.resumed += 1
            await self._revoke_delete_tombstone(record, record.deleted_reason or STALE_REASON, summary)
            return
        # The owner's mapping is the truth of a user's activity: a token request writes it before calling
        # ACS and the row only after ACS succeeds, so a last request that failed at ACS leaves the mapping
        # newer than the row for good. Judge by the newer of the two, and bring the row up to it.
        seen = max(record.last_activity, await self._mapping_activity(record) or record.last_activity)
        if seen >= self._policy.cutoff(self._clock()):
            summary.survived += 1
            await self._reindex(record, entry, seen)
            return
        # Still stale (another field changed, e.g. a revoke, or only the mapping moved): claim on the
        # fresh etag, judged by the time the mapping holds.
        fresh = ActivityEntry(entry.acs_id, entry.activity_day, record.etag or "", record.owner, seen)
        claim = self._open_claim(record.acs_id)
        if await self._registry.claim_for_cleanup(fresh, STALE_REASON, self._clock(), claim):
            await self._revoke_delete_tombstone(record, STALE_REASON, summary, pending_marker=False)
        else:
            self._open_claims.pop(record.acs_id, None)
            summary.survived += 1

    async def _mapping_activity(self, record: IdentityRecord) -> datetime | None:
        """The last activity the owner's mapping holds for this identity (None: not a user's, or the
        mapping names another identity)."""
        if not record.owner:
            return None
        mapping = await self._registry.read_mapping(record.owner)
        if mapping is None or mapping.acs_id != record.acs_id:
            return None
        return mapping.last_activity

    async def _reindex(self, record: IdentityRecord, entry: ActivityEntry, seen: datetime) -> None:
        """A survivor goes back in the index under its real day (with its etag), so the next run reads it
        only once it may be stale; a row behind its mapping is first brought up to the mapping's time."""
        if seen > record.last_activity:
            try:
                record = await self._registry.touch_identity(record, seen, record.scopes)
            except Conflict:
                return  # changed meanwhile: whoever changed it re-indexed it; the next run decides again
        else:
            await self._registry.put_activity(record)
        if record.activity_day != entry.activity_day:
            await self._registry.drop_activity(entry.activity_day, entry.acs_id)

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
        claim = CleanupClaim(self._owner, self._clock() + timedelta(seconds=self._policy.claim_seconds))
        self._open_claims[acs_id] = claim
        return claim

    async def _take_claim(self, acs_id: str, summary: CleanupSummary) -> bool:
        """Make a started deletion ours to finish: False if a live run holds it (or took it first)."""
        current = await self._registry.get_claim(acs_id)
        if current is None:
            return True
        if current.live(self._clock(), self._owner):
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
        self, identity: IndexedIdentity, reason: str, summary: CleanupSummary, pending_marker: bool = True
    ) -> None:
        acs_id = identity.acs_id
        # A 404 on revoke is not proof: ACS may answer one spuriously. Only the delete's 404 means gone,
        # so the delete is always sent; a tombstone must never name an identity ACS still has. A delete's
        # 404 just after the revoke succeeded contradicts it, so the delete is asked once more.
        revoked = await self._paced(self._revoke_pace, self._acs.revoke_tokens, acs_id)
        if revoked:
            summary.revoked += 1
        deleted = await self._paced(self._delete_pace, self._acs.delete_identity, acs_id)
        if not deleted and revoked:
            deleted = await self._paced(self._delete_pace, self._acs.delete_identity, acs_id)
        if deleted:
            summary.deleted += 1
        else:
            summary.already_gone += 1
        await self._registry.tombstone(identity, reason, self._clock(), pending_marker=pending_marker)
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
