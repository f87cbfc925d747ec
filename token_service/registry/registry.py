"""The identity registry in Azure Table Storage: ACS has no "list identities", so we keep our own.

The row layout is described in `records.py`. Concurrency is by etag (If-Match); nothing here knows
HTTP or ACS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from azure.core.credentials_async import AsyncTokenCredential

from token_service.clock import day_key
from token_service.registry.listing import (
    IdentityFilter,
    ListingPage,
    created_index_row,
    deleted_index_row,
    list_identities,
    owner_index_row,
    owner_partition,
)
from token_service.registry.records import (
    ACTIVITY_PREFIX,
    DELETING_PARTITION,
    ActivityEntry,
    IdentityRecord,
    IdentityState,
    MappingState,
    UserMapping,
    activity_from_entity,
    activity_to_entity,
    identity_from_entity,
    identity_to_entity,
    mapping_from_entity,
    mapping_to_entity,
    user_partition,
)
from token_service.registry.table import Conflict, Table


class Registry:
    """Typed operations on the registry table. One instance per worker, reused."""

    def __init__(self, table: Table) -> None:
        self._table = table

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
        """Insert the identity row, then its activity-index row (carrying the row's etag)."""
        etag = await self._table.create(identity_to_entity(record))
        inserted = replace(record, etag=etag)
        await self.put_activity(inserted)
        await self.put_listing_rows(inserted)
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

    async def mark_deleting(self, record: IdentityRecord, reason: str, now: datetime) -> IdentityRecord:
        """Claim the identity for deletion (etag-conditional), and note it in the deleting index first."""
        await self._table.replace({"PartitionKey": DELETING_PARTITION, "RowKey": record.acs_id, "reason": reason}, None)
        updated = replace(record, state=IdentityState.DELETING, deleted_reason=reason, deleted_at=now)
        etag = await self._table.replace(identity_to_entity(updated), record.etag)
        return replace(updated, etag=etag)

    async def tombstone(
        self,
        acs_id: str,
        *,
        owner: str | None,
        mapping_etag: str | None,
        activity_day: str,
        reason: str,
        now: datetime,
        pending_marker: bool = True,
    ) -> None:
        """The identity is gone from ACS: keep a tombstone (when, why), drop its index rows and user mapping.

        Every step is idempotent, so a run killed halfway is finished by the next one. `pending_marker`:
        whether a deleting-index row may exist (cleanup claims write none) and must be removed.
        """
        await self._table.merge(_state_patch(acs_id, IdentityState.DELETED, reason, now))
        await self._table.replace(deleted_index_row(acs_id, now), None)
        if owner:
            await self.remove_mapping(owner, acs_id, mapping_etag)
        if activity_day:
            await self.drop_activity(activity_day, acs_id)
        if pending_marker:
            await self.drop_pending_marker(acs_id)

    async def tombstone_record(self, record: IdentityRecord, reason: str, now: datetime) -> None:
        await self.tombstone(
            record.acs_id,
            owner=record.owner,
            mapping_etag=record.mapping_etag,
            activity_day=record.activity_day,
            reason=reason,
            now=now,
        )

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

    async def drop_pending_marker(self, acs_id: str) -> None:
        """Drop a deleting-index row (its deletion finished, or its claim never reached the identity row)."""
        await self._table.delete(DELETING_PARTITION, acs_id)

    async def claim_for_cleanup(self, entry: ActivityEntry, reason: str, now: datetime) -> bool:
        """Mark a stale identity deleting, only if its row is exactly as the index saw it.

        No deleting-index row is needed: the activity-index row stays until the tombstone, so a run killed
        after this claim finds the identity again and finishes it. Returns False when the row changed
        since (a token was issued, or it is already being deleted).
        """
        patch = _state_patch(entry.acs_id, IdentityState.DELETING, reason, now)
        return await self._table.merge(patch, etag=entry.identity_etag)

    # -- user mappings -------------------------------------------------------------------------

    async def get_mapping(self, user_key: str) -> UserMapping | None:
        key = user_partition(user_key)
        entity = await self._table.get(key, key)
        return mapping_from_entity(entity, user_key) if entity is not None else None

    async def claim_mapping(self, user_key: str, lease_until: datetime, previous: UserMapping | None) -> UserMapping:
        """Become the one caller that creates this user's identity (insert, or take over by etag)."""
        claim = UserMapping(user_key, None, MappingState.CREATING, lease_until)
        entity = mapping_to_entity(claim)
        etag = await (self._table.replace(entity, previous.etag) if previous else self._table.create(entity))
        return replace(claim, etag=etag)

    async def complete_mapping(self, claim: UserMapping, acs_id: str) -> UserMapping:
        completed = UserMapping(claim.user_key, acs_id, MappingState.ACTIVE, None)
        etag = await self._table.replace(mapping_to_entity(completed), claim.etag)
        return replace(completed, etag=etag)

    async def release_mapping(self, claim: UserMapping) -> None:
        key = user_partition(claim.user_key)
        await self._table.delete(key, key, claim.etag)

    async def remove_mapping(self, user_key: str, acs_id: str, mapping_etag: str | None) -> None:
        """Remove the user's mapping if it still points at `acs_id`.

        The etag recorded when the mapping was completed usually proves that without a read.
        """
        key = user_partition(user_key)
        if mapping_etag:
            try:
                await self._table.delete(key, key, mapping_etag)
                return
            except Conflict:
                pass
        mapping = await self.get_mapping(user_key)
        if mapping is not None and mapping.acs_id == acs_id:
            try:
                await self._table.delete(key, key, mapping.etag)
            except Conflict:
                pass  # it was re-pointed meanwhile: the new mapping is not ours to remove

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

    async def owned_identity_ids(self, user_key: str, page_size: int = 1000) -> list[str]:
        """Every identity the owner index knows for this user, tombstones included."""
        query = "PartitionKey eq @pk"
        return [row["RowKey"] async for row in self._table.query(query, {"pk": owner_partition(user_key)}, page_size)]

    async def note_deleted_by(self, acs_id: str, who: str) -> None:
        await self._table.merge({"PartitionKey": acs_id, "RowKey": acs_id, "deleted_by": who})


def _state_patch(acs_id: str, state: IdentityState, reason: str, now: datetime) -> dict[str, object]:
    return {"PartitionKey": acs_id, "RowKey": acs_id, "state": state.value, "deleted_reason": reason, "deleted_at": now}
