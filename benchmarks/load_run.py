"""Load run (issue 23 item 5): many users on three app instances, against ACS's default limits.

    python -m benchmarks.load_run [--users 10000] [--rates 20 50 100] [--phase-seconds 30]

Three devhosts in direct mode (three instances of the app: one registry table, one ACS resource) on one
Azurite and one local_azure whose ACS limits are the defaults (issue 1,000 / 30 s), so throttling shows.
- Setup (not measured): a bearer per user from local_azure's issuer, then each user's identity created
  through the app (201), with local_azure's create limit lifted meanwhile (10,000 creates at 1,000 / 30 s
  would take 5 minutes); then the limits go back to ACS's defaults, which also empties their windows.
- Measured: open-loop arrivals (sent on schedule, whatever the answers take) at each rate of `--rates`
  for `--phase-seconds`, spread over the three hosts in turn (a load balancer). Each request is one
  user's refresh, users taken in a shuffled cycle, so a user refreshes every users / rate seconds
  (10,000 / 50 = 200 s instead of 50 minutes); a phase lasts one ACS window (30 s). Beside them,
  `--greedy` users each send 2 requests/s, four times the per-user limit (TOKEN_RATE_PER_MINUTE = 30),
  so our own 429 shows next to ACS's.
- Reported: p50/p99 of the 200s, 429s by problem `code` (rate_limited: our per-user limit;
  upstream_throttled: ACS's), 503s, per phase; the ACS issue calls local_azure admitted and throttled
  (its /_local/stats), and the admitted ones as a share of the issue budget over the phase.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.common import (
    RESULTS_DIR,
    Services,
    loopback_url,
    machine_info,
    machine_line,
    percentile,
    relative,
    services,
    table,
    write_results,
)
from benchmarks.load_plot import plot

ISSUE_LIMIT, WINDOW = 1000, 30  # ACS's default issue limit per resource (local_azure/acs/faults.py)
BUDGET_PER_SECOND = ISSUE_LIMIT / WINDOW
HOSTS = 3
GREEDY_RATE = 2.0  # requests/s per greedy user: 4 x TOKEN_RATE_PER_MINUTE=30
BODY = json.dumps({"scopes": ["voip"], "expiresInMinutes": 60}).encode()


@dataclass
class Outcome:
    sent_at: float  # seconds since the measured phase began
    phase: int
    status: int
    code: str  # the problem's `code` for an error; "" for 200
    ms: float
    greedy: bool


@dataclass
class Phase:
    rate: float
    started: float = 0.0
    ended: float = 0.0
    acs: dict[str, int] = field(default_factory=dict)  # issue calls by ACS status in this phase


async def mint_bearers(stack: Services, count: int, prefix: str) -> list[str]:
    """One bearer per user from local_azure's issuer (an HTTP call each, 16 at a time)."""
    settings = stack.local_azure.settings
    semaphore = asyncio.Semaphore(16)
    connector = aiohttp.TCPConnector(ssl=stack.local_azure.ssl_context, limit=16)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def mint(i: int) -> str:
            key = f"{prefix}-{i:05d}"
            async with semaphore, session.post(settings.issuer_mint_url, json={"sub": key, "oid": key}) as answer:
                answer.raise_for_status()
                return str((await answer.json())["access_token"])

        return await asyncio.gather(*(mint(i) for i in range(count)))


class Client:
    """One keep-alive pool per host; requests go to the hosts in turn."""

    def __init__(self, urls: list[str]) -> None:
        self._sessions = [
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024), timeout=aiohttp.ClientTimeout(total=60))
            for _ in urls
        ]
        self._targets = itertools.cycle(list(zip(self._sessions, [u + "/api/token" for u in urls], strict=True)))

    async def send(self, bearer: str) -> tuple[int, str, float]:
        session, url = next(self._targets)
        headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
        started = time.perf_counter()
        try:
            async with session.post(url, data=BODY, headers=headers) as answer:
                payload = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError):
            return 0, "client_error", (time.perf_counter() - started) * 1000
        ms = (time.perf_counter() - started) * 1000
        code = ""
        if status >= 400:
            try:
                code = str(json.loads(payload).get("code", ""))
            except ValueError:
                code = "not_json"
        return status, code, ms

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()


async def create_identities(client: Client, bearers: list[str], concurrency: int = 96) -> None:
    semaphore = asyncio.Semaphore(concurrency)

    async def create(bearer: str) -> None:
        async with semaphore:
            status, code, _ = await client.send(bearer)
            if status != 201:
                raise RuntimeError(f"setup: first call answered {status} {code}, not 201")

    await asyncio.gather(*(create(b) for b in bearers))


async def open_loop(
    client: Client, bearers: list[str], greedy: list[str], phases: list[Phase], seconds: float, stack: Services
) -> list[Outcome]:
    """Send on schedule at each phase's rate (plus the greedy users); record every answer."""
    outcomes: list[Outcome] = []
    tasks: set[asyncio.Task[None]] = set()
    users = itertools.cycle(random.Random(23).sample(bearers, len(bearers)))
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def one(bearer: str, phase: int, is_greedy: bool) -> None:
        sent = loop.time() - t0
        status, code, ms = await client.send(bearer)
        outcomes.append(Outcome(sent, phase, status, code, ms, is_greedy))

    def fire(bearer: str, phase: int, is_greedy: bool) -> None:
        task = asyncio.create_task(one(bearer, phase, is_greedy))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    before = _issue_counts(stack)
    for index, phase in enumerate(phases):
        phase.started = loop.time() - t0
        events = _schedule(phase.rate, seconds, len(greedy))
        for offset, who in events:
            delay = phase.started + offset - (loop.time() - t0)
            if delay > 0:
                await asyncio.sleep(delay)
            if who < 0:
                fire(next(users), index, False)
            else:
                fire(greedy[who], index, True)
        await asyncio.sleep(max(0.0, phase.started + seconds - (loop.time() - t0)))
        phase.ended = loop.time() - t0
        after = _issue_counts(stack)  # answers still in flight count in the next phase
        phase.acs = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
        before = after
    if tasks:
        await asyncio.wait(tasks)
    return outcomes


def _schedule(rate: float, seconds: float, greedy: int) -> list[tuple[float, int]]:
    """(offset, who) for one phase: evenly spaced users' refreshes (who = -1) and the greedy users' requests."""
    events = [(i / rate, -1) for i in range(int(rate * seconds))]
    for g in range(greedy):
        start = g / max(greedy, 1) / GREEDY_RATE
        events += [(start + i / GREEDY_RATE, g) for i in range(int(GREEDY_RATE * seconds))]
    return sorted(events)


def _issue_counts(stack: Services) -> dict[str, int]:
    return {k: int(v) for k, v in stack.local_azure.stats()["operations"].get("issue", {}).items()}


def summarise(outcomes: list[Outcome], phases: list[Phase]) -> list[dict[str, Any]]:
    rows = []
    for index, phase in enumerate(phases):
        mine = [o for o in outcomes if o.phase == index]
        users = [o for o in mine if not o.greedy]
        ok_ms = [o.ms for o in users if o.status == 200]
        codes = Counter(f"{o.status} {o.code}".strip() for o in mine)
        duration = phase.ended - phase.started
        admitted = phase.acs.get("200", 0)
        rows.append(
            {
                "offered_rps": phase.rate,
                "offered_share_of_budget": phase.rate / BUDGET_PER_SECOND,
                "seconds": duration,
                "user_requests": len(users),
                "greedy_requests": len(mine) - len(users),
                "ok": len(ok_ms),
                "p50_ms": percentile(ok_ms, 50),
                "p99_ms": percentile(ok_ms, 99),
                "upstream_throttled": sum(1 for o in mine if o.code == "upstream_throttled"),
                "rate_limited": sum(1 for o in mine if o.code == "rate_limited"),
                "rate_limited_greedy": sum(1 for o in mine if o.code == "rate_limited" and o.greedy),
                "status_503": sum(1 for o in mine if o.status == 503),
                "other": {k: v for k, v in codes.items() if not k.startswith(("200", "429", "503"))},
                "acs_issue_admitted": admitted,
                "acs_issue_throttled": phase.acs.get("429", 0),
                "acs_budget_share": admitted / (BUDGET_PER_SECOND * duration) if duration else 0.0,
            }
        )
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    headers = [
        "offered req/s", "x budget", "user reqs", "200", "p50 ms", "p99 ms", "429 upstream_throttled",
        "429 rate_limited (greedy)", "503", "ACS issue 200 / 429", "ACS budget used",
    ]  # fmt: skip
    body = [
        [
            f"{r['offered_rps']:g}", f"{r['offered_share_of_budget']:.2f}", r["user_requests"], r["ok"],
            r["p50_ms"], r["p99_ms"], r["upstream_throttled"], f"{r['rate_limited']} ({r['rate_limited_greedy']})",
            r["status_503"], f"{r['acs_issue_admitted']} / {r['acs_issue_throttled']}", f"{r['acs_budget_share']:.2f}",
        ]
        for r in rows
    ]  # fmt: skip
    return table(headers, body)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_run", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10000)
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 50, 100], help="offered req/s per phase")
    parser.add_argument("--phase-seconds", type=float, default=30.0)
    parser.add_argument("--greedy", type=int, default=4, help="users sending 2 req/s (4x the per-user limit)")
    return parser.parse_args(argv)


async def run(stack: Services, urls: list[str], args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    bearers = await mint_bearers(stack, args.users, "load-user")
    greedy = await mint_bearers(stack, args.greedy, "load-greedy")
    minted = time.monotonic()
    client = Client(urls)
    try:
        stack.local_azure.set_faults(rate_limits={"create": {"limit": 10**9}})
        await create_identities(client, bearers + greedy)
        created = time.monotonic()
        defaults = {
            "create": {"limit": 1000, "window_seconds": 30},
            "issue": {"limit": ISSUE_LIMIT, "window_seconds": WINDOW},
        }
        stack.local_azure.set_faults(rate_limits=defaults)  # also empties the windows
        stack.local_azure.reset_stats()
        print(f"setup: {len(bearers)} bearers in {minted - started:.0f} s, identities in {created - minted:.0f} s",
              flush=True)  # fmt: skip
        phases = [Phase(rate) for rate in args.rates]
        outcomes = await open_loop(client, bearers, greedy, phases, args.phase_seconds, stack)
    finally:
        await client.close()
    return {
        "outcomes": outcomes,
        "phases": phases,
        "setup_seconds": {"mint": minted - started, "create": created - minted},
        "acs_stats": stack.local_azure.stats(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    print(f"load_run: {machine_line(machine)}", flush=True)
    with services("load") as stack:  # local_azure's defaults: ACS's limits
        env = stack.app_environment()  # TOKEN_RATE_PER_MINUTE: the app's default (30)
        hosts = [stack.start_devhost(env, mode="direct", name=f"devhost-{i}") for i in range(HOSTS)]
        measured = asyncio.run(run(stack, [loopback_url(h) for h in hosts], args))
    rows = summarise(measured["outcomes"], measured["phases"])
    print(report(rows), flush=True)
    png = RESULTS_DIR / "load_run.png"
    plot(measured["outcomes"], measured["phases"], BUDGET_PER_SECOND, png)
    path = write_results(
        "load_run",
        {
            "machine": machine,
            "method": {
                "hosts": f"{HOSTS} devhosts, direct mode, one registry table",
                "acs_limits": "local_azure defaults (ACS's): issue 1000/30 s, create 1000/30 s",
                "users": args.users,
                "greedy_users": args.greedy,
                "greedy_rate_per_user": GREEDY_RATE,
                "token_rate_per_minute": 30,
                "arrivals": "open loop, evenly spaced at each phase's rate, hosts in turn, users in a shuffled cycle",
                "phase_seconds": args.phase_seconds,
                "refresh_interval_seconds": {f"{r:g}": args.users / r for r in args.rates},
                "setup_seconds": measured["setup_seconds"],
            },
            "phases": rows,
            "acs_stats": measured["acs_stats"],
            "plot": relative(png),
        },
    )
    print(f"wrote {relative(path)} and {relative(png)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
