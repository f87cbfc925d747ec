"""Three cleanup runs at once on one Azurite and one local_azure: the timer through the host API of two
devhost processes, plus the CLI. One run works, the two others report the holder and end cleanly, ACS
sees one run's calls, and a user's revoke during the run is not throttled.

local_azure's revoke and delete limits are ACS's (500 per 30 s) scaled down ten times in time (50 per
3 s), so the default pace (10/s: 30 per 3 s) leaves 40% to users, and three uncoordinated runs
(90 per 3 s) would be throttled.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests.devhost.real_app import PROJECT_ROOT, RealAppHost, start_real_app
from token_service.registry import LEASE_KEY, IdentityState
from token_service.services import build_services
from token_service.settings import Settings

STALE = 100  # 10 s of work at 10/s: the three runs overlap however slowly the CLI starts
EXECUTED = "Executed 'Functions.cleanup_stale_identities' ("
REPAIRED = "Executed 'Functions.repair_pending_deletions' ("


def call(url: str, method: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, headers=headers, data=body)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture(scope="module")
def two_hosts(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path, local_azure: LocalAzureProcess,
    azurite: AzuriteProcess, app_environment: dict[str, str],
) -> Iterator[tuple[RealAppHost, RealAppHost]]:  # fmt: skip
    """Two devhost processes on one registry table (one Azurite, one local_azure), for this module."""
    table = "lease" + uuid.uuid4().hex[:10]
    tmp_path = tmp_path_factory.mktemp("lease_hosts")
    hosts: list[RealAppHost] = []
    try:
        for name in ("lease-a", "lease-b"):
            (tmp_path / name).mkdir()
            hosts.append(start_real_app(tmp_path / name, artifacts_dir, local_azure, azurite, name,
                                        {"REGISTRY_TABLE": table}))  # fmt: skip
        yield hosts[0], hosts[1]
    finally:
        for host in hosts:
            host.host.stop()


async def populate(settings: Settings, count: int) -> list[str]:
    """Identities last used 60 days ago, made by the app's own code with its clock set back."""
    old = datetime.now(UTC) - timedelta(days=60)
    runtime = build_services(settings, clock=lambda: old)
    try:
        made: list[str] = []
        for start in range(0, count, 10):
            records = await asyncio.gather(*(runtime.admin.create_identity(None) for _ in range(10)))
            made += [record.acs_id for record, _ in records[: count - start]]
        return made
    finally:
        await runtime.close()


async def lease_row(settings: Settings) -> Any:
    runtime = build_services(settings)
    try:
        return await runtime.registry._table.get(LEASE_KEY, LEASE_KEY)
    finally:
        await runtime.close()


async def states(settings: Settings, ids: list[str]) -> set[IdentityState]:
    runtime = build_services(settings)
    try:
        records = [await runtime.registry.get_identity(acs_id) for acs_id in ids]
        return {record.state for record in records if record is not None}
    finally:
        await runtime.close()


def wait_executed(host: RealAppHost, deadline: float, marker: str = EXECUTED) -> str:
    while marker not in (log := host.log_file.read_text()):
        assert time.monotonic() < deadline, f"the timer run on {host.base_url} did not end"
        time.sleep(0.2)
    return log


def app_events(log: str, event: str) -> list[dict[str, Any]]:
    found = []
    for line in log.splitlines():
        start = line.find("{")
        if start >= 0 and event in line:
            found.append(json.loads(line[start:]))
    return found


async def test_three_concurrent_runs_do_one_runs_work(
    two_hosts: tuple[RealAppHost, RealAppHost], acs_faults: LocalAzureProcess
) -> None:
    host_a, host_b = two_hosts
    settings = Settings.from_env(host_a.env)
    stale_ids = await populate(settings, STALE)
    master = {"x-functions-key": host_a.master_key, "Content-Type": "application/json"}
    admin = {"x-functions-key": host_a.function_key, "Authorization": f"Bearer {host_a.admin_token()}",
             "Content-Type": "application/json"}  # fmt: skip
    status, body = call(host_a.base_url + "/api/identities", "POST", admin, b"{}")
    assert status == 201, body
    user_id = json.loads(body)["communicationUserId"]
    limits = {"limit": 50, "window_seconds": 3}  # ACS's 500 per 30 s, ten times faster
    acs_faults.set_faults(rate_limits={"revoke": limits, "delete": limits})
    acs_faults.reset_stats()

    started = time.monotonic()
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "token_service.cleanup", cwd=PROJECT_ROOT, env=host_a.env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for host in (host_a, host_b):
            url = host.base_url + "/admin/functions/cleanup_stale_identities"
            assert call(url, "POST", master, b'{"input": ""}')[0] == 202
        deadline = time.monotonic() + 60
        while await lease_row(settings) is None:
            assert time.monotonic() < deadline, "no run took the cleanup lease"
            await asyncio.sleep(0.1)
        # A user's revoke while the run works: the run leaves it room in ACS's window.
        revoke_url = f"{host_b.base_url}/api/identities/{quote(user_id, safe='')}/revoke"
        status, body = call(revoke_url, "POST", admin, b"")
        assert status in (200, 204), (status, body)
        assert await lease_row(settings) is not None, "the run ended before the user's revoke: nothing overlapped"
        out, err = await asyncio.wait_for(cli.communicate(), 180)
        stdout, stderr = out.decode(), err.decode()
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
    deadline = time.monotonic() + 180
    logs = [wait_executed(host, deadline) for host in (host_a, host_b)]
    elapsed = time.monotonic() - started

    for log in logs:
        assert EXECUTED + "Succeeded" in log, "a timer invocation did not end cleanly"
    worked = [summary for log in logs for summary in app_events(log, '"cleanup_summary"')]
    refused = [event for log in logs for event in app_events(log, '"cleanup_not_started"')]
    if cli.returncode == 0:
        worked.append(json.loads(stdout.splitlines()[-1]))
    else:
        assert cli.returncode == 3, stderr
        assert "cleanup not started: another cleanup run holds the lease: " in stderr
        refused.append({"held_by": stderr.rsplit("holds the lease: ", 1)[1].split(" until ")[0]})
    assert len(worked) == 1 and len(refused) == 2, (worked, refused, stderr)
    assert worked[0]["deleted"] == STALE and worked[0]["failed"] == 0, worked
    for event in refused:
        assert event["held_by"] == worked[0]["owner"], (event, worked[0]["owner"])

    operations = acs_faults.stats()["operations"]
    assert operations["revoke"] == {"204": STALE + 1}, operations["revoke"]  # one run's, plus the user's
    assert operations["delete"] == {"204": STALE}, operations["delete"]
    assert await states(settings, stale_ids) == {IdentityState.DELETED}
    assert await lease_row(settings) is None, "the winning run did not give the lease back"
    print(f"3 concurrent runs: {STALE} stale, ACS revokes+deletes {2 * STALE}, {elapsed:.1f} s")


async def test_the_repair_timer_finishes_a_deletion_a_dead_request_left(
    two_hosts: tuple[RealAppHost, RealAppHost], acs_faults: LocalAzureProcess
) -> None:
    """A request marked an identity deleting and its instance died: the repair timer, run through the
    host API, finishes it (the hourly schedule does the same without anyone asking)."""
    host_a, _ = two_hosts
    settings = Settings.from_env(host_a.env)
    runtime = build_services(settings)
    try:
        record, _ = await runtime.admin.create_identity(None)
        await runtime.registry.mark_deleting(record, "user", datetime.now(UTC))
    finally:
        await runtime.close()
    master = {"x-functions-key": host_a.master_key, "Content-Type": "application/json"}
    url = host_a.base_url + "/admin/functions/repair_pending_deletions"
    assert call(url, "POST", master, b'{"input": ""}')[0] == 202
    log = wait_executed(host_a, time.monotonic() + 60, REPAIRED)
    assert REPAIRED + "Succeeded" in log
    assert await states(settings, [record.acs_id]) == {IdentityState.DELETED}
    assert record.acs_id not in {i["id"] for i in acs_faults.identities(live_only=True)}
    summary = app_events(log, '"cleanup_summary"')[-1]
    assert (summary["resumed"], summary["deleted"], summary["stale"]) == (1, 1, 0)
    assert " repair run " in summary["owner"]
