"""The registry's typed rows and their Table Storage encoding (the only place that knows it).

Layout (one table):
- identity row    PK=RK=<ACS id>                          owner (owner_id: a one-way hash of the user
                                                          key; the key itself is stored nowhere), created,
                                                          last token, scopes, state; deleted identities
                                                          keep it as a tombstone.
- user mapping    PK=RK="user_<sha256(key)>"              user key -> ACS id, the one truth of a user's
                                                          identity: state "creating" (first call, under a
                                                          lease), "active", "deleting" or "idle" (no
                                                          identity); last activity; the per-user rate
                                                          windows (rate_<route>_start/_count). A
                                                          creating or idle mapping names no identity.
- activity index  PK="activity_<YYYYMMDD>" RK=<ACS id>    one row per live identity, in the partition of
                                                          its last activity day, holding the identity row's
                                                          etag: cleanup reads only old partitions, and a
                                                          matching etag proves nothing happened since.
- erased index    PK="erased_<YYYYMMDD>"   RK=<mapping key> erased mappings, so the cleanup purges the marker
                                                          row once no request begun before it can run.
- deleting index  PK="deleting"            RK=<ACS id>    deletions a request started but has not finished;
                                                          cleanup finishes them (its own claims need no
                                                          marker: their activity row stays until the end).
Point rows use their key as both PartitionKey and RowKey: unique in either index (Azurite looks rows up
by RowKey first, so a shared RowKey makes every lookup scan all identity rows).

A user mapping's columns (its rate windows included) are named only here: the rest of the app speaks
in `UserMapping`, `RateWindow` and `MappingChange`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

ACTIVITY_PREFIX = "activity_"
OWNER_HASH = "sha256:"
_OWNER_ID = re.compile(r"sha256:[0-9a-f]{64}")
DELETING_PARTITION = "deleting"
ERASED_PREFIX = "erased_"
USER_PREFIX = "user_"


class IdentityState(StrEnum):
    ACTIVE = "active"
    DELETING = "deleting"
    DELETED = "deleted"


class MappingState(StrEnum):
    CREATING = "creating"  # the first call is creating the user's identity, under a lease
    ACTIVE = "active"
    DELETING = "deleting"  # a deletion of acs_id has begun: no token is issued for it any more
    IDLE = "idle"  # no identity (never had one, or it was deleted): the row keeps the rate windows
    ERASING = "erasing"  # an erasure holds the user: token calls neither issue nor create (identities/erasure.py)
    ERASED = "erased"  # erased at `erased_at`: the row holds nothing else; calls begun before then are refused


RATE_ROUTES = ("token", "teams", "delete")


@dataclass(frozen=True)
class IdentityRecord:
    acs_id: str
    owner: str | None
    created_at: datetime
    last_token_at: datetime | None
    scopes: tuple[str, ...]
    state: IdentityState
    activity_day: str
    deleted_at: datetime | None = None
    deleted_reason: str | None = None
    etag: str | None = None
    deleted_by: str | None = None  # who asked for the deletion: a hashed admin user key, nothing else

    @property
    def last_activity(self) -> datetime:
        return self.last_token_at or self.created_at


@dataclass(frozen=True)
class RateWindow:
    """A fixed window of one route's per-user limit: when it opened and how many requests it counted."""

    route: str
    start: datetime
    count: int


@dataclass(frozen=True)
class UserMapping:
    user_key: str
    acs_id: str | None
    state: MappingState
    lease_until: datetime | None
    etag: str | None = None
    last_activity: datetime | None = None
    windows: Mapping[str, RateWindow] = field(default_factory=dict)  # by route
    erased_at: datetime | None = None


@dataclass(frozen=True)
class MappingChange:
    """What one conditional write of a user's mapping changes; None leaves a field as it is.

    A creating or idle mapping names no identity, so a change to either state clears `acs_id`.
    """

    state: MappingState | None = None
    acs_id: str | None = None
    lease_until: datetime | None = None
    last_activity: datetime | None = None
    window: RateWindow | None = None


@dataclass(frozen=True)
class ActivityEntry:
    """An activity-index row: enough to act on a stale identity without reading its row first."""

    acs_id: str
    activity_day: str
    identity_etag: str
    owner: str | None
    last_activity: datetime


class IndexedIdentity(Protocol):
    """What finds every row of an identity: its id, its owner (the mapping) and its activity day.
    An IdentityRecord and an ActivityEntry both do."""

    @property
    def acs_id(self) -> str: ...

    @property
    def owner(self) -> str | None: ...

    @property
    def activity_day(self) -> str: ...


def is_identity_row(entity: Mapping[str, Any]) -> bool:
    """For tools that read the table whole (tests, audits): an identity row or tombstone."""
    key = str(entity["PartitionKey"])
    return key == entity["RowKey"] and not key.startswith(USER_PREFIX)


def is_mapping_row(entity: Mapping[str, Any]) -> bool:
    key = str(entity["PartitionKey"])
    return key == entity["RowKey"] and key.startswith(USER_PREFIX)


def owner_id(user_key: str) -> str:
    """How the registry names a user: `sha256:<hex>` of the user key, a one-way hash, never the key.

    Idempotent (an owner id maps to itself), so every registry method that takes a user takes either the
    key (a signed-in caller's, an operator's query) or the owner id a row holds (the cleanup's). User keys
    are `oid:...` or `sub:...` (auth/claims.py), so the two forms cannot be confused.
    """
    if _OWNER_ID.fullmatch(user_key):
        return user_key
    return OWNER_HASH + hashlib.sha256(user_key.encode("utf-8")).hexdigest()


def owner_digest(user_key: str) -> str:
    """The hex part of the owner id: the table key of the user's mapping and owner-index partitions."""
    return owner_id(user_key)[len(OWNER_HASH) :]


def user_partition(user_key: str) -> str:
    """Table keys forbid some characters and user keys come from any issuer; the hash has neither problem."""
    return USER_PREFIX + owner_digest(user_key)


def _owner(entity: Any) -> str | None:
    """A row's owner as an owner id: rows written before owners were hashed hold the key itself, which
    is hashed on reading, so any rewrite of the row stores the hash."""
    owner = entity.get("owner") or None
    return owner_id(owner) if owner else None


def identity_to_entity(record: IdentityRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": record.acs_id,
        "RowKey": record.acs_id,
        "owner": record.owner or "",
        "created_at": record.created_at,
        "scopes": ",".join(record.scopes),
        "state": record.state.value,
        "activity_day": record.activity_day,
    }
    for name in ("last_token_at", "deleted_at", "deleted_reason", "deleted_by"):
        value = getattr(record, name)
        if value is not None:
            entity[name] = value
    return entity


def identity_from_entity(entity: Any) -> IdentityRecord:
    return IdentityRecord(
        acs_id=entity["PartitionKey"],
        owner=_owner(entity),
        created_at=entity["created_at"],
        last_token_at=entity.get("last_token_at"),
        scopes=tuple(scope for scope in entity.get("scopes", "").split(",") if scope),
        state=IdentityState(entity.get("state", IdentityState.ACTIVE)),
        activity_day=entity.get("activity_day", ""),
        deleted_at=entity.get("deleted_at"),
        deleted_reason=entity.get("deleted_reason"),
        etag=entity.metadata["etag"],
        deleted_by=entity.get("deleted_by"),
    )


def mapping_to_entity(mapping: UserMapping) -> dict[str, Any]:
    key = user_partition(mapping.user_key)
    entity: dict[str, Any] = {
        "PartitionKey": key,
        "RowKey": key,
        "acs_id": mapping.acs_id or "",
        "state": mapping.state.value,
    }
    if mapping.lease_until is not None:
        entity["lease_until"] = mapping.lease_until
    if mapping.last_activity is not None:
        entity["last_activity"] = mapping.last_activity
    if mapping.erased_at is not None:
        entity["erased_at"] = mapping.erased_at
    for window in mapping.windows.values():
        entity.update(_window_columns(window))
    return entity


def idle_mapping_entity(user_key: str) -> dict[str, Any]:
    """A mapping row about to be inserted: idle (no identity) until a change says otherwise."""
    key = user_partition(user_key)
    return {"PartitionKey": key, "RowKey": key, "acs_id": "", "state": MappingState.IDLE.value}


def change_to_fields(change: MappingChange) -> dict[str, Any]:
    """The columns a MappingChange writes (a MERGE: columns it does not name keep their values)."""
    fields: dict[str, Any] = {}
    if change.state is not None:
        fields["state"] = change.state.value
    if change.state in (MappingState.CREATING, MappingState.IDLE):
        fields["acs_id"] = ""
    elif change.acs_id is not None:
        fields["acs_id"] = change.acs_id
    if change.lease_until is not None:
        fields["lease_until"] = change.lease_until
    if change.last_activity is not None:
        fields["last_activity"] = change.last_activity
    if change.window is not None:
        fields.update(_window_columns(change.window))
    return fields


def _window_columns(window: RateWindow) -> dict[str, Any]:
    return {f"rate_{window.route}_start": window.start, f"rate_{window.route}_count": window.count}


def mapping_from_entity(entity: Any, user_key: str, etag: str | None = None) -> UserMapping:
    """A mapping from a read entity (its etag in metadata) or from fields just written (etag given)."""
    windows: dict[str, RateWindow] = {}
    for route in RATE_ROUTES:
        start = entity.get(f"rate_{route}_start")
        if start is not None:
            windows[route] = RateWindow(route, start, int(entity.get(f"rate_{route}_count") or 0))
    return UserMapping(
        user_key=user_key,
        acs_id=entity.get("acs_id") or None,
        state=MappingState(entity.get("state", MappingState.ACTIVE)),
        lease_until=entity.get("lease_until") or None,
        etag=etag if etag is not None else entity.metadata["etag"],
        last_activity=entity.get("last_activity") or None,
        windows=windows,
        erased_at=entity.get("erased_at") or None,
    )


def activity_to_entity(record: IdentityRecord) -> dict[str, Any]:
    """The index row; without an etag (written before its identity row) it has no `identity_etag`."""
    entity: dict[str, Any] = {
        "PartitionKey": ACTIVITY_PREFIX + record.activity_day,
        "RowKey": record.acs_id,
        "owner": record.owner or "",
        "last_activity": record.last_activity,
    }
    if record.etag is not None:
        entity["identity_etag"] = record.etag
    return entity


def activity_from_entity(entity: Any) -> ActivityEntry:
    return ActivityEntry(
        acs_id=entity["RowKey"],
        activity_day=entity["PartitionKey"][len(ACTIVITY_PREFIX) :],
        identity_etag=entity.get("identity_etag", ""),
        owner=_owner(entity),
        last_activity=entity["last_activity"],
    )
