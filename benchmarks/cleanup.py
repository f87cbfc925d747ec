"""Benchmark: stale-identity cleanup over a 100,000-identity registry, 10,000 stale.

    python -m benchmarks.cleanup [--identities 100000] [--stale 10000] [--rate 50] [--budget 240]

Setup (Azurite and local_azure started for the run, on free loopback ports):
- local_azure adds 20 ms to every ACS call and limits revoke and delete to R calls per second each
  (given as R*30 per 30 s, the window ACS itself uses). R = 50/s by default: at ACS's real limit
  (500 per 30 s, ~16.7/s) 20,000 paced calls would take 10 minutes on their own.
- the cleanup paces itself at 0.96 R per operation (`acs_calls_per_second`): near the limit, not into
  it, so the run shows how exactly the pacer holds a pace (the app's default stays further below ACS's
  limit on purpose, leaving users a share of each window).
- stale identities exist in ACS (created through the SDK with the HMAC connection string, the
  stand-in's create limit lifted while seeding) and in the registry (identity row, activity-index row,
  and for user-owned ones the user mapping), written through token_service.registry.Registry, last
  activity 31-400 days ago;
- fresh identities are registry rows only (identity row + activity-index row, last activity 0-28 days
  ago): the cleanup must never read or touch them, so they need not exist in ACS. They are appended to
  Azurite's saved table database while Azurite is stopped (see `add_fresh_rows` for why).
Three runs, each the app's own `Services.cleanup().run()` in a fresh child process (as the timer runs
it), its registry table client wrapped to count the rows returned by queries and point reads:
1. pacing check: a 1,000-identity registry, all stale (storage is not the ceiling);
2. control: the 10,000 stale identities alone, 60 s time budget;
3. full: the same table plus the 90,000 fresh identities, the app's default 240 s time budget.
A run that reaches its budget stops early and leaves everything consistent for the next run (checked).
Reported per run: time, revokes and deletes per second (local_azure's own 204 counts) as a fraction of R,
registry rows read per stale identity, peak RSS (VmHWM) of the cleanup process, CPU of each process.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import random
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.common import (
    PROJECT_ROOT,
    RESULTS_DIR,
    Services,
    cpu_seconds,
    machine_info,
    machine_line,
    proc_status,
    pyplot,
    relative,
    services,
    table,
    write_results,
)

LATENCY_MS = 20
DEFAULT_RATE = 50
PACE_FRACTION = 0.96  # the app's default: 16/s under ACS's 500 per 30 s (16.7/s)
AIM_RATE_FRACTION = 0.9
AIM_ROWS_PER_STALE = 1.2
STALE_DAYS = 30
CHILD_FLAG = "--child-run"


# -- instrumentation -----------------------------------------------------------------------------


class CountingTable:
    """Wraps an aio TableClient: counts rows returned by queries and point reads, and calls by kind.

    Behaviour is unchanged: every call goes to the wrapped client with the same arguments.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.rows_read = 0
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attribute(*args, **kwargs)

        return counted

    def query_entities(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        self.calls["query_entities"] += 1
        pages = self._inner.query_entities(*args, **kwargs)

        async def rows() -> AsyncIterator[Any]:
            async for entity in pages:
                self.rows_read += 1
                yield entity

        return rows()

    async def get_entity(self, *args: Any, **kwargs: Any) -> Any:
        self.calls["get_entity"] += 1
        entity = await self._inner.get_entity(*args, **kwargs)
        self.rows_read += 1  # a 404 raises and returns no row
        return entity


# -- the child: one cleanup run, as the timer runs it ---------------------------------------------


async def child_run(pace: float, budget: float) -> dict[str, Any]:
    from token_service.services import build_services
    from token_service.settings import Settings

    runtime = build_services(Settings.from_env())
    table = runtime.registry._table
    counting = CountingTable(table._table)
    table._table = counting  # type: ignore[assignment]
    rss_before = proc_status(os.getpid())
    cpu_before = time.process_time()
    try:
        cleanup = runtime.cleanup(
            acs_calls_per_second=pace, time_budget_seconds=budget, max_per_run=1_000_000, dry_run=False
        )
        summary = await cleanup.run()
    finally:
        await runtime.close()
    cpu_run = time.process_time() - cpu_before
    return {
        "summary": {k: v for k, v in vars(summary).items() if k != "would_delete"},
        "rows_read": counting.rows_read,
        "table_calls": dict(counting.calls),
        "rss_before_run_kb": rss_before.get("VmRSS"),
        "peak_rss_kb": proc_status(os.getpid()).get("VmHWM"),
        "cpu_seconds": cpu_run,
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(CHILD_FLAG, action="store_true")
    parser.add_argument("--pace", type=float, required=True)
    parser.add_argument("--budget", type=float, required=True)
    args = parser.parse_args(argv)
    result = asyncio.run(child_run(args.pace, args.budget))
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# -- seeding ------------------------------------------------------------------------------------


async def bounded(concurrency: int, jobs: Iterable[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run the jobs with at most `concurrency` in flight; results in order."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(job) for job in jobs))


async def seed_stale(stack: Services, table_name: str, stale: int) -> float:
    """The stale identities: created in ACS (SDK, HMAC), registry rows written through the app's Registry."""
    from azure.communication.identity.aio import CommunicationIdentityClient
    from azure.core.pipeline.transport import AioHttpTransport
    from azure.data.tables.aio import TableServiceClient

    from token_service.clock import day_key
    from token_service.registry import IdentityRecord, IdentityState, Registry, Table

    now = datetime.now(UTC)
    rng = random.Random(4)
    # The seeding clients skip proxy/netrc lookups from the environment, as the app's clients do without a proxy.
    service = TableServiceClient.from_connection_string(
        stack.azurite.connection_string, transport=AioHttpTransport(use_env_settings=False)
    )
    registry = Registry(Table(service.get_table_client(table_name), service))
    await registry.ensure_table()
    settings = stack.local_azure.settings
    stack.local_azure.set_faults(latency_ms=0, rate_limits={"create": {"limit": 1_000_000_000, "window_seconds": 30}})
    started = time.monotonic()
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=settings.ca_cert_file))
    )
    acs = CommunicationIdentityClient.from_connection_string(
        settings.acs_connection_string, transport=AioHttpTransport(session=session, session_owner=False)
    )
    created = 0

    async def create_stale(index: int) -> None:
        nonlocal created
        user = await acs.create_user()
        acs_id = user.properties["id"]
        last = now - timedelta(days=rng.randint(STALE_DAYS + 1, 400), seconds=rng.randint(0, 86_399))
        owner = None if index % 5 == 0 else f"bench-stale-user-{index}"  # 1 in 5 admin-created
        if owner:
            claim = await registry.claim_mapping(owner, now + timedelta(seconds=30), None)
            await registry.complete_mapping(claim, acs_id)
        record = IdentityRecord(
            acs_id=acs_id,
            owner=owner,
            created_at=last - timedelta(days=1),
            last_token_at=last,
            scopes=("voip",),
            state=IdentityState.ACTIVE,
            activity_day=day_key(last),
        )
        await registry.insert_identity(record)
        created += 1
        if created % 2500 == 0 or created == stale:
            rate = created / max(time.monotonic() - started, 1e-6)
            print(f"  stale identities (ACS + registry): {created}/{stale} ({rate:.0f}/s)", flush=True)

    try:
        await bounded(32, [functools.partial(create_stale, i) for i in range(stale)])
    finally:
        await acs.close()
        await session.close()
        await registry.close()
    stack.local_azure.reset_faults()  # back to the flags: 20 ms latency, revoke/delete at R
    return time.monotonic() - started


def azurite_time(moment: datetime) -> str:
    """Azurite's timestamp text: seven fractional digits, Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def add_fresh_rows(db_file: Path, table_name: str, resource_id: str, count: int) -> list[str]:
    """Append `count` fresh identities (identity row + activity-index row each) to Azurite's saved table
    database, with the properties and types the SDK writes and each activity row carrying its identity
    row's etag; rebuild the two binary indices Azurite declares (PartitionKey, RowKey). Azurite must be
    stopped; it loads the file when it starts.

    Why not through the API: 180,000 rows through Azurite's HTTP API take minutes, and these rows only
    need to exist (they are never read). Written as the SDK would write them.
    """
    from token_service.clock import day_key
    from token_service.registry import ACTIVITY_PREFIX, IdentityState

    rng = random.Random(5)
    document = json.loads(db_file.read_text(encoding="utf-8"))
    collection = next(c for c in document["collections"] if c["name"] == f"devstoreaccount1${table_name}")
    data: list[dict[str, Any]] = collection["data"]
    next_id = int(collection["maxId"])
    now = datetime.now(UTC)
    created_ms = int(now.timestamp() * 1000)
    ids: list[str] = []

    def row(properties: dict[str, Any], stamp: str) -> dict[str, Any]:
        nonlocal next_id
        next_id += 1
        props = {**properties, "Timestamp": stamp, "Timestamp@odata.type": "Edm.DateTime"}
        return {
            "PartitionKey": properties["PartitionKey"],
            "RowKey": properties["RowKey"],
            "properties": props,
            "lastModifiedTime": stamp,
            "eTag": "W/\"datetime'" + stamp.replace(":", "%3A") + "'\"",
            "meta": {"revision": 0, "created": created_ms, "version": 0},
            "$loki": next_id,
        }

    for index in range(count):
        acs_id = f"8:acs:{resource_id}_{uuid.UUID(int=rng.getrandbits(128))}"
        last = now - timedelta(days=rng.randint(0, STALE_DAYS - 2), seconds=rng.randint(0, 3600))
        stamp = azurite_time(now + timedelta(microseconds=index))
        dt = "Edm.DateTime"
        identity = row(
            {
                "PartitionKey": acs_id,
                "RowKey": acs_id,
                "owner": "",
                "created_at": azurite_time(last - timedelta(days=1)),
                "created_at@odata.type": dt,
                "scopes": "voip",
                "state": IdentityState.ACTIVE.value,
                "activity_day": day_key(last),
                "last_token_at": azurite_time(last),
                "last_token_at@odata.type": dt,
            },
            stamp,
        )
        activity = row(
            {
                "PartitionKey": ACTIVITY_PREFIX + day_key(last),
                "RowKey": acs_id,
                "identity_etag": identity["eTag"],
                "owner": "",
                "last_activity": azurite_time(last),
                "last_activity@odata.type": dt,
            },
            stamp,
        )
        data += [identity, activity]
        ids.append(acs_id)
    collection["maxId"] = next_id
    for prop in ("PartitionKey", "RowKey"):
        positions = sorted(range(len(data)), key=lambda i, p=prop: data[i][p])  # type: ignore[misc]
        collection["binaryIndices"][prop] = {"name": prop, "dirty": False, "values": positions}
    db_file.write_text(json.dumps(document), encoding="utf-8")
    return ids


async def verify(stack: Services, table_name: str, fresh_sample: list[str]) -> dict[str, Any]:
    """After the runs: every tombstoned identity is gone from ACS and every live stale one is still
    indexed; a sample of fresh rows is untouched; no deletion is left half done."""
    from token_service.clock import day_key
    from token_service.registry import IdentityState, Registry

    live = {identity["id"] for identity in stack.local_azure.identities(live_only=True)}
    registry = Registry.from_connection_string(stack.azurite.connection_string, table_name)
    try:
        untouched = 0
        for acs_id in fresh_sample:
            record = await registry.get_identity(acs_id)
            if record is not None and record.state == IdentityState.ACTIVE and record.deleted_at is None:
                untouched += 1
        pending = [acs_id async for acs_id, _ in registry.pending_deletions()]
        # Stale rows live in day partitions >= 31 days old, fresh ones in the last 29 days: read only the former.
        before = day_key(datetime.now(UTC) - timedelta(days=STALE_DAYS - 1))
        indexed = {entry.acs_id async for entry in registry.stale_activity(before)}
        all_stale = [identity["id"] for identity in stack.local_azure.identities()]
        sample = random.Random(7).sample(all_stale, min(500, len(all_stale)))  # point reads are slow in Azurite
        tombstoned_but_live = 0
        for acs_id in sample:
            record = await registry.get_identity(acs_id)
            if record is not None and record.state == IdentityState.DELETED and acs_id in live:
                tombstoned_but_live += 1
    finally:
        await registry.close()
    return {
        "stale_left_live_in_acs": len(live),
        "live_stale_still_indexed": len(live & indexed) == len(live),
        "tombstoned_but_live_in_acs_of_500_sampled": tombstoned_but_live,
        "fresh_sample_untouched": f"{untouched}/{len(fresh_sample)}",
        "pending_deletions_left": len(pending),
    }


# -- the orchestrator ----------------------------------------------------------------------------


def sample_stats(stack: Services, stop: threading.Event, series: list[dict[str, Any]]) -> None:
    """Every second, local_azure's cumulative per-operation counts (for the calls-per-second plot)."""
    started = time.monotonic()
    while not stop.wait(1.0):
        try:
            operations = stack.local_azure.stats()["operations"]
        except OSError:
            continue
        series.append(
            {
                "t": round(time.monotonic() - started, 2),
                "revoke_204": int(operations.get("revoke", {}).get("204", 0)),
                "delete_204": int(operations.get("delete", {}).get("204", 0)),
                "throttled": int(operations.get("revoke", {}).get("429", 0))
                + int(operations.get("delete", {}).get("429", 0)),
            }
        )


def run_child(stack: Services, env: dict[str, str], pace: float, budget: float) -> tuple[dict[str, Any], float]:
    args = [sys.executable, "-m", "benchmarks.cleanup", CHILD_FLAG, "--pace", str(pace), "--budget", str(budget)]
    started = time.monotonic()
    completed = subprocess.run(
        args, cwd=PROJECT_ROOT, env={**os.environ, **env}, capture_output=True, timeout=budget + 120, check=False
    )
    wall = time.monotonic() - started
    (stack.workdir / "cleanup-child.log").write_bytes(completed.stderr)
    lines = [line for line in completed.stdout.decode().splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"cleanup child failed ({completed.returncode}): {completed.stderr.decode()[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :]), wall


def plot(phases: list[dict[str, Any]], rate: float, path: Any) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(phases), figsize=(6 * len(phases), 4.6), squeeze=False)
    for ax, phase in zip(axes[0], phases, strict=True):
        series, figures = phase["series"], phase["figures"]
        for key, label in (("revoke_204", "revokes/s"), ("delete_204", "deletes/s")):
            previous = [{"t": 0.0, key: 0}, *series[:-1]]
            per_second = [(b[key] - a[key]) / max(b["t"] - a["t"], 1e-6) for a, b in zip(previous, series, strict=True)]
            ax.plot([point["t"] for point in series], per_second, label=label, linewidth=1)
        ax.axhline(rate, color="red", linestyle="--", linewidth=1, label=f"limit R = {rate:g}/s per operation")
        ax.set_xlabel("seconds into the cleanup run")
        ax.set_ylabel("successful ACS calls per second")
        ax.set_ylim(0, rate * 1.3)
        ax.set_title(
            f"{phase['label']}\n{figures['processed']:,} done in {figures['run_seconds']:.0f} s: "
            f"{figures['fraction_of_r']:.2f} of R, {figures['rows_per_stale']:.2f} rows read/stale, "
            f"RSS {figures['peak_rss_mb']:.0f} MB\nCPU cores busy: Azurite {figures['cpu_cores']['azurite']:.2f}, "
            f"cleanup {figures['cpu_cores']['cleanup']:.2f}, local_azure {figures['cpu_cores']['local_azure']:.2f}",
            fontsize=8.5,
        )
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_phase(
    stack: Services, env: dict[str, str], label: str, pace: float, budget: float, rate: float, identities: int
) -> dict[str, Any]:
    """One cleanup run in a child process, with local_azure's counts sampled every second."""
    print(f"{label}: cleanup run (pace {pace:g}/s per operation, time budget {budget:g} s) ...", flush=True)
    stack.local_azure.reset_stats()
    pids = {"azurite": stack.azurite.process.pid, "local_azure": stack.local_azure.process.pid}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    series: list[dict[str, Any]] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_stats, args=(stack, stop, series), daemon=True)
    sampler.start()
    try:
        child, wall = run_child(stack, env, pace, budget)
    finally:
        stop.set()
        sampler.join(timeout=5)
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    ops = stack.local_azure.stats()["operations"]
    summary = child["summary"]
    run_seconds = float(summary["duration_seconds"])
    revokes = int(ops.get("revoke", {}).get("204", 0))
    deletes = int(ops.get("delete", {}).get("204", 0))
    processed = summary["deleted"] + summary["already_gone"] + summary["failed"] + summary["survived"]
    figures = {
        "identities_in_registry": identities,
        "stale_taken": summary["stale"],
        "processed": processed,
        "run_seconds": run_seconds,
        "stopped_early": summary["stopped_early"],
        "revokes_per_second": revokes / run_seconds,
        "deletes_per_second": deletes / run_seconds,
        "fraction_of_r": (revokes + deletes) / run_seconds / (2 * rate),
        "rows_read": child["rows_read"],
        "rows_per_stale": child["rows_read"] / max(summary["stale"], 1),
        "peak_rss_mb": child["peak_rss_kb"] / 1024,
        "rss_before_run_mb": child["rss_before_run_kb"] / 1024,
        "throttled_429": sum(int(ops.get(op, {}).get("429", 0)) for op in ("revoke", "delete")),
        "cpu_cores": {
            "azurite": cpu["azurite"] / run_seconds,
            "cleanup": child["cpu_seconds"] / run_seconds,
            "local_azure": cpu["local_azure"] / run_seconds,
        },
    }
    print(
        table(
            ["figure", "value"],
            [
                ["registry identities", identities],
                ["stale taken / done", f"{summary['stale']} / {processed}"],
                ["run time (s)", run_seconds],
                ["stopped early", summary["stopped_early"] or "no"],
                [
                    "revokes/s, deletes/s (local_azure 204s)",
                    f"{figures['revokes_per_second']:.1f}, {figures['deletes_per_second']:.1f}",
                ],
                ["ACS calls/s as fraction of R", f"{figures['fraction_of_r']:.3f}"],
                ["registry rows read per stale identity", f"{figures['rows_per_stale']:.3f}"],
                ["peak RSS of the cleanup process (MB)", figures["peak_rss_mb"]],
                [
                    "CPU cores busy: Azurite / cleanup / local_azure",
                    " / ".join(f"{v:.2f}" for v in figures["cpu_cores"].values()),
                ],
                ["429s", figures["throttled_429"]],
            ],
        ),
        flush=True,
    )
    return {
        "label": label,
        "figures": figures,
        "summary": summary,
        "table_calls": child["table_calls"],
        "local_azure_operations": ops,
        "child_wall_seconds": wall,
        "series": series,
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if CHILD_FLAG in argv:
        return child_main(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cleanup", description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--stale", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=DEFAULT_RATE, help="R: revoke and delete limit per second each")
    parser.add_argument("--budget", type=float, default=240, help="time budget of the full-registry run (s)")
    parser.add_argument("--control-budget", type=float, default=60, help="time budget of the control run (s)")
    parser.add_argument(
        "--pace-check", type=int, default=1000, help="stale identities of the small first run (0: skip it)"
    )
    args = parser.parse_args(argv)
    machine = machine_info()
    pace = args.rate * PACE_FRACTION
    print(f"cleanup: {machine_line(machine)}", flush=True)
    limits = [f"revoke={args.rate * 30}/30", f"delete={args.rate * 30}/30"]
    local_azure_args = ["--latency-ms", str(LATENCY_MS)] + [x for limit in limits for x in ("--rate-limit", limit)]
    fresh = args.identities - args.stale
    with services("cleanup", local_azure_args) as stack:
        env = stack.app_environment(STALE_IDENTITY_DAYS=str(STALE_DAYS))
        table_name = env["REGISTRY_TABLE"]
        for name, value in stack.local_azure.client_environment().items():
            os.environ[name] = value
        phases: list[dict[str, Any]] = []
        if args.pace_check:
            small_env = {**env, "REGISTRY_TABLE": table_name + "pace"}
            print(f"seeding {args.pace_check:,} stale identities for the pacing check ...", flush=True)
            asyncio.run(seed_stale(stack, small_env["REGISTRY_TABLE"], args.pace_check))
            label = f"pacing check: registry of {args.pace_check:,} (all stale)"
            phases.append(run_phase(stack, small_env, label, pace, 120, args.rate, args.pace_check))
        print(f"seeding {args.stale:,} stale identities (ACS + registry) ...", flush=True)
        stale_seconds = asyncio.run(seed_stale(stack, table_name, args.stale))
        control = run_phase(
            stack, env, f"control: registry of {args.stale:,} (all stale)", pace, args.control_budget, args.rate,
            args.stale,
        )  # fmt: skip
        print(f"adding {fresh:,} fresh identities to the registry (Azurite stopped, its table database extended)")
        started = time.monotonic()
        stack.azurite.stop()
        fresh_ids = add_fresh_rows(
            stack.workdir / "azurite" / "__azurite_db_table__.json",
            table_name,
            stack.local_azure.settings.acs_resource_id,
            fresh,
        )
        stack.start_azurite_again()
        fresh_seconds = time.monotonic() - started
        env = {**env, "AzureWebJobsStorage": stack.azurite.connection_string}
        full = run_phase(
            stack, env, f"full: registry of {args.identities:,}", pace, args.budget, args.rate, args.identities
        )
        checks = asyncio.run(verify(stack, table_name, random.Random(6).sample(fresh_ids, 200)))
    print(f"checks: {checks}", flush=True)
    beyond = full["figures"]["rows_read"] - full["summary"]["stale"]
    print(
        f"The {fresh:,} fresh identities are registry rows only (never in ACS): the cleanup must not read or "
        f"touch them; rows read beyond the stale ones taken: {beyond}.",
        flush=True,
    )
    png = RESULTS_DIR / "cleanup.png"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    phases += [control, full]
    plot(phases, args.rate, png)
    path = write_results(
        "cleanup",
        {
            "machine": machine,
            "method": {
                "local_azure": {"latency_ms": LATENCY_MS, "rate_limits": limits},
                "R_per_second": args.rate,
                "pace_per_operation": pace,
                "pace_reason": "0.96 R: the app's default margin (16/s under ACS's 500 per 30 s)",
                "policy": {"stale_days": STALE_DAYS, "concurrency": 32},
                "stale": "in ACS and registry (1 in 5 admin-created, others user-owned with a mapping row)",
                "fresh": "registry rows only (identity + activity index), never in ACS, never touched; "
                "appended to Azurite's saved table database while it was stopped",
                "phases": "pacing check (small stale-only registry, own table), control (the 10,000 stale only), "
                "then the full registry (the control's table plus the fresh rows)",
                "run": "child process: build_services(Settings.from_env()) then runtime.cleanup().run()",
                "rows_read": "rows returned by query_entities and get_entity on the registry's table client",
                "calls_per_second": "local_azure's 204 counts for revoke and delete / the run's duration",
                "memory": "VmHWM of the child process (interpreter, imports, runtime and the run)",
            },
            "aims": {"fraction_of_r": AIM_RATE_FRACTION, "rows_per_stale": AIM_ROWS_PER_STALE},
            "phases": phases,
            "checks": checks,
            "seeding_seconds": {"stale": stale_seconds, "fresh": fresh_seconds},
            "plot": relative(png),
        },
    )
    print(f"wrote {relative(path)} and {relative(png)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
