"""An in-memory Table Storage behind the same methods as `token_service.registry.Table`.

Held to Azurite by tests/simulation/test_contract_table.py (one suite, both backends). What it keeps:
an etag on every write; If-Match (412 → Conflict), insert of an existing key (409 → Conflict), a
conditional write to a missing row (404 → Conflict), idempotent delete; query results in PartitionKey
then RowKey order, in pages of at most 1,000 rows with Table Storage's continuation dict, which may
(in `Paging.odd`) cut pages short, return empty pages with a continuation, and omit NextRowKey at a
partition boundary (Azurite never does these; the notes in /work/shared say the service does).

A lost response is what the caller would see through `Table` (azure-core retries reads and PUT/DELETE
after a lost response, never POST/PATCH): create and merge raise RegistryUnavailable although they
took effect; an etag-conditional replace is retried and meets its own write (Conflict); an upsert or a
delete is retried and succeeds.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableEntity

from tests.simulation.odata import parse
from tests.simulation.weather import Calm, Fault, Weather
from token_service.errors import RegistryUnavailable
from token_service.registry import Conflict

MAX_PAGE = 1000
Key = tuple[str, str]


@dataclass
class Paging:
    """How pages are cut. Calm: full pages. Odd (seeded): short and empty pages, NextRowKey absent."""

    rng: random.Random | None = None

    @classmethod
    def odd(cls, seed: int) -> Paging:
        return cls(random.Random(seed))

    def cut(self, wanted: int) -> int:
        if self.rng is None or self.rng.random() < 0.5:
            return wanted
        return self.rng.randint(0, wanted)

    def drop_row_key(self) -> bool:
        return self.rng is not None and self.rng.random() < 0.5


@dataclass
class _Row:
    values: dict[str, Any]
    etag: str


@dataclass
class TableModel:
    weather: Weather = field(default_factory=Calm)
    paging: Paging = field(default_factory=Paging)
    rows: dict[Key, _Row] = field(default_factory=dict)
    writes: int = 0

    # -- the Table interface -----------------------------------------------------------------

    async def close(self) -> None:
        return None

    async def ensure(self) -> None:
        await self._before("ensure")

    async def get(self, partition: str, row: str) -> Any:
        await self._before("get")
        found = self.rows.get((partition, row))
        return _entity(found) if found is not None else None

    async def query(self, query: str, parameters: dict[str, Any], page_size: int) -> AsyncIterator[Any]:
        continuation: Any = None
        while True:
            rows, continuation = await self.query_page(query, parameters, page_size, continuation, None)
            for row in rows:
                yield row
            if not continuation:
                return

    async def query_page(
        self, query: str, parameters: dict[str, Any], page_size: int, continuation: Any, select: list[str] | None
    ) -> tuple[list[Any], Any]:
        matcher = parse(query, parameters)  # refuses an unsupported filter before any I/O, like a 400
        await self._before("query")
        keys = sorted(key for key, row in self.rows.items() if matcher.matches(row.values))
        if continuation:
            start = (continuation["PartitionKey"], continuation.get("RowKey") or "")
            keys = [key for key in keys if key >= start]
        size = self.paging.cut(min(page_size, MAX_PAGE))
        page, rest = keys[:size], keys[size:]
        rows = [_entity(self.rows[key], select) for key in page]
        if not rest:
            return rows, None
        next_pk, next_rk = rest[0]
        at_boundary = bool(page) and page[-1][0] != next_pk  # the next partition starts fresh
        if at_boundary and self.paging.drop_row_key():
            return rows, {"PartitionKey": next_pk, "RowKey": None}
        return rows, {"PartitionKey": next_pk, "RowKey": next_rk}

    async def create(self, entity: dict[str, Any]) -> str:
        await self._before("create")
        key = _key(entity)
        if key in self.rows:
            raise Conflict("ResourceExistsError")
        etag = self._store(key, dict(entity))
        if await self._lost("create"):
            _unavailable()
        return etag

    async def replace(self, entity: dict[str, Any], etag: str | None) -> str:
        await self._before("replace")
        new_etag = self._write(entity, etag, merge=False)
        if await self._lost("replace"):
            if etag is not None:
                raise Conflict("precondition failed (412)")  # the retry meets our own write
            return self._write(entity, None, merge=False)
        return new_etag

    async def merge(self, patch: dict[str, Any], etag: str | None = None) -> str:
        await self._before("merge")
        new_etag = self._write(patch, etag, merge=True)
        if await self._lost("merge"):
            _unavailable()
        return new_etag

    async def delete(self, partition: str, row: str, etag: str | None = None) -> None:
        await self._before("delete")
        found = self.rows.get((partition, row))
        if found is None:
            return
        if etag is not None and found.etag != etag:
            raise Conflict("precondition failed (412)")
        del self.rows[(partition, row)]
        self.writes += 1
        await self._lost("delete")  # the retry finds no row: deleted, as far as the caller knows

    # -- internals ----------------------------------------------------------------------------

    def _write(self, entity: dict[str, Any], etag: str | None, *, merge: bool) -> str:
        key = _key(entity)
        found = self.rows.get(key)
        if etag is not None:
            if found is None:
                raise Conflict("row vanished")
            if found.etag != etag:
                raise Conflict("precondition failed (412)")
        values = {**found.values, **entity} if (merge and found is not None) else dict(entity)
        return self._store(key, values)

    def _store(self, key: Key, values: dict[str, Any]) -> str:
        self.writes += 1
        etag = f"W/\"datetime'model-{self.writes}'\""
        self.rows[key] = _Row({name: _normal(value) for name, value in values.items() if value is not None}, etag)
        return etag

    async def _before(self, op: str) -> None:
        if await self.weather.before("table", op) is Fault.UNAVAILABLE:
            raise RegistryUnavailable("the registry answered 503", retry_after=5)

    async def _lost(self, op: str) -> bool:
        """The write took effect; True if its response is lost (the caller answers as `Table` would)."""
        return await self.weather.after("table", op) is Fault.LOST


def _unavailable() -> None:
    raise RegistryUnavailable("the registry could not be reached", retry_after=5)


def _key(entity: dict[str, Any]) -> Key:
    return str(entity["PartitionKey"]), str(entity["RowKey"])


def _normal(value: Any) -> Any:
    """As Table Storage gives values back: datetimes in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def _entity(row: _Row, select: list[str] | None = None) -> TableEntity:
    values = row.values if select is None else {name: row.values[name] for name in select if name in row.values}
    entity = TableEntity(values)
    entity._metadata = {"etag": row.etag, "timestamp": None}
    return entity
