"""Benchmark: listing and search over a 100,000-identity registry; rows read per result.

    python -m benchmarks.listing [--identities 100000]

Azurite is started for the run (free loopback port). The registry is seeded through the app's own
`Registry.insert_identity` (identity row, activity-index row, created-index row, owner-index row) and
`Registry.tombstone` for a share of deleted identities: created over 400 days, last activity between
creation and now, 4 in 5 user-owned (some users own several), 1 in 20 deleted. Then each common filter is
listed through `Registry.list_identities` (what `GET /api/identities` calls), one page of 50 and then
every page, with the table wrapped to count the rows returned by queries and point reads. Reported per
filter: results, pages, rows read, rows read per result, and the table's size for comparison (a scan
would read every row of it).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.common import machine_info, machine_line, services, table, write_results

RESOURCE = "3f0c2a9e-1b7d-4c55-9e0a-6a1f2b3c4d5e"
TENANT = "7e5f1c2a-9b3d-4e6f-8a1b-2c3d4e5f6a7b"
PAGE = 50


@dataclass
class Counts:
    rows: int = 0
    calls: int = 0


def counting(registry: Any) -> Counts:
    """Wrap the registry's Table: count rows returned by query pages and point reads (behaviour unchanged)."""
    counts = Counts()
    inner = registry._table
    query_page, get = inner.query_page, inner.get

    async def counted_page(*args: Any, **kwargs: Any) -> Any:
        rows, token = await query_page(*args, **kwargs)
        counts.rows += len(rows)
        counts.calls += 1
        return rows, token

    async def counted_get(*args: Any, **kwargs: Any) -> Any:
        entity = await get(*args, **kwargs)
        counts.rows += entity is not None
        counts.calls += 1
        return entity

    inner.query_page, inner.get = counted_page, counted_get
    return counts


async def with_retries(make: Any, attempts: int = 8) -> Any:
    """Seeding only: a loaded 2-core machine makes Azurite miss the app's short timeouts now and then."""
    from token_service.errors import RegistryUnavailable

    for attempt in range(attempts):
        try:
            return await make()
        except RegistryUnavailable:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    return None


async def seed(connection_string: str, table_name: str, count: int, concurrency: int = 32) -> dict[str, Any]:
    from token_service.clock import day_key
    from token_service.registry import Conflict, IdentityRecord, IdentityState, Registry

    registry = Registry.from_connection_string(connection_string, table_name)
    await registry.ensure_table()
    rng = random.Random(14)
    now = datetime.now(UTC).replace(microsecond=0)
    owners: dict[str, list[str]] = {}
    deleted: list[str] = []
    semaphore = asyncio.Semaphore(concurrency)

    async def insert_once(record: IdentityRecord) -> IdentityRecord:
        """Insert; after a lost response the row exists: write its index rows again (idempotent)."""
        try:
            return await registry.insert_identity(record)
        except Conflict:
            existing = await registry.get_identity(record.acs_id)
            assert existing is not None
            await registry.put_activity(existing)
            await registry.put_listing_rows(existing)
            return existing

    started = time.monotonic()
    done = 0

    async def one(index: int) -> None:
        nonlocal done
        created = now - timedelta(days=rng.randint(0, 400), seconds=rng.randint(0, 86_399))
        last = created + (now - created) * rng.random()
        owner = None if index % 5 == 0 else f"oid:{TENANT}:bench-user-{index // 2}"  # pairs share an owner
        acs_id = f"8:acs:{RESOURCE}_{index:08d}-0000-4000-8000-{rng.getrandbits(48):012x}"
        record = IdentityRecord(acs_id, owner, created, last, ("voip",), IdentityState.ACTIVE, day_key(last))
        async with semaphore:
            inserted = await with_retries(lambda: insert_once(record))
            if index % 20 == 7:
                await with_retries(lambda: registry.tombstone(inserted, "stale", now))
                deleted.append(acs_id)
        if owner:
            owners.setdefault(owner, []).append(acs_id)
        done += 1
        if done % 10_000 == 0:
            print(f"  seeded {done}/{count} ({done / (time.monotonic() - started):.0f}/s)", flush=True)

    try:
        await asyncio.gather(*(one(index) for index in range(count)))
    finally:
        await registry.close()
    return {"owners": owners, "deleted": len(deleted), "seconds": time.monotonic() - started, "now": now}


async def measure(connection_string: str, table_name: str, now: datetime, owner: str) -> list[dict[str, Any]]:
    from token_service.registry import IdentityFilter, IdentityState, Registry

    cases: list[tuple[str, IdentityFilter]] = [
        ("owner", IdentityFilter(owner=owner)),
        ("lastActivityBefore now-300d", IdentityFilter(last_activity_before=now - timedelta(days=300))),
        (
            "lastActivity within the last 2 days",
            IdentityFilter(last_activity_after=now - timedelta(days=2)),
        ),
        (
            "created in a 3-day window",
            IdentityFilter(created_after=now - timedelta(days=103), created_before=now - timedelta(days=100)),
        ),
        ("state=deleted", IdentityFilter(state=IdentityState.DELETED)),
        (
            "state=active, created in a 3-day window",
            IdentityFilter(
                state=IdentityState.ACTIVE,
                created_after=now - timedelta(days=53),
                created_before=now - timedelta(days=50),
            ),
        ),
    ]
    results = []
    for name, filters in cases:
        registry = Registry.from_connection_string(connection_string, table_name)
        counts = counting(registry)
        try:
            first = await registry.list_identities(filters, PAGE)
            first_rows = counts.rows
            total, pages, token = len(first.records), 1, first.continuation
            while token:
                page = await registry.list_identities(filters, 200, token)
                total, pages, token = total + len(page.records), pages + 1, page.continuation
        finally:
            await registry.close()
        results.append(
            {
                "filter": name,
                "first_page_results": len(first.records),
                "first_page_rows_read": first_rows,
                "results": total,
                "pages": pages,
                "rows_read": counts.rows,
                "rows_per_result": round(counts.rows / total, 3) if total else None,
            }
        )
        print(f"  {name}: {total} results, {counts.rows} rows read", flush=True)
    return results


def rows_written(identities: int, owned: int, deleted: int) -> int:
    """What seeding wrote (reading the whole table back from Azurite takes longer than the seeding):
    identity rows, created-index rows, owner-index rows, activity rows of live identities, deleted-index rows."""
    return identities + identities + owned + (identities - deleted) + deleted


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.listing")
    parser.add_argument("--identities", type=int, default=100_000)
    args = parser.parse_args(argv)
    info = machine_info()
    table_name = "listing" + str(int(time.time()))
    with services("listing") as stack:
        connection_string = stack.azurite.connection_string
        print(f"seeding {args.identities} identities through Registry.insert_identity ...", flush=True)
        seeded = asyncio.run(seed(connection_string, table_name, args.identities))
        owner = next(key for key, ids in seeded["owners"].items() if len(ids) == 2)
        results = asyncio.run(measure(connection_string, table_name, seeded["now"], owner))
        owned = sum(len(ids) for ids in seeded["owners"].values())
        rows_in_table = rows_written(args.identities, owned, seeded["deleted"])
    print()
    print(machine_line(info))
    print(f"{args.identities} identities ({seeded['deleted']} deleted), {rows_in_table} rows in the table; "
          f"seeded in {seeded['seconds']:.0f} s")  # fmt: skip
    headers = ["filter", "results", "pages", "rows read", "rows/result", "first page: results", "rows read"]
    rows = [
        [r["filter"], r["results"], r["pages"], r["rows_read"], r["rows_per_result"], r["first_page_results"],
         r["first_page_rows_read"]]
        for r in results
    ]  # fmt: skip
    print(table(headers, rows))
    path = write_results(
        "listing",
        {
            "machine": info,
            "identities": args.identities,
            "deleted": seeded["deleted"],
            "rows_in_table": rows_in_table,
            "seed_seconds": round(seeded["seconds"], 1),
            "page_size_first": PAGE,
            "results": results,
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
