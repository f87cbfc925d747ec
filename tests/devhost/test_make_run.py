"""`make run` as a developer runs it: everything starts, health answers, Ctrl+C leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from devhost.process import devhost_python
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
    port, blob, queue, table, acs, local, issuer = (free_port() for _ in range(7))
    run_args = (
        f"--port {port} --azurite-ports {blob},{queue},{table} --acs-port {acs} --local-port {local} "
        f"--issuer-port {issuer} "
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
        assert f"auth.authority         https://127.0.0.1:{issuer}/" in output
        assert f'auth.knownAuthorities  ["127.0.0.1:{issuer}"]' in output
        assert f"auth.redirectUri       http://localhost:{port}/demo/" in output and "make trust-dev-ca" in output
        assert "AccountKey" not in output and "Eby8vdM02" not in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=30) as response:
            assert response.status == 200
        started = descendants(make.pid)
        assert len(started) >= 4, started  # the launcher, Azurite, local_azure, the devhost
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


def test_run_uses_func_when_on_path_and_serves_the_demo_beside_it(tmp_path: Path) -> None:
    """With `func` on PATH, the launcher starts `func start --port P` in the app folder plus a demo-only devhost.

    Core Tools is not installed here, so a stand-in `func` (the devhost under that name) plays it.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "func"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1" = start ] && [ "$2" = --port ] || { echo "unexpected: $*" >&2; exit 9; }\n'
        'port="$3"; shift 3\n'  # the rest (--cors ...) means the same to the devhost as to Core Tools
        f'exec "{devhost_python()}" -m devhost --port "$port" --settings "{tmp_path / "local.settings.json"}" "$@"\n'
    )
    fake.chmod(0o755)
    port, demo_port, blob, queue, table, acs, local, issuer = (free_port() for _ in range(8))
    args = [
        sys.executable, "-m", "devtools.run", "--port", str(port), "--demo-port", str(demo_port),
        "--azurite-ports", f"{blob},{queue},{table}", "--acs-port", str(acs), "--local-port", str(local),
        "--issuer-port", str(issuer),
        "--state-dir", str(tmp_path / "state"), "--settings", str(tmp_path / "local.settings.json"),
    ]  # fmt: skip
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = subprocess.Popen(
        args, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(run.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 180
        while not any(READY in line for line in lines):
            assert run.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        output = "".join(lines)
        assert "starting `func start`" in output and "running (func)" in output
        assert f"Demo page:   http://localhost:{demo_port}/demo/" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{demo_port}/demo/config.json", timeout=10) as response:
            config = json.loads(response.read())
        assert config["apiBase"] == f"http://localhost:{port}"
        # The demo page's MSAL keys: this run's issuer, whose SPA client registers the demo's URL.
        assert config["msal"]["authority"].startswith(f"https://127.0.0.1:{issuer}/")
        assert config["msal"]["knownAuthorities"] == [f"127.0.0.1:{issuer}"]
        # The demo page's origin may call the functions although Host.CORS names only 7071/7072.
        preflight = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/token", method="OPTIONS",
            headers={"Origin": f"http://localhost:{demo_port}", "Access-Control-Request-Method": "POST"},
        )  # fmt: skip
        with urllib.request.urlopen(preflight, timeout=10) as response:
            assert response.headers["Access-Control-Allow-Origin"] == f"http://localhost:{demo_port}"
        started = descendants(run.pid)
        os.killpg(run.pid, signal.SIGTERM)
        assert run.wait(60) == 0
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
        reader.join(10)
    deadline = time.monotonic() + 10
    while (left := {pid for pid in started if alive(pid)}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left


def test_run_refuses_a_busy_port_and_names_it(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "devtools.run", "--port", str(port), "--state-dir", str(tmp_path / "state"),
             "--settings", str(tmp_path / "local.settings.json"), "--host", "devhost"],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 1
    assert f"port {port} (function host) is already in use" in result.stderr
    assert not (tmp_path / "state" / "azurite").exists()  # nothing was started
