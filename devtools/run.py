"""`make run`: Azurite, local_azure and the function app on http://localhost:7071, stopped together.

The function app runs under `func start` when Azure Functions Core Tools is on PATH, else under the
devhost. Its environment is ours plus what local_azure and Azurite generated (devtools.app_settings:
CA bundle, managed-identity endpoint, ACS endpoint, issuer, storage), which wins over local.settings.json
because process environment variables take precedence there. Every child runs in its own process
group and is stopped by pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devhost.process import HostProcess
from devhost.settings import ensure_settings_file, load_settings
from devtools.app_settings import app_settings
from devtools.banner import summary
from local_azure.azurite import AzuriteProcess
from local_azure.entra.clients import spa_redirect_uris
from local_azure.process import LocalAzureProcess

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--azurite-ports", default="10000,10001,10002", help="blob,queue,table")
    parser.add_argument("--acs-port", type=int, default=7443)
    parser.add_argument("--local-port", type=int, default=7444, help="managed identity + the issuer's mint endpoint")
    parser.add_argument("--issuer-port", type=int, default=7445, help="dev sign-in issuer (HTTPS, Entra's layout)")
    parser.add_argument("--state-dir", type=Path, default=Path(".local"), help="Azurite data, CA, logs")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    parser.add_argument("--host", choices=("auto", "func", "devhost"), default="auto")
    parser.add_argument("--demo-port", type=int, default=None, help="demo page beside func start (default port+1)")
    parser.add_argument("--health-timeout", type=float, default=90)
    return parser.parse_args(argv)


class Stack:
    """What the launcher started, stopped in reverse order whatever happens."""

    def __init__(self) -> None:
        self.stops: list[tuple[str, Callable[[], Any]]] = []

    def add(self, name: str, stop: Callable[[], Any]) -> None:
        self.stops.append((name, stop))

    def stop_all(self) -> None:
        for name, stop in reversed(self.stops):
            try:
                stop()
            except Exception as error:  # keep stopping the rest
                print(f"make run: stopping {name} failed: {error}", file=sys.stderr)
        self.stops.clear()


def host_environment(local: LocalAzureProcess, azurite: AzuriteProcess) -> dict[str, str]:
    """Ours plus the generated settings; AUTH_AUDIENCE stays local.settings.json's."""
    generated = app_settings(local.settings, azurite.connection_string, audience=False)
    return {**os.environ, **generated, "PYTHONUNBUFFERED": "1"}


def wait_for_health(host: HostProcess, timeout: float) -> str:
    """GET /api/health until it answers; returns a one-line status (200 ok, or 503 degraded...)."""
    deadline = time.monotonic() + timeout
    url = host.base_url.replace("localhost", "127.0.0.1") + "/api/health"
    while time.monotonic() < deadline:
        if host.process.poll() is not None:
            raise RuntimeError(f"the function host exited with code {host.process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback http
                return f"{response.status} {json.loads(response.read()).get('status', '')}".strip()
        except urllib.error.HTTPError as error:
            if error.code != 404:
                return f"{error.code} (see the host log above)"
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s")


def check_ports_free(ports: dict[str, int]) -> None:
    """Fail early, naming the port: a busy port would otherwise look like a started service."""
    for name, port in ports.items():
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise RuntimeError(
                    f"port {port} ({name}) is already in use on 127.0.0.1 (another `make run`?); "
                    "choose others with RUN_ARGS, see `python -m devtools.run --help`"
                ) from None


def cors_origins(configured: tuple[str, ...], ports: tuple[int, ...]) -> str:
    """Host.CORS plus the origins this run serves pages from (the app and the demo page, by either name).

    Passed as `--cors` to the host, so `--port`/`--demo-port` other than the sample's 7071/7072 still let
    the demo page (and a page served by the app itself) call the functions.
    """
    served = (f"http://{name}:{port}" for port in ports for name in ("localhost", "127.0.0.1"))
    return ",".join(dict.fromkeys((*configured, *served)))


def start_everything(args: argparse.Namespace, stack: Stack) -> HostProcess:
    state = args.state_dir.resolve()
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    settings_path = args.settings if args.settings.is_absolute() else PROJECT_ROOT / args.settings
    if ensure_settings_file(settings_path, PROJECT_ROOT):
        print(f"make run: created {settings_path} from local.settings.sample.json", flush=True)
    local_settings = load_settings(settings_path)
    ports = tuple(int(port) for port in args.azurite_ports.split(","))
    if len(ports) != 3:
        raise ValueError("--azurite-ports takes three ports: blob,queue,table")
    wanted = {
        "function host": args.port,
        "Azurite blob": ports[0],
        "Azurite queue": ports[1],
        "Azurite table": ports[2],
        "ACS stand-in": args.acs_port,
        "managed identity/mint": args.local_port,
        "dev sign-in issuer": args.issuer_port,
    }
    use_func = args.host == "func" or (args.host == "auto" and shutil.which("func") is not None)
    demo_port = args.demo_port or args.port + 1
    if use_func:
        wanted["demo page"] = demo_port
    check_ports_free(wanted)
    print("make run: starting Azurite…", flush=True)
    azurite = AzuriteProcess.start(
        state / "azurite", ports=(ports[0], ports[1], ports[2]), log_file=logs / "azurite.log"
    )
    stack.add("Azurite", azurite.stop)
    print("make run: starting local_azure (ACS stand-in, managed identity, dev issuer)…", flush=True)
    ports_args = ["--acs-port", str(args.acs_port), "--local-port", str(args.local_port),
                  "--issuer-port", str(args.issuer_port)]  # fmt: skip
    redirects = [arg for uri in spa_redirect_uris((args.port, demo_port)) for arg in ("--spa-redirect-uri", uri)]
    local = LocalAzureProcess.start(
        state / "azure", extra_args=[*ports_args, *redirects], log_file=logs / "local_azure.log"
    )
    stack.add("local_azure", local.stop)
    base_url = f"http://localhost:{args.port}"
    env = host_environment(local, azurite)
    cors = ["--cors", cors_origins(local_settings.cors_origins, (args.port, demo_port) if use_func else (args.port,))]
    if local_settings.cors_credentials:
        cors.append("--cors-credentials")
    if use_func:
        print("make run: starting `func start` (Azure Functions Core Tools)…", flush=True)
        host = HostProcess.start_func(PROJECT_ROOT, args.port, env=env, extra_args=cors)
        stack.add("function host", host.stop)
        # Core Tools does not serve web/dist: a demo-only devhost does, calling func's URLs (--cors).
        demo = HostProcess.start_devhost(
            PROJECT_ROOT, demo_port, settings=settings_path, env=env, extra_args=["--demo-only", base_url]
        )
        stack.add("demo page", demo.stop)
        demo_url = f"http://localhost:{demo_port}"
    else:
        print("make run: Core Tools not found; starting the devhost…", flush=True)
        host = HostProcess.start_devhost(PROJECT_ROOT, args.port, settings=settings_path, env=env, extra_args=cors)
        stack.add("function host", host.stop)
        demo_url = base_url
    health = wait_for_health(host, args.health_timeout)
    kind = "func" if use_func else "devhost"
    print(summary(args, env, local_settings, kind, health, base_url, demo_url, local.settings), flush=True)
    return host


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.chdir(PROJECT_ROOT)
    # Ctrl+C and SIGTERM both stop everything; set explicitly, since a shell that started us in the
    # background may have left SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    stack = Stack()
    code = 0
    try:
        host = start_everything(args, stack)
        while host.process.poll() is None:
            time.sleep(0.5)
        print(f"make run: the function host exited with code {host.process.returncode}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("\nmake run: stopping…", flush=True)
    except Exception as error:
        print(f"make run: {error}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cleanup finish on a second Ctrl+C
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop_all()
    print("make run: stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
