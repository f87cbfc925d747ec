"""The identity registry in Azure Table Storage: ACS has no "list identities", so we keep our own.

The row layout is described in `records.py`; the mapping rows' operations are in `mappings.py`, the
erasure's and the purge's in `retention.py` (the Registry extends both). Concurrency is by etag
(If-Match); nothing here knows HTTP or ACS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime

from azure.core.credentials_async import AsyncTokenCredential

from token_service.clock import day_key
from token_service.registry.claims import CleanupClaim, claim_from_entity
from token_service.registry.lease import LEASE_SECONDS, CleanupLease
from token_service.registry.listing import (
    IdentityFilter,
    ListingPage,
    created_index_row,
    deleted_index_row,
    list_identities,
    owner_index_row,
)
from token_service.registry.records import (
    ACTIVITY_PREFIX,
    DELETING_PARTITION,
    ActivityEntry,
    IdentityRecord,
    IdentityState,
    IndexedIdentity,
    MappingChange,
    MappingState,
    UserMapping,
    activity_from_entity,
    activity_to_entity,
    identity_from_entity,
    identity_to_entity,
)
from token_service.registry.retention import RetentionRows
from token_service.registry.table import Conflict, Table


@dataclass(frozen=True)
class PendingMarker:
    acs_id: str
    reason: str
    noted_at: datetime | None
    etag: str


class Registry(RetentionRows):
    """Typed operations on the registry table. One instance per worker, reused."""

    @classmethod
    def from_connection_string(cls, connection_string: str, table_name: str) -> Registry:
        return cls(Table.from_connection_string(connection_string, table_name))

    @classmethod
    def from_endpoint(cls, endpoint: str, table_name: str, credential: AsyncTokenCredential) -> Registry:
        return cls(Table.from_endpoint(endpoint, table_name, credential))

    async def close(self) -> None:
        await self._table.close()

    async def ensure_table(self) -> None:
        await self._table.ensure()

    async def ping(self) -> None:
        """Cheapest round trip that proves the table answers (used by /api/health)."""
        async for _ in self._table.query("PartitionKey eq 'health'", {}, page_size=1):
            break

    # -- identity rows -------------------------------------------------------------------------

    async def get_identity(self, acs_id: str) -> IdentityRecord | None:
        entity = await self._table.get(acs_id, acs_id)
        return identity_from_entity(entity) if entity is not None else None

    async def insert_identity(self, record: IdentityRecord) -> IdentityRecord:
        """The listing rows, an activity-index row without an etag, the identity row, then the activity
        row again carrying the row's etag.

        Pointers first: a reader checks them against the identity row, so one left by a failure costs a
        read, while an identity row without its owner row would escape a user's erasure, and one without
        an activity row would escape the cleanup for good (an "active" ghost, if the create is undone in
        ACS and storage fails before the tombstone). The cleanup treats an activity row without an etag
        as changed: it reads the identity row (absent: it drops the pointer) and decides from that.
        """
        await self.put_listing_rows(record)
        await self._table.replace(activity_to_entity(record), None)
        etag = await self._table.create(identity_to_entity(record))
        inserted = replace(record, etag=etag)
        await self.put_activity(inserted)
        return inserted

    async def touch_identity(self, record: IdentityRecord, now: datetime, scopes: tuple[str, ...]) -> IdentityRecord:
        """Record a token issue, conditional on the row being unchanged since it was read.

        The etag condition is what makes a concurrent cleanup and a token issue exclusive: whichever
        writes first wins, the other sees Conflict and re-reads.
        """
        updated = replace(record, last_token_at=now, scopes=scopes, activity_day=day_key(now))
        etag = await self._table.replace(identity_to_entity(updated), record.etag)
        updated = replace(updated, etag=etag)
        await self.put_activity(updated)
        if record.activity_day != updated.activity_day:
            await self.drop_activity(record.activity_day, record.acs_id)
        return updated

    async def note_pending_deletion(self, acs_id: str, reason: str, now: datetime) -> None:
        """A deletion is about to begin: the deleting index names it (and when), so a crash before it ends
        is found."""
        row = {"PartitionKey": DELETING_PARTITION, "RowKey": acs_id, "reason": reason, "noted_at": now}
        await self._table.replace(row, None)

    async def mark_deleting(self, record: IdentityRecord, reason: str, now: datetime) -> IdentityRecord:
        """Claim the identity for deletion (etag-conditional), and note it in the deleting index first."""
        await self.note_pending_deletion(record.acs_id, reason, now)
        updated = replace(record, state=IdentityState.DELETING, deleted_reason=reason, deleted_at=now)
        etag = await self._table.replace(identity_to_entity(updated), record.etag)
        return replace(updated, etag=etag)

    async def tombstone_unregistered(self, record: IdentityRecord, reason: str, now: datetime) -> None:
        """A create undone in ACS, whose rows may be half written: the whole row as a tombstone (an upsert,
        so a partial write never leaves a row without its fields), then the rest as `tombstone`."""
        dead = replace(record, state=IdentityState.DELETED, deleted_reason=reason, deleted_at=now, etag=None)
        await self._table.replace(identity_to_entity(dead), None)
        await self.tombstone(dead, reason, now, pending_marker=False)

    async def tombstone(
        self, identity: IndexedIdentity, reason: str, now: datetime, *, pending_marker: bool = True
    ) -> None:
        """The identity is gone from ACS: keep a tombstone (when, why), drop its index rows and user mapping.

        Every step is idempotent, so a run killed halfway is finished by the next one. `pending_marker`:
        whether a deleting-index row may exist (cleanup claims write none) and must be removed.
        """
        acs_id = identity.acs_id
        await self._table.merge(_state_patch(acs_id, IdentityState.DELETED, reason, now))
        await self._table.replace(deleted_index_row(acs_id, now), None)
        if identity.owner:
            await self.remove_mapping(identity.owner, acs_id)
        if identity.activity_day:
            await self.drop_activity(identity.activity_day, acs_id)
        if pending_marker:
            await self.drop_pending_marker(acs_id)

    # -- activity index ------------------------------------------------------------------------

    async def put_activity(self, record: IdentityRecord) -> None:
        await self._table.replace(activity_to_entity(record), None)

    async def drop_activity(self, day: str, acs_id: str) -> None:
        await self._table.delete(ACTIVITY_PREFIX + day, acs_id)

    async def stale_activity(self, before_day: str, page_size: int = 1000) -> AsyncIterator[ActivityEntry]:
        """Index rows whose day is before `before_day`, oldest day first: reads only candidates."""
        query = "PartitionKey ge @low and PartitionKey lt @high"
        parameters = {"low": ACTIVITY_PREFIX, "high": ACTIVITY_PREFIX + before_day}
        async for entity in self._table.query(query, parameters, page_size):
            yield activity_from_entity(entity)

    async def pending_deletions(self, page_size: int = 1000) -> AsyncIterator[tuple[str, str]]:
        async for entity in self._table.query("PartitionKey eq @pk", {"pk": DELETING_PARTITION}, page_size):
            yield entity["RowKey"], entity.get("reason", "")

    async def pending_marker(self, acs_id: str) -> PendingMarker | None:
        """One deleting-index row: when it was noted (None for rows written before that was recorded)."""
        entity = await self._table.get(DELETING_PARTITION, acs_id)
        if entity is None:
            return None
        return PendingMarker(acs_id, entity.get("reason", ""), entity.get("noted_at"), entity.metadata["etag"])

    async def drop_pending_marker(self, acs_id: str, etag: str | None = None) -> None:
        """Drop a deleting-index row (its deletion finished, or its claim never reached the identity row);
        with an etag only if nobody noted the deletion again since (Conflict then)."""
        await self._table.delete(DELETING_PARTITION, acs_id, etag)

    async def claim_for_cleanup(
        self, entry: ActivityEntry, reason: str, now: datetime, claim: CleanupClaim | None = None
    ) -> bool:
        """Mark a stale identity deleting, only if nothing happened since the index saw it.

        An owned identity is claimed on its owner's mapping first (etag-conditional, `deleting`): every
        token issue makes a conditional write of that row, so the claim and an issue can never both
        succeed, and a mapping whose activity is newer than the index's means it may be in use (the caller
        decides again by the mapping's time: decisions.py's recheck).
        Then the identity row, by the etag the index carries. No deleting-index row is needed: the
        activity-index row stays until the tombstone, so a run killed after this claim finds the identity
        again and finishes it. Returns False when it changed since (a token was issued, or it is already
        being deleted by someone else).
        """
        if not entry.identity_etag:  # written before its identity row: the caller reads the row and decides
            return False
        claimed: UserMapping | None = None
        if entry.owner:
            mapping = await self.read_mapping(entry.owner)
            if mapping is not None and mapping.acs_id == entry.acs_id and mapping.state == MappingState.ACTIVE:
                if mapping.last_activity is not None and mapping.last_activity > entry.last_activity:
                    return False
                try:
                    claimed = await self.update_mapping(entry.owner, mapping, MappingChange(MappingState.DELETING))
                except Conflict:
                    return False
        patch = _state_patch(entry.acs_id, IdentityState.DELETING, reason, now)
        if claim is not None:
            patch.update(claim.fields())
        try:
            await self._table.merge(patch, etag=entry.identity_etag)
            return True
        except Conflict:
            pass
        if claimed is not None:  # the identity row changed after all: give the user their identity back
            try:
                await self.update_mapping(claimed.user_key, claimed, MappingChange(MappingState.ACTIVE))
            except Conflict:
                pass
        return False

    # -- cleanup claims and lease (registry/claims.py, registry/lease.py) -----------------------

    def cleanup_lease(self, owner: str, seconds: float = LEASE_SECONDS) -> CleanupLease:
        return CleanupLease(self._table, owner, seconds=seconds)

    async def get_claim(self, acs_id: str) -> CleanupClaim | None:
        """Who claimed this identity's deletion and until when (None: no such row)."""
        entity = await self._table.get(acs_id, acs_id)
        return claim_from_entity(entity) if entity is not None else None

    async def take_over_claim(self, acs_id: str, previous: CleanupClaim, claim: CleanupClaim) -> bool:
        """Make an expired (or ownerless) claim ours, only if the row is unchanged since it was read."""
        patch: dict[str, object] = {"PartitionKey": acs_id, "RowKey": acs_id, **claim.fields()}
        try:
            await self._table.merge(patch, etag=previous.etag)
        except Conflict:
            return False
        return True

    async def release_claim(self, acs_id: str, claim: CleanupClaim, now: datetime) -> None:
        """A run that ends with this deletion unfinished lets the next run resume it at once."""
        current = await self.get_claim(acs_id)
        if current is None or current.claimed_by != claim.claimed_by or current.state != IdentityState.DELETING:
            return
        patch: dict[str, object] = {"PartitionKey": acs_id, "RowKey": acs_id, "claim_until": now}
        try:
            await self._table.merge(patch, etag=current.etag)
        except Conflict:
            pass  # changed meanwhile (finished, or taken over): nothing of ours to give back

    # -- listing indexes (registry/listing.py) -------------------------------------------------

    async def put_listing_rows(self, record: IdentityRecord) -> None:
        """The owner and created index rows of a new identity (idempotent upserts)."""
        await self._table.replace(created_index_row(record), None)
        owner_row = owner_index_row(record)
        if owner_row is not None:
            await self._table.replace(owner_row, None)

    async def list_identities(
        self, filters: IdentityFilter, page_size: int, continuation: str | None = None
    ) -> ListingPage:
        return await list_identities(self._table, filters, page_size, continuation)


def _state_patch(acs_id: str, state: IdentityState, reason: str, now: datetime) -> dict[str, object]:
    return {"PartitionKey": acs_id, "RowKey": acs_id, "state": state.value, "deleted_reason": reason, "deleted_at": now}
