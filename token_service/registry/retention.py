"""The registry's rows that end: an erasure's (identities/erasure.py) and the purge of what is kept only
for a while (cleanup/purge.py). The Registry (store.py) extends this, as it extends the mappings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from token_service.registry.listing import DELETED_PREFIX, created_index_row, deleted_index_row, owner_partition
from token_service.registry.mappings import UserMappings
from token_service.registry.records import (
    ACTIVITY_PREFIX,
    DELETING_PARTITION,
    IdentityRecord,
    IdentityState,
    identity_from_entity,
    identity_to_entity,
)
from token_service.registry.table import Conflict

ERASED_REASON = "erased-by-admin"


class RetentionRows(UserMappings):
    """Owner-index reads, the erasure's writes and the purge's."""

    async def owned_identity_ids(self, user_key: str, page_size: int = 1000) -> list[str]:
        """Every identity the owner index knows for this user, tombstones included."""
        query = "PartitionKey eq @pk"
        return [row["RowKey"] async for row in self._table.query(query, {"pk": owner_partition(user_key)}, page_size)]

    async def deleted_before(self, before_day: str, page_size: int = 1000) -> AsyncIterator[tuple[str, str]]:
        """(day, ACS id) of tombstones in the deleted index on days before `before_day`, oldest first."""
        query = "PartitionKey ge @low and PartitionKey lt @high"
        parameters = {"low": DELETED_PREFIX, "high": DELETED_PREFIX + before_day}
        async for row in self._table.query(query, parameters, page_size):
            yield str(row["PartitionKey"])[len(DELETED_PREFIX) :], str(row["RowKey"])

    async def purge_tombstone(self, day: str, acs_id: str, deleted_before: datetime) -> bool:
        """Remove a tombstone deleted before `deleted_before` and every row pointing at it; True if it went.
        Pointers first and the deleted-index row last: a run cut short finds it again."""
        entity = await self._table.get(acs_id, acs_id)
        record = identity_from_entity(entity) if entity is not None else None
        if record is not None:
            if record.state != IdentityState.DELETED or (record.deleted_at or deleted_before) >= deleted_before:
                return False
            if record.owner:
                await self._table.delete(owner_partition(record.owner), acs_id)
            await self._table.delete(created_index_row(record)["PartitionKey"], acs_id)
            try:
                await self._table.delete(acs_id, acs_id, record.etag)
            except Conflict:
                return False  # changed since read (an erasure stripping its name): the next run decides
        await self._table.delete(DELETED_PREFIX + day, acs_id)
        return record is not None

    async def drop_owner_index(self, user_key: str) -> None:
        """Every owner-index row of this user (an erasure: the tombstones no longer name them)."""
        for acs_id in await self.owned_identity_ids(user_key):
            await self._table.delete(owner_partition(user_key), acs_id)

    async def mark_erasing_identity(self, acs_id: str, reason: str, now: datetime) -> None:
        """Unconditional: the erasure holds the owner's mapping, so no token is issued for it meanwhile;
        a cleanup or admin deletion racing it does the same idempotent steps."""
        patch = {"PartitionKey": acs_id, "RowKey": acs_id, "state": IdentityState.DELETING.value}
        await self._table.merge({**patch, "deleted_reason": reason, "deleted_at": now})

    async def tombstone_erased(self, acs_id: str, record: IdentityRecord | None, who: str, now: datetime) -> None:
        """The whole row replaced by a tombstone that names nobody (also when the row was missing), then
        its index rows as `tombstone` does. Its mapping is the erasure's to end."""
        if record is not None and record.state == IdentityState.DELETED:
            dead = replace(record, owner=None, etag=None)  # deleted before: only the name goes
        else:
            kept = record or IdentityRecord(acs_id, None, now, None, (), IdentityState.DELETED, activity_day="")
            dead = replace(
                kept, owner=None, state=IdentityState.DELETED, deleted_reason=ERASED_REASON, deleted_at=now,
                deleted_by=who, etag=None,
            )  # fmt: skip
        await self._table.replace(identity_to_entity(dead), None)
        await self._table.replace(deleted_index_row(acs_id, dead.deleted_at or now), None)
        if record is not None and record.activity_day:
            await self._table.delete(ACTIVITY_PREFIX + record.activity_day, acs_id)
        elif record is None:  # which day is unknown: search the index for it (rare, and bounded by it)
            query = "PartitionKey ge @low and PartitionKey lt @high and RowKey eq @id"
            parameters = {"low": ACTIVITY_PREFIX, "high": ACTIVITY_PREFIX + "~", "id": acs_id}
            async for row in self._table.query(query, parameters, 1000):
                await self._table.delete(row["PartitionKey"], acs_id)
        await self._table.delete(DELETING_PARTITION, acs_id)
