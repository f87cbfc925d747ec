"""`python -m devhost [--port 7071] [--settings local.settings.json] [--app-dir .]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from devhost.cors import CorsPolicy
from devhost.direct import DirectRunner
from devhost.functions import IndexingError
from devhost.host_storage import host_id, hosts_container
from devhost.limits import protocol_factory
from devhost.routes import RouteError
from devhost.runner import MODES, FunctionRunner, RunnerStartError, resolve_mode
from devhost.server import HostState, build_app, route_prefix_from_host_json
from devhost.settings import (
    LocalSettings,
    SettingsError,
    apply_values,
    ensure_settings_file,
    load_settings,
    parse_origins,
)
from devhost.singleton import SingletonOptions
from devhost.timers import ScheduleError, TimerStorage
from devhost.webbuild import ensure_web_built

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STARTUP_ERRORS = (SettingsError, IndexingError, RouteError, ScheduleError, RunnerStartError)

log = logging.getLogger("devhost")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devhost", description=__doc__)
    parser.add_argument("--port", type=int, default=None, help="default: Host.LocalHttpPort, else 7071")
    parser.add_argument(
        "--settings",
        type=Path,
        default=Path("local.settings.json"),
        help="relative to --app-dir; created from local.settings.sample.json when absent",
    )
    parser.add_argument("--app-dir", type=Path, default=Path("."), help="folder holding function_app.py")
    parser.add_argument("--host", default="localhost", help="display name in URLs (binding is loopback only)")
    parser.add_argument("--no-web-build", action="store_true", help="do not build web/dist when missing")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=os.environ.get("DEVHOST_MODE") or "auto",
        help="direct: import function_app and call it (Python 3.11); worker: run it in Microsoft's "
        "azure-functions-runtime through the worker protocol (Python 3.13+); auto (default, or "
        "$DEVHOST_MODE): worker on 3.13+, else direct",
    )
    parser.add_argument(
        "--cors",
        help="comma-separated allowed origins, instead of Host.CORS (as Core Tools' `func start --cors`)",
    )
    parser.add_argument(
        "--cors-credentials", action="store_true", help="allow credentialed cross-origin requests (as Core Tools)"
    )
    parser.add_argument(
        "--demo-only",
        metavar="API_BASE",
        help="serve only the demo page, calling the functions at API_BASE (make run does this beside func start)",
    )
    return parser.parse_args(argv)


def banner(state: HostState, base_url: str) -> str:
    """The `func start`-style listing of functions and their URLs."""
    if not state.functions:
        return f"\nDemo page: {base_url}/demo/ (calling the functions at {os.environ.get('DEMO_API_BASE')})\n"
    lines = ["", "Functions:", ""]
    prefix = f"/{state.route_prefix}" if state.route_prefix else ""
    for function in sorted(state.functions, key=lambda f: f.name.lower()):
        if function.is_http and function.route is not None:
            url = f"{base_url}{prefix}/{function.route.template.strip('/')}"
            lines.append(f"  {function.name}: [{','.join(function.methods)}] {url}")
        elif function.name in state.timers:
            timer = state.timers[function.name]
            lines.append(f"  {function.name}: timerTrigger (schedule '{timer.schedule.expression}')")
        elif function.name in state.timer_errors:
            lines.append(f"  {function.name}: timerTrigger NOT STARTED: {state.timer_errors[function.name]}")
        else:
            lines.append(f"  {function.name}: {function.trigger_type} (not run by the devhost)")
    lines += ["", f"Demo page: {base_url}/demo/", ""]
    return "\n".join(lines)


async def start_runtime(mode: str, app_dir: Path) -> FunctionRunner:
    """Index the app in the chosen mode (inside the serving event loop: the worker dispatches there)."""
    if mode == "worker":
        from devhost.worker.runner import WorkerRunner

        return await WorkerRunner.start(app_dir, PROJECT_ROOT / ".local" / "worker-protos")
    return DirectRunner.start(app_dir)


def timer_storage(app_dir: Path) -> TimerStorage | None:
    container = hosts_container()
    if container is None:
        return None
    return TimerStorage(container, host_id(app_dir), SingletonOptions.load(app_dir))


async def build_state(args: argparse.Namespace, settings: LocalSettings, app_dir: Path) -> HostState:
    origins = parse_origins(args.cors) if args.cors is not None else settings.cors_origins
    cors = CorsPolicy(origins, args.cors_credentials or settings.cors_credentials)
    prefix = route_prefix_from_host_json(app_dir)
    if args.demo_only:
        return HostState(None, settings.keys, cors, prefix)
    mode = resolve_mode(args.mode)
    runtime = await start_runtime(mode, app_dir)
    storage = timer_storage(app_dir)
    state = HostState(runtime, settings.keys, cors, prefix, timer_storage=storage)
    if state.timers and storage is None:
        log.warning("AzureWebJobsStorage is not a connection string: timers run without the singleton "
                    "lock and schedule status (as if one host, never restarted)")  # fmt: skip
    elif storage is not None:
        log.info("Host id %s; timer locks and status in %s", storage.host_id, storage.container.container_name)
    log.info("Mode: %s (Python %d.%d), %d functions", mode, *sys.version_info[:2], len(state.functions))
    return state


async def run(args: argparse.Namespace, settings: LocalSettings, app_dir: Path, port: int) -> int:
    """Index, then serve; a startup error is printed and ends the process with 2."""
    try:
        state = await build_state(args, settings, app_dir)
    except STARTUP_ERRORS as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 2
    try:
        await serve(state, port, args.host)
    finally:
        close = getattr(state.runtime, "close", None)
        if close is not None:
            close()
        if state.timer_storage is not None:
            await state.timer_storage.container.close()
    return 0


async def serve(state: HostState, port: int, display_host: str) -> None:
    """Serve on loopback (with Kestrel's request limits) until SIGINT/SIGTERM, then stop timers and in-flight work."""
    runner = web.AppRunner(build_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    assert runner.server is not None
    loop = asyncio.get_running_loop()
    connections = protocol_factory(runner.server)
    listeners = [await loop.create_server(connections, "127.0.0.1", port, reuse_address=True)]
    try:
        listeners.append(await loop.create_server(connections, "::1", port, reuse_address=True))
    except OSError:
        log.debug("no IPv6 loopback; serving on 127.0.0.1 only")
    print(banner(state, f"http://{display_host}:{port}"), flush=True)
    if state.keys.generated:
        print("No DevHost section in local settings: keys generated for this run only.", flush=True)
    log.info("Host started; press Ctrl+C to shut down")
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("Shutting down")
    for listener in listeners:
        listener.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("DEVHOST_LOG_LEVEL", "INFO"),
        stream=sys.stderr,
        format="[%(asctime)s] %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    app_dir = args.app_dir.resolve()
    os.chdir(app_dir)
    settings_path = args.settings if args.settings.is_absolute() else app_dir / args.settings
    try:
        if ensure_settings_file(settings_path, app_dir):
            print(f"Created {settings_path} from local.settings.sample.json", flush=True)
        settings = load_settings(settings_path)
        apply_values(settings.values)
        os.environ.setdefault("AzureWebJobsScriptRoot", str(app_dir))
        if args.demo_only:
            os.environ["DEMO_API_BASE"] = args.demo_only.rstrip("/")
    except STARTUP_ERRORS as error:
        print(f"devhost: {error}", file=sys.stderr)
        return 2
    if not args.no_web_build:
        ensure_web_built()
    port = args.port or settings.http_port or 7071
    try:
        return asyncio.run(run(args, settings, app_dir, port))
    except OSError as error:
        print(f"devhost: cannot listen on 127.0.0.1:{port}: {error.strerror or error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
