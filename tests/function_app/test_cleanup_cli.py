"""The operators' command: same cleanup, progress bar on stderr, summary line on stdout."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from local_azure.process import LocalAzureProcess
from token_service.services import build_services
from token_service.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_cli_dry_run_prints_progress_and_summary(
    app_environment: dict[str, str], local_azure: LocalAzureProcess
) -> None:
    env = {**os.environ, **app_environment, "REGISTRY_TABLE": "cli" + uuid.uuid4().hex[:10]}
    result = subprocess.run(
        [sys.executable, "-m", "token_service.cleanup", "--dry-run"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "0 identities idle for more than 30 days" in result.stderr
    summary = json.loads(result.stdout.splitlines()[0])
    assert summary["event"] == "cleanup_summary"
    assert summary["dry_run"] is True


def test_cli_names_a_bad_setting(app_environment: dict[str, str]) -> None:
    env = {**os.environ, **app_environment, "STALE_IDENTITY_DAYS": "soon"}
    result = subprocess.run(
        [sys.executable, "-m", "token_service.cleanup"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "STALE_IDENTITY_DAYS" in result.stderr


async def test_cli_refuses_while_another_run_holds_the_lease(
    app_environment: dict[str, str], local_azure: LocalAzureProcess
) -> None:
    table = "cli" + uuid.uuid4().hex[:10]
    settings = Settings.from_env({**app_environment, "REGISTRY_TABLE": table})
    runtime = build_services(settings)
    lease = runtime.registry.cleanup_lease("instance-z pid 77 timer")
    await lease.acquire()
    try:
        env = {**os.environ, **app_environment, "REGISTRY_TABLE": table}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "token_service.cleanup", cwd=PROJECT_ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    finally:
        await lease.release()
        await runtime.close()
    assert process.returncode == 3, stderr
    assert "cleanup not started: another cleanup run holds the lease: instance-z pid 77 timer until " in stderr.decode()
    assert stdout == b""
