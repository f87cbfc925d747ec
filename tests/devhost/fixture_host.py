"""The devhost as a subprocess on a free port, serving the fixture app (fixture_app/) with its own keys and CORS."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from devhost.process import HostProcess
from local_azure.azurite import free_port

FIXTURE_APP = Path(__file__).resolve().parent / "fixture_app"
FUNCTION_KEY = "fixture-function-key"  # local test keys, not secrets
MASTER_KEY = "fixture-master-key"
ALLOWED_ORIGIN = "http://allowed.localhost"


@dataclass
class RunningHost:
    """A started devhost and what tests need to talk to it."""

    host: HostProcess
    base_url: str
    timer_log: Path
    log_file: Path


def write_fixture_settings(path: Path, timer_log: Path, schedule: str = "0 0 0 1 1 *") -> Path:
    path.write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {
                    "FUNCTIONS_WORKER_RUNTIME": "python",
                    "FIXTURE_SCHEDULE": schedule,
                    "FIXTURE_TIMER_LOG": str(timer_log),
                    "FROM_FILE": "file",
                    "OVERRIDDEN": "file",
                },
                "Host": {"CORS": f"{ALLOWED_ORIGIN},http://other.localhost", "CORSCredentials": False},
                "DevHost": {"FunctionKeys": {"default": FUNCTION_KEY}, "MasterKey": MASTER_KEY},
            }
        ),
        encoding="utf-8",
    )
    return path


def start_fixture_host(tmp: Path, artifacts: Path, env_extra: dict[str, str], name: str) -> RunningHost:
    timer_log = tmp / "timer.log"
    settings = write_fixture_settings(tmp / "local.settings.json", timer_log)
    port = free_port()
    log_file = artifacts / f"devhost-{name}.log"
    log_file.unlink(missing_ok=True)
    env = {**os.environ, **env_extra}
    host = HostProcess.start_devhost(FIXTURE_APP, port, settings=settings, env=env, log_file=log_file)
    try:
        host.wait_until_healthy(timeout=30)
    except BaseException:
        host.stop()
        raise
    return RunningHost(host, f"http://127.0.0.1:{port}", timer_log, log_file)
