"""`make run` as a developer runs it: everything starts, health answers, Ctrl+C leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from local_azure.azurite import free_port
from tests.devhost.real_app import PROJECT_ROOT

READY = "ACS token service is running"


def descendants(root: int) -> set[int]:
    """Every process whose parent chain leads to root, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def group_members(pgid: int) -> set[int]:
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.add(int(entry.name))
    return members


def test_make_run_starts_answers_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    port, blob, queue, table, acs, local = (free_port() for _ in range(6))
    run_args = (
        f"--port {port} --azurite-ports {blob},{queue},{table} --acs-port {acs} --local-port {local} "
        f"--state-dir {tmp_path / 'state'} --settings {tmp_path / 'local.settings.json'} --host devhost"
    )
    (tmp_path / "home").mkdir()
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"RUN_ARGS={run_args}"],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(make.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while not any(READY in line for line in lines):
            assert make.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "make run did not get ready:\n" + "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        assert f"http://localhost:{port}/api/token" in output and f"http://localhost:{port}/demo/" in output
        assert "AccountKey" not in output and "Eby8vdM02" not in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30) as response:
            assert response.status == 200
        started = descendants(make.pid)
        assert len(started) >= 4, started  # run.py, Azurite, local_azure, the devhost
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl+C in a terminal does
        make.wait(60)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(10)
        reader.join(10)
    output = "".join(lines)
    assert "make run: stopped." in output, output
    deadline = time.monotonic() + 10
    while (left := {pid for pid in started if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"left behind: {left}\n{output}"
    assert not group_members(make.pid)
