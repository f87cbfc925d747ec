"""The identity registry in Azure Table Storage: ACS has no "list identities", so we keep our own.

Layout (one table):
- identity row    PK=RK=<ACS id>                          owner, created, last token, scopes, state;
                                                          deleted identities keep it as a tombstone.
- user mapping    PK=RK="user_<sha256(key)>"              user key -> ACS id (state "creating" while
                                                          the first call creates it, under a lease).
- activity index  PK="activity_<YYYYMMDD>" RK=<ACS id>    one row per live identity, in the partition of
                                                          its last activity day, holding the identity row's
                                                          etag: cleanup reads only old partitions, and a
                                                          matching etag proves nothing happened since.
- deleting index  PK="deleting"            RK=<ACS id>    deletions a request started but has not finished;
                                                          cleanup finishes them (its own claims need no
                                                          marker: their activity row stays until the end).
Point rows use their key as both PartitionKey and RowKey: unique in either index (Azurite looks rows up
by RowKey first; a shared RowKey made every lookup scan all identity rows).
Concurrency is by etag (If-Match); nothing here knows HTTP or ACS.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from token_service.clock import day_key
from token_service.errors import RegistryUnavailable
from token_service.transport import proxy_configured

ACTIVITY_PREFIX = "activity_"
DELETING_PARTITION = "deleting"

ACTIVE, DELETING, DELETED = "active", "deleting", "deleted"
CREATING = "creating"


# A request waits for the registry a few seconds at most, then answers 503: short timeouts, two quick retries.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 1,
    "connection_timeout": 3,
    "read_timeout": 10,
}


class Conflict(Exception):
    """An etag or existence precondition failed: someone else changed the row first."""


USER_PREFIX = "user_"


def is_identity_row(entity: Mapping[str, Any]) -> bool:
    """For tools that read the table whole (tests, audits): an identity row or tombstone."""
    key = str(entity["PartitionKey"])
    return key == entity["RowKey"] and not key.startswith(USER_PREFIX)


def is_mapping_row(entity: Mapping[str, Any]) -> bool:
    key = str(entity["PartitionKey"])
    return key == entity["RowKey"] and key.startswith(USER_PREFIX)


def user_partition(user_key: str) -> str:
    """Table keys forbid some characters and user keys come from any issuer, so we hash them."""
    return USER_PREFIX + hashlib.sha256(user_key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IdentityRecord:
    acs_id: str
    owner: str | None
    created_at: datetime
    last_token_at: datetime | None
    scopes: str
    state: str
    activity_day: str
    mapping_etag: str | None = None
    deleted_at: datetime | None = None
    deleted_reason: str | None = None
    etag: str | None = None

    @property
    def last_activity(self) -> datetime:
        return self.last_token_at or self.created_at


@dataclass(frozen=True)
class UserMapping:
    user_key: str
    acs_id: str | None
    state: str
    lease_until: datetime | None
    etag: str | None = None


@dataclass(frozen=True)
class ActivityEntry:
    """An activity-index row: enough to act on a stale identity without reading its row first."""

    acs_id: str
    day: str
    identity_etag: str
    owner: str | None
    mapping_etag: str | None
    last_activity: datetime


def _storage_errors(error: Exception) -> Exception:
    if isinstance(error, ResourceModifiedError | ResourceExistsError):
        return Conflict(str(type(error).__name__))
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        return RegistryUnavailable("the registry could not be reached", retry_after=5)
    if isinstance(error, HttpResponseError):
        status = error.status_code or 0
        if status == 412 or status == 409:
            return Conflict(f"precondition failed ({status})")
        return RegistryUnavailable(f"the registry answered {status}", retry_after=5)
    return error


class Registry:
    """Typed operations on the registry table. One instance per worker, reused."""

    def __init__(self, table: TableClient, service: TableServiceClient) -> None:
        self._table = table
        self._service = service
        self._table_ready = False

    @classmethod
    def from_connection_string(cls, connection_string: str, table_name: str) -> Registry:
        service = TableServiceClient.from_connection_string(
            connection_string, use_env_settings=proxy_configured(), **CLIENT_OPTIONS
        )
        return cls(service.get_table_client(table_name), service)

    @classmethod
    def from_endpoint(cls, endpoint: str, table_name: str, credential: AsyncTokenCredential) -> Registry:
        service = TableServiceClient(
            endpoint, credential=credential, use_env_settings=proxy_configured(), **CLIENT_OPTIONS
        )
        return cls(service.get_table_client(table_name), service)

    async def close(self) -> None:
        await self._table.close()
        await self._service.close()

    async def ensure_table(self) -> None:
        if self._table_ready:
            return
        try:
            await self._service.create_table_if_not_exists(self._table.table_name)
        except Exception as error:
            raise _storage_errors(error) from None
        self._table_ready = True

    async def ping(self) -> None:
        """Cheapest round trip that proves the table answers (used by /api/health)."""
        await self.ensure_table()
        try:
            async for _ in self._table.query_entities("PartitionKey eq 'health'", results_per_page=1):
                break
        except Exception as error:
            raise _storage_errors(error) from None

    # -- identity rows -------------------------------------------------------------------------

    async def get_identity(self, acs_id: str) -> IdentityRecord | None:
        entity = await self._get(acs_id, acs_id)
        return _identity_from_entity(entity) if entity is not None else None

    async def insert_identity(self, record: IdentityRecord) -> IdentityRecord:
        """Insert the identity row, then its activity-index row (carrying the row's etag)."""
        etag = await self._create(_identity_to_entity(record))
        inserted = replace(record, etag=etag)
        await self.put_activity(inserted)
        return inserted

    async def touch_identity(self, record: IdentityRecord, now: datetime, scopes: str) -> IdentityRecord:
        """Record a token issue, conditional on the row being unchanged since it was read.

        The etag condition is what makes a concurrent cleanup and a token issue exclusive: whichever
        writes first wins, the other sees Conflict and re-reads.
        """
        updated = replace(record, last_token_at=now, scopes=scopes, activity_day=day_key(now))
        etag = await self._update(_identity_to_entity(updated), record.etag)
        updated = replace(updated, etag=etag)
        await self.put_activity(updated)
        if record.activity_day != updated.activity_day:
            await self._delete(ACTIVITY_PREFIX + record.activity_day, record.acs_id, None)
        return updated

    async def mark_deleting(self, record: IdentityRecord, reason: str, now: datetime) -> IdentityRecord:
        """Claim the identity for deletion (etag-conditional), and note it in the deleting index first."""
        await self._upsert({"PartitionKey": DELETING_PARTITION, "RowKey": record.acs_id, "reason": reason})
        updated = replace(record, state=DELETING, deleted_reason=reason, deleted_at=now)
        etag = await self._update(_identity_to_entity(updated), record.etag)
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
        patch = {
            "PartitionKey": acs_id,
            "RowKey": acs_id,
            "state": DELETED,
            "deleted_reason": reason,
            "deleted_at": now,
        }
        await self.ensure_table()
        try:
            await self._table.upsert_entity(patch, mode=UpdateMode.MERGE)
        except Exception as error:
            raise _storage_errors(error) from None
        if owner:
            await self.remove_mapping(owner, acs_id, mapping_etag)
        if activity_day:
            await self._delete(ACTIVITY_PREFIX + activity_day, acs_id, None)
        if pending_marker:
            await self._delete(DELETING_PARTITION, acs_id, None)

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
        assert record.etag is not None
        await self._upsert(
            {
                "PartitionKey": ACTIVITY_PREFIX + record.activity_day,
                "RowKey": record.acs_id,
                "identity_etag": record.etag,
                "owner": record.owner or "",
                "mapping_etag": record.mapping_etag or "",
                "last_activity": record.last_activity,
            }
        )

    async def drop_activity(self, day: str, acs_id: str) -> None:
        await self._delete(ACTIVITY_PREFIX + day, acs_id, None)

    async def stale_activity(self, before_day: str, page_size: int = 1000) -> AsyncIterator[ActivityEntry]:
        """Index rows whose day is before `before_day`, oldest day first: reads only candidates."""
        query = "PartitionKey ge @low and PartitionKey lt @high"
        parameters = {"low": ACTIVITY_PREFIX, "high": ACTIVITY_PREFIX + before_day}
        await self.ensure_table()
        try:
            async for entity in self._table.query_entities(query, parameters=parameters, results_per_page=page_size):
                yield ActivityEntry(
                    acs_id=entity["RowKey"],
                    day=entity["PartitionKey"][len(ACTIVITY_PREFIX) :],
                    identity_etag=entity.get("identity_etag", ""),
                    owner=entity.get("owner") or None,
                    mapping_etag=entity.get("mapping_etag") or None,
                    last_activity=entity["last_activity"],
                )
        except Exception as error:
            raise _storage_errors(error) from None

    async def pending_deletions(self, page_size: int = 1000) -> AsyncIterator[tuple[str, str]]:
        await self.ensure_table()
        try:
            async for entity in self._table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": DELETING_PARTITION}, results_per_page=page_size
            ):
                yield entity["RowKey"], entity.get("reason", "")
        except Exception as error:
            raise _storage_errors(error) from None

    async def drop_pending_marker(self, acs_id: str) -> None:
        """Drop a deleting-index row whose claim never reached the identity row."""
        await self._delete(DELETING_PARTITION, acs_id, None)

    async def claim_for_cleanup(self, entry: ActivityEntry, reason: str, now: datetime) -> bool:
        """Mark a stale identity deleting, only if its row is exactly as the index saw it.

        No deleting-index row is needed: the activity-index row stays until the tombstone, so a run killed
        after this claim finds the identity again and finishes it. Returns False when the row changed
        since (a token was issued, or it is already being deleted).
        """
        patch = {
            "PartitionKey": entry.acs_id,
            "RowKey": entry.acs_id,
            "state": DELETING,
            "deleted_reason": reason,
            "deleted_at": now,
        }
        try:
            await self._table.update_entity(
                patch, mode=UpdateMode.MERGE, etag=entry.identity_etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        except Exception as error:
            raise _storage_errors(error) from None
        return True

    # -- user mappings -------------------------------------------------------------------------

    async def get_mapping(self, user_key: str) -> UserMapping | None:
        key = user_partition(user_key)
        entity = await self._get(key, key)
        if entity is None:
            return None
        return UserMapping(
            user_key=entity.get("user_key", user_key),
            acs_id=entity.get("acs_id") or None,
            state=entity.get("state", ACTIVE),
            lease_until=entity.get("lease_until"),
            etag=entity.metadata["etag"],
        )

    async def claim_mapping(self, user_key: str, lease_until: datetime, previous: UserMapping | None) -> UserMapping:
        """Become the one caller that creates this user's identity (insert, or take over by etag)."""
        entity = {
            "PartitionKey": user_partition(user_key),
            "RowKey": user_partition(user_key),
            "user_key": user_key,
            "acs_id": "",
            "state": CREATING,
            "lease_until": lease_until,
        }
        etag = await (self._update(entity, previous.etag) if previous else self._create(entity))
        return UserMapping(user_key, None, CREATING, lease_until, etag)

    async def complete_mapping(self, claim: UserMapping, acs_id: str) -> UserMapping:
        entity = {
            "PartitionKey": user_partition(claim.user_key),
            "RowKey": user_partition(claim.user_key),
            "user_key": claim.user_key,
            "acs_id": acs_id,
            "state": ACTIVE,
        }
        etag = await self._update(entity, claim.etag)
        return UserMapping(claim.user_key, acs_id, ACTIVE, None, etag)

    async def release_mapping(self, claim: UserMapping) -> None:
        key = user_partition(claim.user_key)
        await self._delete(key, key, claim.etag)

    async def remove_mapping(self, user_key: str, acs_id: str, mapping_etag: str | None) -> None:
        """Remove the user's mapping if it still points at `acs_id`.

        The etag recorded when the mapping was completed usually proves that without a read.
        """
        if mapping_etag:
            try:
                await self._delete(user_partition(user_key), user_partition(user_key), mapping_etag)
                return
            except Conflict:
                pass
        await self.remove_mapping_if_points_to(user_key, acs_id)

    async def remove_mapping_if_points_to(self, user_key: str, acs_id: str) -> None:
        mapping = await self.get_mapping(user_key)
        if mapping is not None and mapping.acs_id == acs_id:
            try:
                await self._delete(user_partition(user_key), user_partition(user_key), mapping.etag)
            except Conflict:
                pass  # it was re-pointed meanwhile: the new mapping is not ours to remove

    # -- plumbing ------------------------------------------------------------------------------

    async def _get(self, partition: str, row: str) -> Any:
        await self.ensure_table()
        try:
            return await self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        except Exception as error:
            raise _storage_errors(error) from None

    async def _create(self, entity: dict[str, Any]) -> str:
        await self.ensure_table()
        try:
            metadata = await self._table.create_entity(entity)
        except Exception as error:
            raise _storage_errors(error) from None
        return str(metadata["etag"])

    async def _update(self, entity: dict[str, Any], etag: str | None) -> str:
        """Replace the row; with an etag only if unchanged (Conflict otherwise)."""
        await self.ensure_table()
        try:
            if etag is None:
                metadata = await self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
            else:
                metadata = await self._table.update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except ResourceNotFoundError:
            raise Conflict("row vanished") from None
        except Exception as error:
            raise _storage_errors(error) from None
        return str(metadata["etag"])

    async def _upsert(self, entity: dict[str, Any]) -> None:
        await self._update(entity, None)

    async def _delete(self, partition: str, row: str, etag: str | None) -> None:
        await self.ensure_table()
        try:
            if etag is None:
                await self._table.delete_entity(partition, row)
            else:
                await self._table.delete_entity(
                    partition, row, etag=etag, match_condition=MatchConditions.IfNotModified
                )
        except ResourceNotFoundError:
            return
        except Exception as error:
            raise _storage_errors(error) from None


def _identity_to_entity(record: IdentityRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": record.acs_id,
        "RowKey": record.acs_id,
        "owner": record.owner or "",
        "created_at": record.created_at,
        "scopes": record.scopes,
        "state": record.state,
        "activity_day": record.activity_day,
        "mapping_etag": record.mapping_etag or "",
    }
    for name in ("last_token_at", "deleted_at", "deleted_reason"):
        value = getattr(record, name)
        if value is not None:
            entity[name] = value
    return entity


def _identity_from_entity(entity: Any) -> IdentityRecord:
    return IdentityRecord(
        acs_id=entity["PartitionKey"],
        owner=entity.get("owner") or None,
        created_at=entity["created_at"],
        last_token_at=entity.get("last_token_at"),
        scopes=entity.get("scopes", ""),
        state=entity.get("state", ACTIVE),
        activity_day=entity.get("activity_day", ""),
        mapping_etag=entity.get("mapping_etag") or None,
        deleted_at=entity.get("deleted_at"),
        deleted_reason=entity.get("deleted_reason"),
        etag=entity.metadata["etag"],
    )
