"""Timers as the Functions host runs them, in both modes: singleton lease, schedule status, past due.

Two devhosts share one Azurite account and one host id, like two instances of one function app:
the blob lease on `locks/{hostId}/Host.Functions.tick.Listener` lets only one run the schedule,
and `timers/{hostId}/Host.Functions.tick/status` carries Last/Next across a restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.storage.blob.aio import BlobServiceClient

from devhost.process import devhost_python
from devhost.schedule_monitor import ScheduleStatus
from local_azure.azurite import AzuriteProcess
from tests.devhost.fixture_host import MASTER_KEY, RunningHost, start_fixture_host
from tests.devhost.real_app import PROJECT_ROOT
from tests.devhost.test_devhost_http import timer_runs, wait_for_runs

TICK = "Host.Functions.tick"


def expected_mode() -> str:
    """What the devhost under test must be running: $DEVHOST_MODE, else what auto picks."""
    if os.environ.get("DEVHOST_MODE", "auto") != "auto":
        return os.environ["DEVHOST_MODE"]
    probe = [devhost_python(), "-c", "import sys; print(sys.version_info >= (3, 13))"]
    newer = subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip() == "True"
    return "worker" if newer else "direct"


def host_status(running: RunningHost) -> dict[str, Any]:
    request = urllib.request.Request(running.base_url + "/admin/host/status", headers={"x-functions-key": MASTER_KEY})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def blob_state(connection: str, name: str) -> tuple[str | None, bytes | None]:
    """(lease state, content) of a blob in azure-webjobs-hosts; (None, None) when absent."""

    async def read() -> tuple[str | None, bytes | None]:
        async with BlobServiceClient.from_connection_string(connection) as service:
            blob = service.get_blob_client("azure-webjobs-hosts", name)
            if not await blob.exists():
                return None, None
            properties = await blob.get_blob_properties()
            return str(properties.lease.state), await (await blob.download_blob()).readall()

    return asyncio.run(read())


def stop(running: RunningHost) -> None:
    os.killpg(running.host.process.pid, signal.SIGTERM)
    assert running.host.process.wait(30) == 0


def test_the_requested_mode_runs(fixture_host: RunningHost) -> None:
    """The second pass of `make test` really runs the worker (not a silent fallback to direct)."""
    status = host_status(fixture_host)
    assert status["mode"] == expected_mode()
    assert "tick" in status["functions"] and "hello" in status["functions"]


def test_run_on_startup_without_monitor(fixture_host: RunningHost) -> None:
    run = wait_for_runs(fixture_host.timer_log, 1, timeout=30, function="startup")[0]
    assert run["past_due"] is False
    assert not run["status"]  # useMonitor false: the host sends ScheduleStatus null (the SDK makes it {})


def test_two_hosts_fire_once_per_occurrence_and_a_missed_one_fires_past_due(
    tmp_path: Path, artifacts_dir: Path, azurite: AzuriteProcess
) -> None:
    host_id = "devhost-test-" + uuid.uuid4().hex[:8]
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "AzureFunctionsWebHost__hostid": host_id,
        "FIXTURE_SCHEDULE": "*/2 * * * * *",
        "AzureFunctionsJobHost__singleton__listenerLockRecoveryPollingInterval": "00:00:01",
    }
    first = start_fixture_host(tmp_path, artifacts_dir, env, "lease-a")
    second = start_fixture_host(tmp_path, artifacts_dir, env, "lease-b")
    hosts = {first.host.process.pid: first, second.host.process.pid: second}
    log = first.timer_log
    try:
        runs = wait_for_runs(log, 4, timeout=60)
        holders = {run["pid"] for run in runs}
        assert len(holders) == 1, runs  # one lease holder runs the schedule
        lease, _ = blob_state(azurite.connection_string, f"locks/{host_id}/{TICK}.Listener")
        assert lease == "leased"
        _, body = blob_state(azurite.connection_string, f"timers/{host_id}/{TICK}/status")
        assert body is not None and set(json.loads(body)) == {"Last", "Next", "LastUpdated"}

        holder = hosts.pop(holders.pop())
        stop(holder)  # releases the lease; the other host takes the schedule over
        other = next(iter(hosts.values()))
        deadline = time.monotonic() + 60
        while not any(run["pid"] == other.host.process.pid for run in timer_runs(log)):
            assert time.monotonic() < deadline, "the second host never took the schedule over"
            time.sleep(0.2)
        stop(other)

        scheduled = [run["next"] for run in timer_runs(log) if not run["past_due"]]
        duplicates = [occurrence for occurrence, count in Counter(scheduled).items() if count > 1]
        assert not duplicates, f"occurrences fired twice: {duplicates}"

        # No host for a while: the recorded Next passes, so the next start fires once, past due.
        _, body = blob_state(azurite.connection_string, f"timers/{host_id}/{TICK}/status")
        assert body is not None
        missed = ScheduleStatus.from_json(json.loads(body)).next
        while datetime.now(UTC) <= missed:
            time.sleep(0.2)
        before = len(timer_runs(log))
        again = start_fixture_host(tmp_path, artifacts_dir, env, "lease-restart")
        hosts = {again.host.process.pid: again}
        first_run = wait_for_runs(log, before + 1, timeout=60)[before]
        assert first_run["pid"] == again.host.process.pid
        assert first_run["past_due"] is True
    finally:
        for running in hosts.values():
            running.host.stop()


def test_indexing_failure_stops_the_start_with_the_worker_message(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text('raise RuntimeError("broken app at import")\n')
    (tmp_path / "local.settings.json").write_text(json.dumps({"Values": {}}))
    args = [devhost_python(), "-m", "devhost", "--app-dir", str(tmp_path), "--no-web-build", "--port", "1"]
    result = subprocess.run(args, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "broken app at import" in result.stderr
    if expected_mode() == "worker":
        assert "Worker failed to index functions" in result.stderr and "Stack:" in result.stderr
