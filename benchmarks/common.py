"""What every benchmark shares: the services it starts, machine facts, statistics, results and plots.

Every service binds to 127.0.0.1 on a free port, runs in its own process group, and is stopped by the
pid this module started (never by name). All state lives in a temporary directory removed at the end.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devhost.process import HostProcess
from devtools.app_settings import app_settings
from local_azure.azurite import AzuriteProcess, free_port
from local_azure.process import LocalAzureProcess

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"


# -- machine -------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, memory, Python, OS: what a reader needs to judge the figures."""
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_total_mb: int | None = None
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total_mb = int(line.split()[1]) // 1024
                break
    load: list[float] | None = None
    with contextlib.suppress(OSError):
        load = [round(x, 2) for x in os.getloadavg()]
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "mem_total_mb": mem_total_mb,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_at_start": load,
    }


def machine_line(info: dict[str, Any]) -> str:
    mem = f"{info['mem_total_mb'] / 1024:.0f} GiB" if info.get("mem_total_mb") else "? GiB"
    return f"{info['nproc']} CPU ({info['cpu_model']}), {mem} RAM, Python {info['python']}, {info['os']}"


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / VmPeak of a process, in kB, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM", "VmPeak"):
                values[name] = int(rest.split()[0])
    return values


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (children excluded), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- statistics ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table (also valid Markdown)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


# -- results -------------------------------------------------------------------------------------


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {"benchmark": name, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), **data}
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def relative(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


# -- services ------------------------------------------------------------------------------------


@dataclass
class Services:
    """Azurite and local_azure (and optionally the devhost) started for one benchmark."""

    workdir: Path
    azurite: AzuriteProcess
    local_azure: LocalAzureProcess
    host: HostProcess | None = None
    host_port: int | None = None
    app_env: dict[str, str] = field(default_factory=dict)
    more_hosts: list[HostProcess] = field(default_factory=list)  # beyond the first, stopped with it

    def app_environment(self, **extra: str) -> dict[str, str]:
        """The app settings as `make run` would pass them: local_azure's endpoints, Azurite, a fresh table."""
        return app_settings(
            self.local_azure.settings,
            self.azurite.connection_string,
            {
                "AUTH_ADMIN_ROLE": "TokenService.Admin",
                "REGISTRY_TABLE": "bench" + uuid.uuid4().hex[:12],
                "ALLOWED_SCOPES": "chat,voip",
                "DEFAULT_TOKEN_MINUTES": "60",
                "STALE_IDENTITY_DAYS": "30",
                "CLEANUP_SCHEDULE": "0 0 0 1 1 *",  # 1 January: never fires during a benchmark
                "CLEANUP_REPAIR_SCHEDULE": "0 0 0 1 1 *",
                "AZURE_CORE_DISABLE_TRACING": "1",
                **extra,
            },
        )

    def start_devhost(
        self, env: dict[str, str], *, python: str | None = None, mode: str | None = None, name: str = "devhost"
    ) -> HostProcess:
        """The devhost serving the real function_app, settings from a copy of the sample (env wins).

        `python` and `mode` choose the interpreter and `--mode` (worker: azure-functions-runtime on 3.13);
        the first devhost started is `self.host`, later ones are kept in `more_hosts`.
        """
        settings_file = self.workdir / "local.settings.json"
        shutil.copyfile(PROJECT_ROOT / "local.settings.sample.json", settings_file)
        port = free_port()
        full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        log = self.workdir / f"{name}.log"
        host = HostProcess.start_devhost(
            PROJECT_ROOT,
            port,
            settings=settings_file,
            env=full_env,
            log_file=log,
            extra_args=["--no-web-build", *(["--mode", mode] if mode else [])],
            python=python,
        )
        if self.host is None:
            self.host, self.host_port, self.app_env = host, port, env
        else:
            self.more_hosts.append(host)
        try:
            host.wait_until_healthy("/api/health", timeout=90)
        except BaseException:
            host.stop()
            if log.exists():
                print(log.read_text(errors="replace")[-3000:], file=sys.stderr)
            raise
        return host

    def start_azurite_again(self) -> AzuriteProcess:
        """Start Azurite again on its data directory (after `azurite.stop()`, which saves its database)."""
        self.azurite = AzuriteProcess.start(self.workdir / "azurite", log_file=self.workdir / "azurite.log")
        return self.azurite

    @property
    def base_url(self) -> str:
        assert self.host_port is not None
        return f"http://127.0.0.1:{self.host_port}"


@contextlib.contextmanager
def services(name: str, local_azure_args: Sequence[str] = ()) -> Iterator[Services]:
    """Start Azurite and local_azure in a temporary directory; stop everything started, newest first."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    started: list[Any] = []
    try:
        azurite = AzuriteProcess.start(workdir / "azurite", log_file=workdir / "azurite.log")
        started.append(azurite)
        local_azure = LocalAzureProcess.start(
            workdir / "local_azure", extra_args=list(local_azure_args), log_file=workdir / "local_azure.log"
        )
        started.append(local_azure)
        running = Services(workdir, azurite, local_azure)
        try:
            yield running
        finally:
            for host in reversed(running.more_hosts):
                host.stop()
            if running.host is not None:
                running.host.stop()
            if running.azurite is not azurite:  # restarted by the benchmark (same data directory)
                started.append(running.azurite)
    finally:
        for process in reversed(started):
            with contextlib.suppress(Exception):
                process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def loopback_url(host: HostProcess) -> str:
    """A host's base URL on 127.0.0.1 (HostProcess names it localhost, as Core Tools prints it)."""
    return host.base_url.replace("localhost", "127.0.0.1")


def run_python(code: str, env: dict[str, str], timeout: float = 120) -> float:
    """Wall time of `python -c code` in a fresh interpreter (cwd = project root), in seconds."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, timeout=timeout, check=False
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed: {completed.stderr.decode(errors='replace')[-2000:]}")
    return elapsed
