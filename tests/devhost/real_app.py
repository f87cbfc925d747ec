"""Start the devhost with the real function_app against the session's Azurite and local_azure.

Shared by every test that needs the app in a process of its own (devhost, browser, multi-instance,
telemetry, cleanup concurrency).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devhost.process import HostProcess
from devtools.app_settings import app_settings
from local_azure.azurite import AzuriteProcess, free_port
from local_azure.process import LocalAzureProcess

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RealAppHost:
    """The devhost serving function_app.app, and what tests need to call it."""

    host: HostProcess
    base_url: str
    function_key: str
    master_key: str
    settings_file: Path
    env: dict[str, str]
    log_file: Path
    local_azure: LocalAzureProcess

    @property
    def mint_url(self) -> str:
        return self.local_azure.settings.issuer_mint_url

    def admin_token(self) -> str:
        return self.local_azure.mint_user_token("test-admin", roles=[self.env["AUTH_ADMIN_ROLE"]])


def real_app_environment(
    local_azure: LocalAzureProcess, azurite: AzuriteProcess, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Our environment plus local_azure's generated endpoints: what `make run` passes, per test run."""
    generated = app_settings(
        local_azure.settings,
        azurite.connection_string,
        {
            "AUTH_ADMIN_ROLE": "TokenService.Admin",
            "REGISTRY_TABLE": "devhost" + uuid.uuid4().hex[:12],
            "CLEANUP_SCHEDULE": "0 0 3 * * *",  # required (no default): the host resolves %CLEANUP_SCHEDULE%
            "CLEANUP_REPAIR_SCHEDULE": "0 0 0 1 1 *",  # 1 January: the tests run it through the host API
            "PYTHONUNBUFFERED": "1",
        },
    )
    return {**os.environ, **generated, **(extra or {})}


def start_real_app(
    tmp: Path,
    artifacts: Path,
    local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
    name: str,
    extra_env: dict[str, str] | None = None,
    port: int | None = None,
    extra_args: Sequence[str] = (),
) -> RealAppHost:
    settings_file = tmp / "local.settings.json"
    shutil.copyfile(PROJECT_ROOT / "local.settings.sample.json", settings_file)
    keys = json.loads(settings_file.read_text())["DevHost"]
    env = real_app_environment(local_azure, azurite, extra_env)
    port = port or free_port()
    log_file = artifacts / f"devhost-{name}.log"
    log_file.unlink(missing_ok=True)
    host = HostProcess.start_devhost(
        PROJECT_ROOT, port, settings=settings_file, env=env, log_file=log_file, extra_args=extra_args
    )
    try:
        host.wait_until_healthy("/api/health", timeout=60)
    except BaseException:
        host.stop()
        raise
    return RealAppHost(
        host, f"http://127.0.0.1:{port}", keys["FunctionKeys"]["default"], keys["MasterKey"], settings_file, env,
        log_file, local_azure,
    )  # fmt: skip
