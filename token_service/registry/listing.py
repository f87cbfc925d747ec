"""Listing and search over the registry without scanning it: index rows, query plans, paging.

Index rows added for the operator's views (pointers only: PartitionKey names the index, RowKey is the
ACS id, and every result is read back from its identity row, which decides the filters; so an index row
left behind by a crash costs a read, never a wrong answer):
- owner index     PK="owner_<sha256(user key)>"  RK=<ACS id>  written when an owned identity is inserted
                                                               and kept after deletion (erasure finds
                                                               leftovers, history stays searchable);
- created index   PK="created_<YYYYMMDD>"        RK=<ACS id>  written at insert, never changed (with
                                                               created_at: windows are applied server-side);
- deleted index   PK="deleted_<YYYYMMDD>"        RK=<ACS id>  written with the tombstone (its day).
Last-activity ranges read the existing activity index (live identities only), filtered server-side.

Paging uses Table Storage's own continuation (NextPartitionKey/NextRowKey), wrapped in an opaque token
bound to the filters it was made for. NextRowKey may be absent (the service documents it for queries
across partitions; azure-data-tables then holds RowKey None): such a token resumes at the start of that
partition, and goes out and comes back like any other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from token_service.clock import day_key
from token_service.json_text import loads_shallow
from token_service.registry.records import (
    ACTIVITY_PREFIX,
    IdentityRecord,
    IdentityState,
    identity_from_entity,
    owner_digest,
    owner_id,
)
from token_service.registry.table import Table

OWNER_PREFIX = "owner_"
CREATED_PREFIX = "created_"
DELETED_PREFIX = "deleted_"
_TABLE_KEY = re.compile(r"[A-Za-z0-9+/=!_:.~-]{1,1024}")  # continuation keys: base64 and the keys we write
CONTINUATION_DEPTH = 2  # {"f": ..., "t": {"PartitionKey": ..., "RowKey": ...}}
MAX_ROWS_EXAMINED = 1000  # per request: a sparse filter answers a short page with a continuation


def owner_partition(user_key: str) -> str:
    """A user key or an owner id (records.owner_id): the same partition."""
    return OWNER_PREFIX + owner_digest(user_key)


def owner_index_row(record: IdentityRecord) -> dict[str, Any] | None:
    if not record.owner:
        return None
    return {"PartitionKey": owner_partition(record.owner), "RowKey": record.acs_id}


def created_index_row(record: IdentityRecord) -> dict[str, Any]:
    # created_at rides along so Table Storage applies a time window itself (the partial days at its ends).
    return {
        "PartitionKey": CREATED_PREFIX + day_key(record.created_at),
        "RowKey": record.acs_id,
        "created_at": record.created_at,
    }


def deleted_index_row(acs_id: str, now: datetime) -> dict[str, Any]:
    return {"PartitionKey": DELETED_PREFIX + day_key(now), "RowKey": acs_id}


class BadContinuation(ValueError):
    """The continuation token is malformed or was made for other filters."""


@dataclass(frozen=True)
class IdentityFilter:
    state: IdentityState | None = None
    owner: str | None = None
    last_activity_before: datetime | None = None
    last_activity_after: datetime | None = None
    created_before: datetime | None = None
    created_after: datetime | None = None

    def fingerprint(self) -> str:
        fields = {name: (str(value) if value is not None else None) for name, value in vars(self).items()}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:32]

    def matches(self, record: IdentityRecord) -> bool:
        """The row decides: index rows only narrow the reading."""
        checks = [
            self.state is None or record.state == self.state,
            self.owner is None or record.owner == owner_id(self.owner),
            self.created_before is None or record.created_at < self.created_before,
            self.created_after is None or record.created_at >= self.created_after,
        ]
        if self.last_activity_before is not None or self.last_activity_after is not None:
            # Last activity is a live identity's property: tombstones have none to match.
            checks.append(record.state != IdentityState.DELETED)
            checks.append(self.last_activity_before is None or record.last_activity < self.last_activity_before)
            checks.append(self.last_activity_after is None or record.last_activity >= self.last_activity_after)
        return all(checks)


@dataclass(frozen=True)
class Plan:
    """Which index to read: a Table query over index rows, whose RowKeys are ACS ids."""

    index: str
    query: str
    parameters: dict[str, Any]


def _day_range(prefix: str, after: datetime | None, before: datetime | None) -> tuple[str, dict[str, Any]]:
    low = prefix + day_key(after) if after else prefix
    # Partitions are days: the day of `before` itself may hold matches (the row decides by time).
    high = prefix + day_key(before + timedelta(days=1)) if before else prefix + "~"
    return "PartitionKey ge @low and PartitionKey lt @high", {"low": low, "high": high}


def _window(prefix: str, field: str, after: datetime | None, before: datetime | None) -> tuple[str, dict[str, Any]]:
    """The day partitions of [after, before), with the row's own time `field` bounding the end days."""
    query, parameters = _day_range(prefix, after, before)
    if after is not None:
        query += f" and {field} ge @after"
        parameters["after"] = after
    if before is not None:
        query += f" and {field} lt @before"
        parameters["before"] = before
    return query, parameters


def plan(filters: IdentityFilter) -> Plan | None:
    """The narrowest index for these filters; None when nothing can match."""
    if filters.owner is not None:
        return Plan("owner", "PartitionKey eq @pk", {"pk": owner_partition(filters.owner)})
    if filters.last_activity_before is not None or filters.last_activity_after is not None:
        if filters.state == IdentityState.DELETED:
            return None
        after, before = filters.last_activity_after, filters.last_activity_before
        query, parameters = _window(ACTIVITY_PREFIX, "last_activity", after, before)
        return Plan("activity", query, parameters)
    if filters.state == IdentityState.DELETED:
        # Deleted on or after its creation: a created-after bound also bounds the deletion day.
        query, parameters = _day_range(DELETED_PREFIX, filters.created_after, None)
        return Plan("deleted", query, parameters)
    if filters.state is not None and filters.created_before is None and filters.created_after is None:
        query, parameters = _day_range(ACTIVITY_PREFIX, None, None)  # live identities: active or deleting
        return Plan("activity", query, parameters)
    query, parameters = _window(CREATED_PREFIX, "created_at", filters.created_after, filters.created_before)
    return Plan("created", query, parameters)


def encode_continuation(filters: IdentityFilter, table_token: Mapping[str, Any]) -> str:
    payload = {"f": filters.fingerprint(), "t": dict(table_token)}
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continuation(filters: IdentityFilter, token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = loads_shallow(raw, CONTINUATION_DEPTH)
    except (binascii.Error, ValueError) as error:
        raise BadContinuation("the continuation token is malformed") from error
    table_token = payload.get("t") if isinstance(payload, dict) else None
    if (
        not isinstance(table_token, dict)
        or set(table_token) != {"PartitionKey", "RowKey"}
        or not _table_key(table_token["PartitionKey"])
        or not (table_token["RowKey"] is None or _table_key(table_token["RowKey"]))
        or not isinstance(payload.get("f"), str)
    ):
        raise BadContinuation("the continuation token is malformed")
    if payload["f"] != filters.fingerprint():
        raise BadContinuation("the continuation token belongs to other filters; start again without it")
    return table_token


def _table_key(value: object) -> bool:
    return isinstance(value, str) and _TABLE_KEY.fullmatch(value) is not None


@dataclass(frozen=True)
class ListingPage:
    records: list[IdentityRecord]
    continuation: str | None
    rows_read: int


async def list_identities(
    table: Table, filters: IdentityFilter, page_size: int, continuation: str | None = None
) -> ListingPage:
    """One page, in index order (stable): Table pages are read whole, so the next page resumes exactly at
    Table Storage's own continuation. Reads at most MAX_ROWS_EXAMINED index rows per call."""
    table_token = decode_continuation(filters, continuation) if continuation else None
    chosen = plan(filters)
    if chosen is None:
        return ListingPage([], None, 0)
    records: list[IdentityRecord] = []
    examined = 0
    while len(records) < page_size and examined < MAX_ROWS_EXAMINED:
        wanted = min(page_size - len(records), MAX_ROWS_EXAMINED - examined)
        rows, table_token = await table.query_page(chosen.query, chosen.parameters, wanted, table_token, ["RowKey"])
        ids = [row["RowKey"] for row in rows]
        examined += len(ids)
        for acs_id in ids:
            entity = await table.get(acs_id, acs_id)
            examined += 1
            if entity is None:
                continue
            record = identity_from_entity(entity)
            if filters.matches(record):
                records.append(record)
        if not table_token:
            break
    next_token = encode_continuation(filters, table_token) if table_token else None
    return ListingPage(records, next_token, examined)
