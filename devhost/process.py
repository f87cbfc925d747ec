"""Start and stop a host (the devhost or `func start`) as a child process group, for run.py and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def devhost_python() -> str:
    """$DEVHOST_PYTHON (the tests' second pass: .venv313 in worker mode), else this interpreter."""
    return os.environ.get("DEVHOST_PYTHON") or sys.executable


@dataclass
class HostProcess:
    """A running host in its own session; `stop()` signals exactly that process group."""

    process: subprocess.Popen[bytes]
    base_url: str

    @classmethod
    def start_devhost(
        cls,
        app_dir: Path,
        port: int,
        settings: Path | None = None,
        env: dict[str, str] | None = None,
        log_file: Path | None = None,
        extra_args: Sequence[str] = (),
        python: str | None = None,
    ) -> HostProcess:
        """`python -m devhost` (interpreter: `python`, else devhost_python()) in its own process group."""
        args = [python or devhost_python(), "-m", "devhost", "--port", str(port), "--app-dir", str(app_dir)]
        args += extra_args
        if settings is not None:
            args += ["--settings", str(settings)]
        return cls.spawn(args, port, env, log_file, cwd=Path(__file__).resolve().parent.parent)

    @classmethod
    def start_func(
        cls,
        app_dir: Path,
        port: int,
        env: dict[str, str] | None = None,
        log_file: Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> HostProcess:
        """Azure Functions Core Tools, when installed: `func start --port P ...` in the app folder."""
        return cls.spawn(["func", "start", "--port", str(port), *extra_args], port, env, log_file, cwd=app_dir)

    @classmethod
    def spawn(
        cls, args: list[str], port: int, env: dict[str, str] | None, log_file: Path | None, cwd: Path
    ) -> HostProcess:
        out = open(log_file, "ab") if log_file else None
        try:
            stderr = subprocess.STDOUT if out else None
            process = subprocess.Popen(
                args, cwd=cwd, env=env, stdout=out, stderr=stderr, start_new_session=True
            )
        finally:
            if out:
                out.close()  # the child has its own copy
        return cls(process, f"http://localhost:{port}")

    def wait_until_healthy(self, path: str = "/admin/host/ping", timeout: float = 60) -> None:
        """Block until GET path answers below 500, or raise (also when the process died)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"host exited with code {self.process.returncode} before answering {path}")
            try:
                url = self.base_url.replace("localhost", "127.0.0.1") + path  # http on loopback only
                with urllib.request.urlopen(url, timeout=5):  # noqa: S310
                    return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return
                last = f"HTTP {error.code}"
            except OSError as error:
                last = str(error)
            time.sleep(0.2)
        raise TimeoutError(f"{self.base_url}{path} did not answer within {timeout}s ({last})")

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM the group (graceful), SIGKILL it if it lingers; returns the exit code."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)
        _signal_group(self.process.pid, signal.SIGKILL)  # grandchildren left in the group, if any
        return self.process.returncode


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass
