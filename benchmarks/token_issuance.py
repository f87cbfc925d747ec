"""Benchmark 1 (and 3): `POST /api/token` through the devhost, in direct and worker mode, against the floor.

    python -m benchmarks.token_issuance [--rounds 4] [--round-seconds 3] [--hosts direct worker] [--latency azure]

Four paths, all ending in the same local_azure and Azurite, measured in the same run (token_paths.py):
- function: an aiohttp client -> the devhost in direct mode (Python 3.11, the app imported and called)
  -> local_azure;
- worker:   the same through a second devhost in worker mode: the app inside Microsoft's
  azure-functions-runtime on Python 3.13 (.venv313), every request an InvocationRequest over the
  worker protocol, as Azure runs it;
- direct:   `CommunicationIdentityClient.get_token` straight to local_azure, with managed identity;
- floor:    the direct call preceded by exactly the storage round trips the app makes per steady
  request (GET of the user's row, one etag-conditional MERGE), from a plain azure-data-tables client.
Both devhosts share one registry table (two instances of the app, as in Azure). Every request is for one
of `--users` distinct users whose identities exist (steady state: 200). Rounds rotate the modes
(F W D L, W D L F, ...) so drift on a noisy machine hits them alike; ratios are medians of per-round pairs.

`--latency azure` adds the latencies of one Azure region (benchmarks/azure_latency.py): local_azure holds
each ACS call, and the registry and the floor reach Azurite through local_azure.storage_proxy, which holds
each read and write; results go to results/token_issuance_latency.json instead.

Memory (benchmark 3): VmHWM (peak RSS) of each devhost, from /proc/<pid>/status after the last rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
from pathlib import Path
from typing import Any

from benchmarks.azure_latency import AZURE_ONE_REGION, LatencyProfile
from benchmarks.common import (
    PROJECT_ROOT,
    RESULTS_DIR,
    Services,
    cpu_seconds,
    loopback_url,
    machine_info,
    machine_line,
    proc_status,
    relative,
    services,
    write_results,
)
from benchmarks.token_paths import (
    MINUTES,
    SCOPES,
    DirectPath,
    FloorPath,
    FunctionPath,
    Round,
    Send,
    closed_loop,
    prepare_users,
)
from benchmarks.token_report import plot, report, summarise
from local_azure.storage_proxy import Delays, StorageProxyProcess

CONCURRENCY = (1, 8, 32, 128)
AIM_RATIO_TO_FLOOR = 0.95
AIM_RSS_MB = 200.0
# local_azure's default issue limit is ACS's (1,000 per 30 s); the benchmark measures our overhead, not
# throttling, so the stand-in's issue and create limits are lifted for this run.
LOCAL_AZURE_ARGS = ["--rate-limit", "issue=1000000000/30", "--rate-limit", "create=1000000000/30"]
WORKER_PYTHON = PROJECT_ROOT / ".venv313" / "bin" / "python"
HOST_MODES = {"direct": "function", "worker": "worker"}  # devhost --mode -> benchmark mode name


async def measure(
    stack: Services, hosts: dict[str, Any], floor_storage: str, pids: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    settings = stack.local_azure.settings
    functions = {mode: FunctionPath(loopback_url(host)) for mode, host in hosts.items()}
    direct = DirectPath(settings.acs_endpoint, settings.ca_cert_file)
    floor = FloorPath(direct, floor_storage)
    try:
        first = next(iter(functions.values()))
        users = await prepare_users(stack.local_azure, first, args.users)
        print(f"created {len(users)} identities through POST /api/token (201); measuring steady state", flush=True)
        for user in users[:1]:  # every other devhost answers 200 for the same users (one shared registry)
            for path in functions.values():
                if not await path.send(user):
                    raise RuntimeError("a devhost did not answer 200 for a known user")
        await floor.prepare(users)
        paths: dict[str, Send] = {mode: path.send for mode, path in functions.items()}
        paths |= {"direct": direct.send, "floor": floor.send}
        modes = [m for m in ("function", "worker", "direct", "floor") if m in paths and m in args.modes]
        rotations = itertools.cycle([modes[i:] + modes[:i] for i in range(len(modes))])
        rounds: list[Round] = []
        for concurrency in args.concurrency:
            for mode in modes:  # warm-up, not recorded: pools grow to this concurrency
                await closed_loop(mode, paths[mode], users, concurrency, args.warmup_seconds)
            for _, order in zip(range(args.rounds), rotations, strict=False):
                for mode in order:
                    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                    result = await closed_loop(mode, paths[mode], users, concurrency, args.round_seconds)
                    result.cpu_seconds = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
                    rounds.append(result)
                    print(f"  c={concurrency:<3} {mode:<8} {result.rps:8.1f} req/s  {result.summary()}", flush=True)
        memory = {mode: proc_status(host.process.pid) for mode, host in hosts.items()}
    finally:
        for path in functions.values():
            await path.close()
        await floor.close()
        await direct.close()
    return {"rounds": rounds, "memory": memory, "modes": modes}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.token_issuance", description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--rounds", type=int, default=4, help="rounds per mode and concurrency (rotating)")
    parser.add_argument("--round-seconds", type=float, default=3.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument(
        "--hosts", nargs="+", choices=list(HOST_MODES), default=list(HOST_MODES),
        help="devhost modes to run side by side (worker needs .venv313)",
    )  # fmt: skip
    parser.add_argument(
        "--modes", nargs="+", choices=["function", "worker", "direct", "floor"],
        default=["function", "worker", "direct", "floor"], help="paths to measure (for profiling one)",
    )  # fmt: skip
    parser.add_argument("--latency", choices=["none", "azure"], default="none", help="inject one region's latencies")
    parser.add_argument("--users", type=int, default=256, help="distinct users (each its own bearer and identity)")
    return parser.parse_args(argv)


def start_hosts(stack: Services, env: dict[str, str], wanted: list[str]) -> dict[str, Any]:
    hosts: dict[str, Any] = {}
    for host_mode in wanted:
        python = str(WORKER_PYTHON) if host_mode == "worker" else None
        if python is not None and not Path(python).exists():
            raise SystemExit(f"{python} is missing: worker mode needs the Python 3.13 venv (make install)")
        hosts[HOST_MODES[host_mode]] = stack.start_devhost(
            env, python=python, mode=host_mode, name=f"devhost-{host_mode}"
        )
    return hosts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile: LatencyProfile | None = AZURE_ONE_REGION if args.latency == "azure" else None
    name = "token_issuance_latency" if profile else "token_issuance"
    machine = machine_info()
    print(f"{name}: {machine_line(machine)}", flush=True)
    local_azure_args = LOCAL_AZURE_ARGS + (["--latency-ms", str(profile.acs_ms)] if profile else [])
    with services("token", local_azure_args) as stack:
        storage = stack.azurite.connection_string
        proxy: StorageProxyProcess | None = None
        if profile is not None:
            delays = Delays(profile.storage_read_ms, profile.storage_write_ms)
            target = f"http://127.0.0.1:{stack.azurite.table_port}"
            proxy = StorageProxyProcess.start(target, delays, log_file=stack.workdir / "storage_proxy.log")
            storage = proxy.connection_string(storage)
        try:
            env = stack.app_environment(TOKEN_RATE_PER_MINUTE="100000", AzureWebJobsStorage=storage)
            hosts = start_hosts(stack, env, args.hosts)
            for key, value in stack.local_azure.client_environment().items():
                os.environ[key] = value  # the direct client's DefaultAzureCredential reads IDENTITY_*
            pids = {"client": os.getpid(), "local_azure": stack.local_azure.process.pid}
            pids |= {f"devhost_{mode}": host.process.pid for mode, host in hosts.items()}
            pids |= {"azurite": stack.azurite.process.pid} | ({"storage_proxy": proxy.process.pid} if proxy else {})
            measured = asyncio.run(measure(stack, hosts, storage, pids, args))
            storage_counts = proxy.counts() if proxy else None
        finally:
            if proxy is not None:
                proxy.stop()
    rows = summarise(measured["rounds"], args.concurrency, measured["modes"], list(pids))
    memory = {
        mode: {"peak_rss_mb": status["VmHWM"] / 1024 if "VmHWM" in status else None, "aim_mb": AIM_RSS_MB}
        for mode, status in measured["memory"].items()
    }
    print(report(rows, memory, AIM_RATIO_TO_FLOOR), flush=True)
    png = RESULTS_DIR / f"{name}.png"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    plot(rows, measured["modes"], memory, png, profile)
    path = write_results(
        name,
        {
            "machine": machine,
            "method": {
                "function_path": "aiohttp client -> devhost --mode direct (Python 3.11, real function_app) "
                "-> local_azure",
                "worker_path": "aiohttp client -> devhost --mode worker (azure-functions-runtime, Python 3.13, worker "
                "protocol) -> local_azure; same registry table as the function path",
                "direct_path": "azure.communication.identity.aio get_token -> local_azure, managed identity",
                "floor_path": "GET + etag-conditional MERGE of one Table entity per request (azure-data-tables aio, "
                "same storage endpoint), then the direct get_token",
                "users": args.users,
                "scopes": SCOPES,
                "expires_in_minutes": MINUTES,
                "rounds_per_mode": args.rounds,
                "round_seconds": args.round_seconds,
                "warmup_seconds": args.warmup_seconds,
                "order": "rotating: F W D L, W D L F, D L F W, L F W D, ...",
                "ratios": "median over same-rotation round pairs of rps_a / rps_b",
                "local_azure_args": local_azure_args,
                "injected_latency": profile.to_json() if profile else None,
            },
            "aims": {"ratio_to_floor": AIM_RATIO_TO_FLOOR, "peak_rss_mb": AIM_RSS_MB},
            "results": rows,
            "memory": memory,
            "storage_proxy_counts": storage_counts,
            "plot": relative(png),
        },
    )
    print(f"wrote {relative(path)} and {relative(png)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
