"""Run an azd hook from azure.yaml the way azd would, against tests/deploy/fake_az.py on a bare PATH.

The PATH holds the fake `az` and `azd` and a few coreutils, and no uuidgen: what a fresh desktop may
have. How azd launches a hook follows its hooks documentation: the `windows`/`posix` entry when given,
else the top-level one; `run` is required; the executor comes from `kind`/`shell` or the extension
(.sh: sh, .py: Python, .ps1: pwsh). Shell hooks are run under both dash and bash.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.fake_az import PUBLIC_CLOUD, new_app

ROOT = Path(__file__).resolve().parents[2]
COREUTILS = ("cat", "tr", "sed", "grep", "date", "sleep", "env", "printf")


class HookNotRunnable(Exception):
    """azd would refuse this hook on that platform (validation), or its executor is missing here."""


def hook_entry(event: str, platform: str, azure_yaml: Path = ROOT / "azure.yaml") -> dict[str, Any]:
    hooks = (yaml.safe_load(azure_yaml.read_text(encoding="utf-8")) or {}).get("hooks") or {}
    if event not in hooks:
        raise HookNotRunnable(f"azure.yaml has no {event} hook")
    hook = hooks[event]
    entry = hook.get(platform) or {key: value for key, value in hook.items() if key not in ("windows", "posix")}
    if not entry.get("run"):
        raise HookNotRunnable(f"azd on {platform}: hooks.{event}: run is required")
    return dict(entry)


def launchers(event: str, platform: str) -> list[list[str]]:
    """Each command line azd's executor would use for the hook (one per shell for sh hooks)."""
    entry = hook_entry(event, platform)
    script = ROOT / str(entry["run"])
    if not script.is_file():
        raise HookNotRunnable(f"{entry['run']} does not exist")
    kind = entry.get("kind") or entry.get("shell") or {".sh": "sh", ".py": "python", ".ps1": "pwsh"}.get(script.suffix)
    if kind == "sh":
        return [[shutil.which(shell) or shell, str(script)] for shell in ("dash", "bash")]
    if kind == "python":
        return [[sys.executable, str(script)]]
    if kind == "pwsh":
        if shutil.which("pwsh") is None:
            raise HookNotRunnable("pwsh is not installed here: a PowerShell hook cannot be run")
        return [["pwsh", "-NoProfile", "-File", str(script)]]
    raise HookNotRunnable(f"unknown hook kind {kind!r}")


@dataclass
class Tenant:
    """The fake az's state: a tenant's app registrations, role assignments and the CLI's cloud."""

    directory: Path
    apps: list[dict[str, Any]] = field(default_factory=list)
    cloud: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(PUBLIC_CLOUD)))
    replication_lag: int = 0
    can_create_apps: bool = True
    role_assignments: dict[str, Any] = field(default_factory=dict)
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def state_file(self) -> Path:
        return self.directory / "az-state.json"

    def write(self) -> None:
        self.state_file.write_text(json.dumps({
            "tenantId": self.tenant_id, "apps": self.apps, "cloud": self.cloud, "replicationLag": self.replication_lag,
            "canCreateApps": self.can_create_apps, "roleAssignments": self.role_assignments, "servicePrincipals": [],
        }), encoding="utf-8")  # fmt: skip

    def read(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        return state

    def add_app(self, name: str) -> dict[str, Any]:
        app = new_app(name)
        self.apps.append(app)
        return app


@dataclass
class HookRun:
    returncode: int
    stdout: str
    stderr: str
    az_log: list[dict[str, Any]]
    azd_env: dict[str, str]

    @property
    def az_calls(self) -> list[list[str]]:
        return [entry["argv"] for entry in self.az_log]

    def calls(self, *prefix: str) -> list[list[str]]:
        return [call for call in self.az_calls if call[: len(prefix)] == list(prefix)]

    def patch_bodies(self) -> list[dict[str, Any]]:
        return [
            json.loads(entry["body"])
            for entry in self.az_log
            if entry["argv"][:1] == ["rest"] and "PATCH" in entry["argv"]
        ]


def bare_path(directory: Path) -> str:
    """A PATH with the fake az/azd and a few coreutils only (no uuidgen)."""
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in (*COREUTILS, "python3"):
        found = "/usr/bin/python3" if tool == "python3" and Path("/usr/bin/python3").exists() else shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    az = bin_dir / "az"
    az.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.deploy.fake_az import main\nsys.exit(main(sys.argv[1:]))\n",
        encoding="utf-8",
    )
    azd = bin_dir / "azd"
    azd.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        "with open(os.environ['FAKE_AZD_LOG'], 'a') as log:\n    log.write(json.dumps(sys.argv[1:]) + '\\n')\n",
        encoding="utf-8",
    )
    az.chmod(0o755)
    azd.chmod(0o755)
    assert shutil.which("uuidgen", path=str(bin_dir)) is None
    return str(bin_dir)


def run_hook(command: list[str], tenant: Tenant, env: dict[str, str] | None = None, timeout: float = 60) -> HookRun:
    tenant.write()
    az_log = tenant.directory / "az-calls.jsonl"
    azd_log = tenant.directory / "azd-calls.jsonl"
    az_log.write_text("", encoding="utf-8")
    azd_log.write_text("", encoding="utf-8")
    environment = {
        "PATH": bare_path(tenant.directory),
        "HOME": str(tenant.directory),
        "FAKE_AZ_STATE": str(tenant.state_file),
        "FAKE_AZ_LOG": str(az_log),
        "FAKE_AZD_LOG": str(azd_log),
        "AZURE_ENV_NAME": "dev",
        "HOOK_RETRY_DELAY_SECONDS": "0.01",
        **(env or {}),
    }
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    calls = [json.loads(line) for line in az_log.read_text(encoding="utf-8").splitlines() if line]
    azd_env = {}
    for line in azd_log.read_text(encoding="utf-8").splitlines():
        argv = json.loads(line)
        if argv[:2] == ["env", "set"]:
            azd_env[argv[2]] = argv[3]
    return HookRun(result.returncode, result.stdout, result.stderr, calls, azd_env)
