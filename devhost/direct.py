"""Direct mode: import function_app in this process and call the handlers (Python 3.11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from azure.functions.timer import TimerRequest

from devhost.functions import FunctionSpec, index_functions, load_function_app
from devhost.http_bridge import internal_error, to_function_request, to_web_response
from devhost.invoke import invoke


class DirectRunner:
    """FunctionRunner that indexes `app.get_functions()` itself and calls the user functions."""

    mode = "direct"

    def __init__(self, functions: list[FunctionSpec]) -> None:
        self.functions = functions

    @classmethod
    def start(cls, app_dir: Path) -> DirectRunner:
        return cls(index_functions(load_function_app(app_dir)))

    async def invoke_http(
        self, function: FunctionSpec, request: web.Request, route_params: dict[str, str], reason: str
    ) -> web.StreamResponse:
        try:
            function_request = await to_function_request(request, route_params)
            result = await invoke(function, function_request, reason)
        except Exception:
            return internal_error()
        return to_web_response(result)

    async def invoke_timer(self, function: FunctionSpec, timer_info: dict[str, Any], reason: str) -> bool:
        request = TimerRequest(
            past_due=bool(timer_info.get("IsPastDue")),
            schedule_status=timer_info.get("ScheduleStatus", {}),  # as the worker decodes it
            schedule=timer_info.get("Schedule", {}),
        )
        try:
            await invoke(function, request, reason)
        except Exception:
            return False
        return True
