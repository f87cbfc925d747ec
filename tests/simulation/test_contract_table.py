"""One contract, two backends: `TableModel` and `Table` on Azurite answer every call the same way.

Every behaviour the simulator relies on is asserted here on both, so the model cannot drift into a
convenient mock. Where Azurite cannot show what Table Storage does (short and empty pages with a
continuation, NextRowKey absent), the model's documented behaviour is asserted on the model alone.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.simulation.conftest import TableBackend
from tests.simulation.odata import UnsupportedFilter
from tests.simulation.table_model import Paging, TableModel
from tests.simulation.weather import Calm, Fault
from token_service.errors import RegistryUnavailable
from token_service.registry import Conflict

T0 = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def row(pk: str, rk: str, **values: Any) -> dict[str, Any]:
    return {"PartitionKey": pk, "RowKey": rk, **values}


async def test_create_get_and_etags(backend: TableBackend) -> None:
    t = backend.table
    assert await t.get("a", "a") is None
    etag = await t.create(row("a", "a", n=1, s="x", at=T0))
    got = await t.get("a", "a")
    assert got.metadata["etag"] == etag
    assert {k: got[k] for k in ("PartitionKey", "RowKey", "n", "s", "at")} == row("a", "a", n=1, s="x", at=T0)
    assert got["at"].tzinfo is not None and got["at"] == T0
    with pytest.raises(Conflict):
        await t.create(row("a", "a", n=2))  # 409: an existing key
    assert (await t.get("a", "a"))["n"] == 1


async def test_conditional_writes(backend: TableBackend) -> None:
    t = backend.table
    first = await t.create(row("b", "b", n=1, keep="yes"))
    second = await t.merge(row("b", "b", n=2), first)
    assert second != first
    got = await t.get("b", "b")
    assert (got["n"], got["keep"], got.metadata["etag"]) == (2, "yes", second)
    with pytest.raises(Conflict):
        await t.merge(row("b", "b", n=3), first)  # 412: stale etag
    with pytest.raises(Conflict):
        await t.replace(row("b", "b", n=3), first)
    third = await t.replace(row("b", "b", n=4), second)  # replace drops columns it does not name
    got = await t.get("b", "b")
    assert (got["n"], "keep" in got, got.metadata["etag"]) == (4, False, third)
    with pytest.raises(Conflict):
        await t.replace(row("nope", "nope", n=1), third)  # 404 on a conditional write: Conflict
    with pytest.raises(Conflict):
        await t.merge(row("nope", "nope", n=1), third)
    assert await t.get("nope", "nope") is None


async def test_upserts(backend: TableBackend) -> None:
    t = backend.table
    await t.replace(row("c", "c", n=1, keep="yes"), None)
    await t.merge(row("c", "c", n=2), None)
    got = await t.get("c", "c")
    assert (got["n"], got["keep"]) == (2, "yes")
    await t.merge(row("c2", "c2", n=5))  # merge-upsert of a missing row inserts it
    assert (await t.get("c2", "c2"))["n"] == 5


async def test_deletes(backend: TableBackend) -> None:
    t = backend.table
    await t.delete("gone", "gone")  # absent: deleted already
    await t.delete("gone", "gone", "W/\"datetime'2030-01-01T00%3A00%3A00.0000000Z'\"")
    etag = await t.create(row("d", "d", n=1))
    newer = await t.merge(row("d", "d", n=2), etag)
    with pytest.raises(Conflict):
        await t.delete("d", "d", etag)  # 412
    await t.delete("d", "d", newer)
    assert await t.get("d", "d") is None


async def test_the_registry_filters(backend: TableBackend) -> None:
    t = backend.table
    for pk, rk, at in [
        ("activity_20300101", "x2", T0),
        ("activity_20300101", "x1", T0 - timedelta(days=1)),
        ("activity_20300103", "x3", T0 + timedelta(days=1)),
        ("deleting", "x9", None),
        ("health", "h", None),
        ("created_20300102", "y1", T0),
    ]:
        await t.create(row(pk, rk, **({"last_activity": at, "created_at": at} if at else {"reason": "r"})))

    async def keys(query: str, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        return [(e["PartitionKey"], e["RowKey"]) async for e in t.query(query, parameters, 1000)]

    stale = await keys(
        "PartitionKey ge @low and PartitionKey lt @high", {"low": "activity_", "high": "activity_20300102"}
    )
    assert stale == [("activity_20300101", "x1"), ("activity_20300101", "x2")]  # PK then RK order
    assert await keys("PartitionKey eq @pk", {"pk": "deleting"}) == [("deleting", "x9")]
    assert await keys("PartitionKey eq 'health'", {}) == [("health", "h")]
    windowed = await keys(
        "PartitionKey ge @low and PartitionKey lt @high and last_activity ge @after and last_activity lt @before",
        {"low": "activity_", "high": "activity_~", "after": T0 - timedelta(hours=1), "before": T0 + timedelta(days=2)},
    )
    assert windowed == [("activity_20300101", "x2"), ("activity_20300103", "x3")]
    # a row without the property does not match a clause on it
    assert await keys("PartitionKey ge @low and created_at lt @before", {"low": "d", "before": T0 + timedelta(1)}) == []


async def test_pages_and_continuations(backend: TableBackend) -> None:
    t = backend.table
    await asyncio.gather(*(t.create(row(f"p{i % 3}", f"r{i:04d}")) for i in range(1005)))
    query, parameters = "PartitionKey ge @low and PartitionKey lt @high", {"low": "p", "high": "q"}
    rows, token = await t.query_page(query, parameters, 5000, None, ["RowKey"])
    assert len(rows) == 1000 and set(rows[0]) == {"RowKey"}  # 1,000 rows at most; select honoured
    assert isinstance(token, dict) and set(token) == {"PartitionKey", "RowKey"}
    seen = [r["RowKey"] for r in rows]
    while token:
        rows, token = await t.query_page(query, parameters, 7, token, ["RowKey"])
        seen += [r["RowKey"] for r in rows]
    everything = sorted((f"p{i % 3}", f"r{i:04d}") for i in range(1005))
    assert seen == [rk for _, rk in everything]
    assert len([e async for e in t.query(query, parameters, 100)]) == 1005


async def test_a_lost_response_after_the_write(backend: TableBackend) -> None:
    """What `Table` answers when the write happened and its response was lost (azure-core retries GET,
    PUT and DELETE after a lost response, never POST or PATCH)."""
    t = backend.table
    await t.ensure()  # the table exists first: its own create is a POST too

    async def lose(op: str, marker: bytes) -> None:
        if backend.proxy is not None:
            backend.proxy.arm(marker)
        else:
            assert isinstance(t, TableModel)
            t.weather = LoseOne(op)

    await lose("create", b"POST /")
    with pytest.raises(RegistryUnavailable):
        await t.create(row("l", "l", n=1))
    etag = (await t.get("l", "l")).metadata["etag"]  # it was written all the same
    await lose("merge", b"PATCH /")
    with pytest.raises(RegistryUnavailable):
        await t.merge(row("l", "l", n=2), etag)
    got = await t.get("l", "l")
    assert got["n"] == 2
    await lose("replace", b"PUT /")
    with pytest.raises(Conflict):  # retried with the old etag, it meets its own write
        await t.replace(row("l", "l", n=3), got.metadata["etag"])
    assert (await t.get("l", "l"))["n"] == 3
    await lose("replace", b"PUT /")
    new_etag = await t.replace(row("l", "l", n=4), None)  # an upsert's retry just succeeds
    assert (await t.get("l", "l")).metadata["etag"] == new_etag
    await lose("delete", b"DELETE /")
    await t.delete("l", "l", new_etag)  # retried: the row is gone, which counts as deleted
    assert await t.get("l", "l") is None
    if backend.proxy is not None:
        assert backend.proxy.dropped == 5


class LoseOne(Calm):
    def __init__(self, op: str) -> None:
        self.op = op

    async def after(self, service: str, op: str) -> Fault | None:
        if op == self.op:
            self.op = ""
            return Fault.LOST
        return None


async def test_model_only_refuses_filters_outside_the_subset() -> None:
    t = TableModel()
    for query in [
        "",
        "RowKey eq @x or RowKey eq @y",
        "startswith(PartitionKey, 'a')",
        "n eq 5",
        "PartitionKey eq @missing",
    ]:
        with pytest.raises(UnsupportedFilter):
            await t.query_page(query, {"x": "1", "y": "2"}, 10, None, None)


async def test_model_only_odd_pages_still_cover_the_query() -> None:
    """Table Storage may answer short or empty pages with a continuation, and omit NextRowKey at a
    partition boundary (Azurite shows none of it): reading on until no continuation sees every row once."""
    total_absent = 0
    for seed in range(50):
        t = TableModel(paging=Paging.odd(seed))
        for i in range(40):
            await t.create(row(f"p{i % 4}", f"r{i:02d}"))
        seen, token, absent_row_key = [], None, 0
        while True:
            rows, token = await t.query_page("PartitionKey ge @a", {"a": "p"}, 9, token, None)
            seen += [(r["PartitionKey"], r["RowKey"]) for r in rows]
            if not token:
                break
            absent_row_key += token["RowKey"] is None
        assert seen == sorted((f"p{i % 4}", f"r{i:02d}") for i in range(40))
        total_absent += absent_row_key
    assert total_absent > 0  # the odd pages did omit NextRowKey
