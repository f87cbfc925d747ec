"""The aiohttp application: function routes under the route prefix, Core Tools' admin API, the demo."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from devhost.auth import is_authorized, presented_key, unauthorized
from devhost.cors import CorsPolicy
from devhost.demo import DIST, add_demo_routes
from devhost.functions import FunctionSpec
from devhost.limits import headers_total_limit
from devhost.routes import RouteTemplate, compile_route
from devhost.runner import FunctionRunner
from devhost.settings import HostKeys
from devhost.timers import ScheduleError, TimerRunner, TimerStorage, resolve_schedule

log = logging.getLogger("devhost")

# What the Functions host logs as the reason for both HTTP and admin-API invocations.
ADMIN_REASON = "This function was programmatically called via the host APIs."
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AdminHandler = Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


@dataclass
class HostState:
    """Everything the handlers share; built once at start."""

    runtime: FunctionRunner | None  # None: demo-only
    keys: HostKeys
    cors: CorsPolicy
    route_prefix: str = "api"
    timer_storage: TimerStorage | None = None
    timers: dict[str, TimerRunner] = field(default_factory=dict)
    timer_errors: dict[str, str] = field(default_factory=dict)
    background: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.functions: list[FunctionSpec] = list(self.runtime.functions) if self.runtime else []
        http = (f for f in self.functions if f.is_http and f.route is not None)
        self.http = sorted(http, key=lambda f: f.route.rank if f.route else (0, 0, 0))
        for function in self.functions:
            if function.trigger_type == "timerTrigger" and self.runtime is not None:
                # As the Functions host: a schedule that does not resolve (%NAME% unset or blank) or does
                # not parse is an indexing error of that one function; the host starts without the timer.
                try:
                    schedule = resolve_schedule(str(function.trigger.get("schedule", "")))
                except ScheduleError as error:
                    self.timer_errors[function.name] = str(error)
                    log.error("function %s is not started: %s", function.name, error)
                    continue
                self.timers[function.name] = TimerRunner(function, schedule, self.runtime, self.timer_storage)

    def by_name(self, name: str) -> FunctionSpec | None:
        return next((f for f in self.functions if f.name.lower() == name.lower()), None)


def route_prefix_from_host_json(app_dir: Path) -> str:
    """host.json `extensions.http.routePrefix` (default "api"), as the Functions host reads it."""
    try:
        document = json.loads((app_dir / "host.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "api"
    prefix = document.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


def build_app(state: HostState, dist: Path = DIST) -> web.Application:
    """The whole host; timers start and stop with the aiohttp app's lifecycle."""
    app = web.Application(middlewares=[headers_total_limit, state.cors.middleware], client_max_size=100 * 1024 * 1024)
    if state.route_prefix != "":
        add_demo_routes(app, dist, function_key=state.keys.default_function_key)
    # Everything else: the admin API and the function routes, matched as the host's route table does.
    app.router.add_route("*", "/{tail:[\\s\\S]*}", _dispatch(state))
    app.cleanup_ctx.append(_timers(state))
    return app


def _admin_api(state: HostState) -> list[tuple[str, RouteTemplate, AdminHandler]]:
    """The host API routes the devhost serves (Core Tools' and the host's paths); all but ping need the
    master key."""
    with_master_key = [
        ("POST", compile_route("admin/functions/{name}"), _admin_invoke(state)),
        ("GET", compile_route("admin/host/status"), _host_status(state)),
        ("GET", compile_route("admin/functions"), _function_list(state)),
    ]
    ping = [(method, compile_route("admin/host/ping"), _ping) for method in ("GET", "POST")]
    return [(method, route, _master_key_required(state, h)) for method, route, h in with_master_key] + ping


def _master_key_required(state: HostState, handler: AdminHandler) -> AdminHandler:
    async def checked(request: web.Request, values: dict[str, str]) -> web.StreamResponse:
        key = presented_key(request)
        if key is None or not state.keys.accepts_master_key(key):
            return unauthorized()
        return await handler(request, values)

    return checked


def _dispatch(state: HostState) -> Handler:
    """As the host's route table: paths and the route prefix ignore case; a method a route does not list,
    HEAD included (it is not GET there), and an unmatched path are an empty 404 (never 405)."""
    prefix = f"/{state.route_prefix}".lower() if state.route_prefix else ""
    admin_api = _admin_api(state)

    async def handler(request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path
        for method, route, admin_handler in admin_api:
            values = route.match(raw.lstrip("/"))
            if values is not None and request.method == method:
                return await admin_handler(request, values)
        if prefix and raw.lower() != prefix and not raw.lower().startswith(prefix + "/"):
            return web.Response(status=404)
        raw_path = raw[len(prefix) :].lstrip("/")
        for function in state.http:
            assert function.route is not None
            values = function.route.match(raw_path)
            if values is not None and request.method in function.methods:
                return await _serve(state, function, request, values)
        return web.Response(status=404)

    return handler


async def _serve(
    state: HostState, function: FunctionSpec, request: web.Request, route_params: dict[str, str]
) -> web.StreamResponse:
    if not is_authorized(function.auth_level, request, state.keys):
        log.info("401 %s %s: missing or wrong key (authLevel %s)", request.method, request.path,
                 function.auth_level)
        return unauthorized()
    assert state.runtime is not None
    return await state.runtime.invoke_http(function, request, route_params, ADMIN_REASON)


def _admin_invoke(state: HostState) -> AdminHandler:
    """Core Tools' `POST /admin/functions/{name}`: run a non-HTTP function now, answer 202."""

    async def handler(request: web.Request, values: dict[str, str]) -> web.StreamResponse:
        function = state.by_name(values["name"])
        if function is None:
            return web.Response(status=404)
        if function.is_http:
            return web.json_response({"error": "HTTP functions are called through their own URL"}, status=400)
        timer = state.timers.get(function.name)
        if timer is None:
            message = f"{function.trigger_type} functions cannot be run by the devhost"
            return web.json_response({"error": message}, status=400)
        task = asyncio.create_task(timer.run_now(ADMIN_REASON))
        state.background.add(task)
        task.add_done_callback(state.background.discard)
        return web.Response(status=202)

    return handler


def _host_status(state: HostState) -> AdminHandler:
    async def handler(request: web.Request, _: dict[str, str]) -> web.StreamResponse:
        mode = state.runtime.mode if state.runtime else "demo-only"
        return web.json_response({"state": "Running", "mode": mode, "functions": [f.name for f in state.functions]})

    return handler


def _function_list(state: HostState) -> AdminHandler:
    """The host's `GET /admin/functions`: each function's name and bindings, as indexed (master key)."""

    async def handler(request: web.Request, _: dict[str, str]) -> web.StreamResponse:
        prefix = f"/{state.route_prefix}" if state.route_prefix else ""
        listing = [
            {
                "name": function.name,
                "language": "python",
                "isDisabled": False,
                "config": {"bindings": list(function.bindings)},
                "invoke_url_template": (
                    f"{request.scheme}://{request.host}{prefix}/{function.route.template.strip('/')}"
                    if function.route is not None
                    else None
                ),
            }
            for function in state.functions
        ]
        return web.json_response(listing)

    return handler


async def _ping(_: web.Request, __: dict[str, str]) -> web.StreamResponse:
    return web.Response(status=200)


def _timers(state: HostState) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(_: web.Application) -> AsyncIterator[None]:
        for timer in state.timers.values():
            timer.start()
        yield
        for timer in state.timers.values():
            await timer.stop()
        for task in list(state.background):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)

    return context
