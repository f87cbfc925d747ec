"""The operators' command: same cleanup, progress bar on stderr, summary line on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from local_azure.process import LocalAzureProcess


def test_cli_dry_run_prints_progress_and_summary(
    app_environment: dict[str, str], local_azure: LocalAzureProcess
) -> None:
    env = {**os.environ, **app_environment, "REGISTRY_TABLE": "cli" + uuid.uuid4().hex[:10]}
    result = subprocess.run(
        [sys.executable, "-m", "token_service.cleanup_cli", "--dry-run"],
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
        [sys.executable, "-m", "token_service.cleanup_cli"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "STALE_IDENTITY_DAYS" in result.stderr
