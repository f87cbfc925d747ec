"""The user mapping rows: user key -> ACS id, the one truth of a user's identity (records.py has the row).

Every write is `update_mapping`, conditional on the etag just read, so of two instances acting on one
user's mapping at most one succeeds; the other sees Conflict and reads again. The named writes below
are the transitions of the mapping's state (creating -> active -> deleting -> idle).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from token_service.clock import day_key
from token_service.registry.records import (
    ERASED_PREFIX,
    MappingChange,
    MappingState,
    RateWindow,
    UserMapping,
    change_to_fields,
    idle_mapping_entity,
    mapping_from_entity,
    mapping_to_entity,
    user_partition,
)
from token_service.registry.table import Conflict, Table


class UserMappings:
    """The mapping half of the Registry (which extends it)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    async def read_mapping(self, user_key: str) -> UserMapping | None:
        """The user's mapping row in any state (idle rows included: they hold the rate windows)."""
        key = user_partition(user_key)
        entity = await self._table.get(key, key)
        return mapping_from_entity(entity, user_key) if entity is not None else None

    async def update_mapping(self, user_key: str, previous: UserMapping | None, change: MappingChange) -> UserMapping:
        """THE conditional write of a user's mapping: merge `change` only if the row is still `previous`
        (If-Match its etag), or insert it (idle unless `change` says otherwise) when there was none.
        Conflict when someone else wrote first."""
        key = user_partition(user_key)
        fields = change_to_fields(change)
        if previous is None:
            entity = {**idle_mapping_entity(user_key), **fields}
            etag = await self._table.create(entity)
        else:
            entity = {**mapping_to_entity(previous), **fields}
            etag = await self._table.merge({"PartitionKey": key, "RowKey": key, **fields}, previous.etag)
        return mapping_from_entity(entity, user_key, etag)

    async def claim_mapping(
        self, user_key: str, lease_until: datetime, previous: UserMapping | None, window: RateWindow | None = None
    ) -> UserMapping:
        """Become the one caller that creates this user's identity (insert, or take over by etag)."""
        claim = MappingChange(MappingState.CREATING, lease_until=lease_until, window=window)
        return await self.update_mapping(user_key, previous, claim)

    async def complete_mapping(self, claim: UserMapping, acs_id: str, now: datetime | None = None) -> UserMapping:
        """Point the mapping at the identity (whose rows exist already), if our claim still holds."""
        change = MappingChange(MappingState.ACTIVE, acs_id=acs_id, last_activity=now)
        return await self.update_mapping(claim.user_key, claim, change)

    async def mark_mapping_deleting(self, mapping: UserMapping, window: RateWindow | None = None) -> UserMapping:
        """Begin the deletion of the mapping's identity: from now on no token is issued for it."""
        return await self.update_mapping(mapping.user_key, mapping, MappingChange(MappingState.DELETING, window=window))

    async def release_mapping(self, claim: UserMapping) -> None:
        """Give up a claim (its create failed): the row goes idle, keeping its rate windows."""
        await self.update_mapping(claim.user_key, claim, MappingChange(MappingState.IDLE))

    async def mark_mapping_erasing(self, user_key: str, previous: UserMapping | None) -> UserMapping:
        """An erasure holds the user from here (insert or etag-conditional): token calls respect it."""
        return await self.update_mapping(user_key, previous, MappingChange(MappingState.ERASING))

    async def finish_erasure(self, mapping: UserMapping, now: datetime) -> None:
        """Replace the erasing row whole with a bare marker (state, when; no identity, activity or
        windows), conditional on the erasure's own version, and index it for the cleanup's purge."""
        key = user_partition(mapping.user_key)
        marker = {"PartitionKey": key, "RowKey": key, "state": MappingState.ERASED.value, "erased_at": now}
        await self._table.replace(marker, mapping.etag)
        await self._table.replace({"PartitionKey": ERASED_PREFIX + day_key(now), "RowKey": key}, None)

    async def erased_markers(self, before_day: str, page_size: int = 1000) -> AsyncIterator[tuple[str, str]]:
        """(index day, mapping key) of erasures indexed on days before `before_day`."""
        query = "PartitionKey ge @low and PartitionKey lt @high"
        parameters = {"low": ERASED_PREFIX, "high": ERASED_PREFIX + before_day}
        async for row in self._table.query(query, parameters, page_size):
            yield str(row["PartitionKey"])[len(ERASED_PREFIX) :], str(row["RowKey"])

    async def purge_erased_marker(self, day: str, key: str, older_than: datetime) -> bool:
        """Delete an erased marker older than `older_than` (etag-conditional: a user who came back since
        has a live row there, which stays), then its index row. True if the marker went."""
        entity = await self._table.get(key, key)
        if entity is not None:
            erased_at = entity.get("erased_at")
            if entity.get("state") != MappingState.ERASED.value:
                await self._table.delete(ERASED_PREFIX + day, key)
                return False
            if erased_at is not None and erased_at >= older_than:
                return False
            try:
                await self._table.delete(key, key, entity.metadata["etag"])
            except Conflict:
                return False
        await self._table.delete(ERASED_PREFIX + day, key)
        return True

    async def remove_mapping(self, user_key: str, acs_id: str) -> None:
        """The identity is gone: the user's mapping goes idle if it still names `acs_id` (rate windows kept,
        so deleting oneself never resets a limit)."""
        for _ in range(5):
            mapping = await self.read_mapping(user_key)
            if mapping is None or mapping.acs_id != acs_id:
                return  # re-pointed meanwhile: the new mapping is not ours to touch
            if mapping.state in (MappingState.ERASING, MappingState.ERASED):
                return  # an erasure holds the user: only it ends the row
            try:
                await self.update_mapping(user_key, mapping, MappingChange(MappingState.IDLE))
                return
            except Conflict:
                continue
