"""Benchmark 1 (and 3): `POST /api/token` through the devhost against direct SDK calls, side by side.

    python -m benchmarks.token_issuance [--round-seconds 3] [--rounds 4] [--users 256]

All three paths end in the same local_azure, in the same run:
- function: an aiohttp client -> the devhost (real function_app: JWT validation, rate limiter, identity
  service, ACS gateway) over loopback HTTP -> local_azure;
- direct:   `azure.communication.identity.aio.CommunicationIdentityClient.get_token`, authenticated like
  the app (managed identity through DefaultAzureCredential and local_azure's MI endpoint).
- floor:    the floor of any correct multi-instance design: the same direct `get_token`, preceded by
  exactly the storage round trips the app makes per request (GET of the user's row, then one
  etag-conditional MERGE of it), issued by a plain `azure-data-tables` aio client to the same Azurite.
Every request is for one of `--users` distinct users (each with its own minted bearer), whose identities
are created first, so the steady state is measured: an issue for a known user. Rounds of the three modes
rotate (F D L, D L F, L F D, ...) so drift on a noisy machine hits them alike. Closed loop: `c` workers, each
sends its next request when the previous one answered.

Memory (benchmark 3): VmHWM (peak RSS) of the devhost process, read from /proc/<pid>/status after the
concurrency-128 rounds, the last ones run.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp

from benchmarks.common import (
    RESULTS_DIR,
    Services,
    cpu_seconds,
    machine_info,
    machine_line,
    median,
    percentile,
    proc_status,
    pyplot,
    relative,
    services,
    table,
    write_results,
)

CONCURRENCY = (1, 8, 32, 128)
SCOPES = ["voip"]
MINUTES = 60
AIM_RATIO = 0.85
AIM_P99_OVERHEAD_MS = 5.0
AIM_RSS_MB = 200.0
# local_azure's default issue limit is ACS's (1,000 per 30 s); the benchmark measures our overhead, not
# throttling, so the stand-in's issue and create limits are lifted for this run.
LOCAL_AZURE_ARGS = ["--rate-limit", "issue=1000000000/30", "--rate-limit", "create=1000000000/30"]


@dataclass
class User:
    key: str
    bearer: str
    acs_id: str = ""


@dataclass
class Round:
    mode: str
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


Send = Callable[[User], Awaitable[bool]]


async def closed_loop(mode: str, send: Send, users: list[User], concurrency: int, seconds: float) -> Round:
    """`concurrency` workers issue requests back to back for `seconds`; each request for the next user."""
    result = Round(mode, concurrency, seconds)
    picker = itertools.cycle(users)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            user = next(picker)
            started = time.perf_counter()
            try:
                ok = await send(user)
            except Exception:
                ok = False
            if ok:
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                result.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started  # includes the tail of the last requests
    return result


class FunctionPath:
    """HTTP client for the devhost: one keep-alive pool, as a frontend fleet behind a gateway would reuse."""

    def __init__(self, base_url: str) -> None:
        self._url = base_url + "/api/token"
        self._body = json.dumps({"scopes": SCOPES, "expiresInMinutes": MINUTES}).encode()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(CONCURRENCY) + 8),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def send(self, user: User) -> bool:
        headers = {"Authorization": f"Bearer {user.bearer}", "Content-Type": "application/json"}
        async with self._session.post(self._url, data=self._body, headers=headers) as response:
            payload = await response.read()
            if response.status == 201 and not user.acs_id:
                user.acs_id = json.loads(payload)["communicationUserId"]
            return response.status in (200, 201)

    async def close(self) -> None:
        await self._session.close()


class DirectPath:
    """The SDK straight to local_azure, with managed identity like the app.

    Its aiohttp session is configured as the app's clients are (token_service.platform.transport): local_azure's
    CA through one SSL context, so connections are kept alive, and proxy settings read from the
    environment only if a proxy variable is set.
    """

    def __init__(self, endpoint: str, ca_file: str) -> None:
        from azure.communication.identity.aio import CommunicationIdentityClient
        from azure.core.pipeline.transport import AioHttpTransport
        from azure.identity.aio import DefaultAzureCredential

        from token_service.platform.transport import proxy_configured

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=ca_file)),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=proxy_configured(),  # the app's rule: per-request proxy lookups only if a proxy is set
        )
        self._credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        self._client = CommunicationIdentityClient(
            endpoint, self._credential, transport=AioHttpTransport(session=self._session, session_owner=False)
        )

    async def send(self, user: User) -> bool:
        from azure.communication.identity import CommunicationUserIdentifier

        token = await self._client.get_token(
            CommunicationUserIdentifier(user.acs_id), SCOPES, token_expires_in=timedelta(minutes=MINUTES)
        )
        return bool(token.token)

    async def close(self) -> None:
        await self._client.close()
        await self._credential.close()
        await self._session.close()


class FloorPath:
    """The direct SDK call plus the app's per-request storage round trips, from a plain client."""

    TABLE = "benchfloor"

    def __init__(self, direct: DirectPath, connection_string: str) -> None:
        from azure.data.tables.aio import TableServiceClient

        self._direct = direct
        self._service = TableServiceClient.from_connection_string(connection_string)
        self._table = self._service.get_table_client(self.TABLE)

    async def prepare(self, users: list[User]) -> None:
        await self._service.create_table_if_not_exists(self.TABLE)
        for user in users:
            await self._table.upsert_entity({"PartitionKey": user.key, "RowKey": user.key, "count": 0})

    async def send(self, user: User) -> bool:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        entity = await self._table.get_entity(user.key, user.key)
        patch = {"PartitionKey": user.key, "RowKey": user.key, "count": int(entity["count"]) + 1}
        await self._table.update_entity(
            patch, mode=UpdateMode.MERGE, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
        )
        return await self._direct.send(user)

    async def close(self) -> None:
        await self._table.close()
        await self._service.close()


async def prepare_users(stack: Services, function: FunctionPath, count: int) -> list[User]:
    """Mint a bearer per user and create each user's identity through the app (201), concurrently."""
    loop = asyncio.get_running_loop()
    keys = [f"bench-user-{i:04d}" for i in range(count)]
    bearers = await asyncio.gather(
        *(loop.run_in_executor(None, functools.partial(stack.local_azure.mint_user_token, k, oid=k)) for k in keys)
    )
    users = [User(key, bearer) for key, bearer in zip(keys, bearers, strict=True)]
    semaphore = asyncio.Semaphore(16)

    async def create(user: User) -> None:
        async with semaphore:
            if not await function.send(user) or not user.acs_id:
                raise RuntimeError(f"could not create the identity of {user.key}")

    await asyncio.gather(*(create(user) for user in users))
    return users


async def measure(stack: Services, args: argparse.Namespace) -> dict[str, Any]:
    settings = stack.local_azure.settings
    function = FunctionPath(stack.base_url)
    direct = DirectPath(settings.acs_endpoint, settings.ca_cert_file)
    floor = FloorPath(direct, stack.azurite.connection_string)
    assert stack.host is not None
    host_pid = stack.host.process.pid
    pids = {
        "client": os.getpid(),
        "devhost": host_pid,
        "local_azure": stack.local_azure.process.pid,
        "azurite": stack.azurite.process.pid,
    }
    try:
        users = await prepare_users(stack, function, args.users)
        print(f"created {len(users)} identities through POST /api/token (201); measuring steady state", flush=True)
        await floor.prepare(users)
        paths: dict[str, Send] = {"function": function.send, "direct": direct.send, "floor": floor.send}
        rounds: list[Round] = []
        memory_before_128: dict[str, int] = {}
        for concurrency in args.concurrency:
            if concurrency == 128:
                memory_before_128 = proc_status(host_pid)
            for mode in args.modes:  # warm-up, not recorded: pools grow to this concurrency
                await closed_loop(mode, paths[mode], users, concurrency, args.warmup_seconds)
            order = itertools.cycle(
                [("function", "direct", "floor"), ("direct", "floor", "function"), ("floor", "function", "direct")]
            )
            for _, pair in zip(range(args.rounds), order, strict=False):
                for mode in (m for m in pair if m in args.modes):
                    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                    result = await closed_loop(mode, paths[mode], users, concurrency, args.round_seconds)
                    result.cpu_seconds = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
                    rounds.append(result)
                    print(
                        f"  c={concurrency:<3} {mode:<8} {result.rps:8.1f} req/s  "
                        f"p50 {percentile(result.latencies_ms, 50):6.2f} ms  "
                        f"p99 {percentile(result.latencies_ms, 99):6.2f} ms  errors {result.errors}",
                        flush=True,
                    )
        memory_after = proc_status(host_pid)
    finally:
        await function.close()
        await floor.close()
        await direct.close()
    return {"rounds": rounds, "memory_before_128": memory_before_128, "memory_after": memory_after}


def summarise(rounds: list[Round], concurrency_levels: list[int]) -> list[dict[str, Any]]:
    rows = []
    for concurrency in concurrency_levels:
        by_mode = {
            mode: [r for r in rounds if r.concurrency == concurrency and r.mode == mode]
            for mode in ("function", "direct", "floor")
        }
        stats: dict[str, dict[str, Any]] = {}
        for mode, mode_rounds in by_mode.items():
            latencies = [x for r in mode_rounds for x in r.latencies_ms]
            stats[mode] = {
                "rps_median": median([r.rps for r in mode_rounds]),
                "rps_per_round": [round(r.rps, 1) for r in mode_rounds],
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "requests": len(latencies),
                "errors": sum(r.errors for r in mode_rounds),
                "cpu_ms_per_request": {
                    name: round(sum(r.cpu_seconds.get(name, 0) for r in mode_rounds) * 1000 / max(len(latencies), 1), 3)
                    for name in ("client", "devhost", "local_azure", "azurite")
                },
            }
        # Ratio per adjacent pair (function round i vs direct round i), then the median of those.
        pair_ratios = [f.rps / d.rps for f, d in zip(by_mode["function"], by_mode["direct"], strict=True) if d.rps]
        floor_ratios = [f.rps / d.rps for f, d in zip(by_mode["function"], by_mode["floor"], strict=False) if d.rps]
        rows.append(
            {
                "concurrency": concurrency,
                "function": stats["function"],
                "direct": stats["direct"],
                "floor": stats["floor"],
                "ratio_rps_median_of_pairs": median(pair_ratios),
                "ratio_to_floor_median_of_pairs": median(floor_ratios) if floor_ratios else None,
                "floor_pair_ratios": [round(x, 3) for x in floor_ratios],
                "ratio_rps_of_medians": stats["function"]["rps_median"] / stats["direct"]["rps_median"],
                "pair_ratios": [round(x, 3) for x in pair_ratios],
                "p50_overhead_ms": stats["function"]["p50_ms"] - stats["direct"]["p50_ms"],
                "p99_overhead_ms": stats["function"]["p99_ms"] - stats["direct"]["p99_ms"],
            }
        )
    return rows


def plot(rows: list[dict[str, Any]], rss_mb: float | None, path: Any) -> None:
    plt = pyplot()
    levels = [str(r["concurrency"]) for r in rows]
    x = list(range(len(levels)))
    fig, (ax_rps, ax_lat) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.38
    ax_rps.bar([i - width / 2 for i in x], [r["function"]["rps_median"] for r in rows], width, label="function")
    ax_rps.bar([i + width / 2 for i in x], [r["direct"]["rps_median"] for r in rows], width, label="direct SDK")
    for i, r in enumerate(rows):
        top = max(r["function"]["rps_median"], r["direct"]["rps_median"])
        ax_rps.annotate(f"{r['ratio_rps_median_of_pairs']:.2f}x", (i, top), ha="center", va="bottom", fontsize=9)
    ax_rps.set_xticks(x, levels)
    ax_rps.set_xlabel("concurrency")
    ax_rps.set_ylabel("requests / s (median of rounds)")
    ax_rps.set_title("Throughput (label: function / direct)")
    ax_rps.legend()
    for mode, style in (("function", "-o"), ("direct", "--o")):
        ax_lat.plot(levels, [r[mode]["p50_ms"] for r in rows], style, label=f"{mode} p50")
        ax_lat.plot(levels, [r[mode]["p99_ms"] for r in rows], style, label=f"{mode} p99", alpha=0.6)
    ax_lat.set_yscale("log")
    ax_lat.set_xlabel("concurrency")
    ax_lat.set_ylabel("latency ms (log)")
    title = "Latency"
    if rss_mb is not None:
        title += f" — devhost peak RSS {rss_mb:.0f} MB"
    ax_lat.set_title(title)
    ax_lat.legend(fontsize=8)
    fig.suptitle("POST /api/token via devhost vs direct SDK get_token (same local_azure, same run)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CPU_HEADERS = [
    *("c", "fn client", "fn devhost", "fn local_azure", "fn total"),
    *("dir client", "dir local_azure", "dir total"),
]


def report(rows: list[dict[str, Any]], memory: dict[str, Any]) -> str:
    lines = [
        table(
            [
                *("c", "fn req/s", "direct req/s", "floor req/s", "ratio", "fn/floor", "fn p50", "dir p50"),
                *("fn p99", "dir p99", "p99 +ms", "errors"),
            ],
            [
                [
                    r["concurrency"],
                    r["function"]["rps_median"],
                    r["direct"]["rps_median"],
                    r["floor"]["rps_median"],
                    f"{r['ratio_rps_median_of_pairs']:.3f}",
                    f"{r['ratio_to_floor_median_of_pairs'] or 0:.3f}",
                    r["function"]["p50_ms"],
                    r["direct"]["p50_ms"],
                    r["function"]["p99_ms"],
                    r["direct"]["p99_ms"],
                    r["p99_overhead_ms"],
                    r["function"]["errors"] + r["direct"]["errors"],
                ]
                for r in rows
            ],
        )
    ]
    lines.append("CPU ms per request, by process (function path | direct path):")
    lines.append(
        table(
            CPU_HEADERS,
            [
                [
                    r["concurrency"],
                    r["function"]["cpu_ms_per_request"]["client"],
                    r["function"]["cpu_ms_per_request"]["devhost"],
                    r["function"]["cpu_ms_per_request"]["local_azure"],
                    sum(r["function"]["cpu_ms_per_request"].values()),
                    r["direct"]["cpu_ms_per_request"]["client"],
                    r["direct"]["cpu_ms_per_request"]["local_azure"],
                    sum(r["direct"]["cpu_ms_per_request"].values()),
                ]
                for r in rows
            ],
        )
    )
    ratio_ok = all(r["ratio_rps_median_of_pairs"] >= AIM_RATIO for r in rows)
    p99_ok = all(r["p99_overhead_ms"] <= AIM_P99_OVERHEAD_MS for r in rows)
    lines.append(
        f"aim throughput >= {AIM_RATIO} of direct at every concurrency: {'met' if ratio_ok else 'MISSED'}; "
        f"p99 overhead <= {AIM_P99_OVERHEAD_MS} ms: {'met' if p99_ok else 'MISSED'}"
    )
    if memory.get("peak_rss_mb") is not None:
        lines.append(
            f"devhost peak RSS (VmHWM) after the c=128 rounds: {memory['peak_rss_mb']:.1f} MB "
            f"(aim <= {AIM_RSS_MB:.0f} MB: {'met' if memory['peak_rss_mb'] <= AIM_RSS_MB else 'MISSED'})"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.token_issuance", description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--rounds", type=int, default=4, help="rounds per mode and concurrency (alternating)")
    parser.add_argument("--round-seconds", type=float, default=3.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=["function", "direct", "floor"],
        default=["function", "direct", "floor"],
        help="for profiling",
    )
    parser.add_argument("--users", type=int, default=256, help="distinct users (each its own bearer and identity)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    print(f"token issuance: {machine_line(machine)}", flush=True)
    with services("token", LOCAL_AZURE_ARGS) as stack:
        env = stack.app_environment(TOKEN_RATE_PER_MINUTE="100000")
        host = stack.start_devhost(env)
        for name, value in stack.local_azure.client_environment().items():
            os.environ[name] = value  # the direct client's DefaultAzureCredential reads IDENTITY_*
        measured = asyncio.run(measure(stack, args))
        acs_stats = stack.local_azure.stats()
        host_pid = host.process.pid
    rounds: list[Round] = measured["rounds"]
    rows = summarise(rounds, args.concurrency)
    after = measured["memory_after"]
    memory: dict[str, Any] = {
        "process": "devhost (python -m devhost) serving function_app",
        "pid": host_pid,
        "peak_rss_mb": after["VmHWM"] / 1024 if "VmHWM" in after else None,
        "rss_before_c128_mb": measured["memory_before_128"].get("VmRSS", 0) / 1024 or None,
        "rss_after_mb": after.get("VmRSS", 0) / 1024 or None,
        "aim_mb": AIM_RSS_MB,
    }
    print(report(rows, memory), flush=True)
    png = RESULTS_DIR / "token_issuance.png"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    plot(rows, memory["peak_rss_mb"], png)
    path = write_results(
        "token_issuance",
        {
            "machine": machine,
            "method": {
                "function_path": "aiohttp client -> devhost (real function_app) -> local_azure, loopback HTTP",
                "direct_path": "azure.communication.identity.aio get_token -> local_azure",
                "direct_auth": "managed identity (DefaultAzureCredential -> local_azure MI endpoint), like the app",
                "users": args.users,
                "scopes": SCOPES,
                "expires_in_minutes": MINUTES,
                "rounds_per_mode": args.rounds,
                "round_seconds": args.round_seconds,
                "warmup_seconds": args.warmup_seconds,
                "floor_path": "GET + etag-conditional MERGE of one Table entity per request (azure-data-tables aio, "
                "same Azurite), then the direct get_token: the storage the app adds per request, from a plain client",
                "order": "rotating per triple: F D L, D L F, L F D, ...",
                "ratio": "median over adjacent (function, direct) round pairs of rps_f / rps_d",
                "ratio_to_floor": "median over adjacent (function, floor) round pairs of rps_f / rps_floor",
                "local_azure_args": LOCAL_AZURE_ARGS,
            },
            "aims": {"ratio": AIM_RATIO, "p99_overhead_ms": AIM_P99_OVERHEAD_MS, "peak_rss_mb": AIM_RSS_MB},
            "results": rows,
            "memory": memory,
            "local_azure_stats": acs_stats.get("totals"),
            "plot": relative(png),
        },
    )
    print(f"wrote {relative(path)} and {relative(png)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
