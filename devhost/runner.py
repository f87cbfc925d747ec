"""What the rest of the devhost (routing, keys, CORS, timers) needs from whoever runs the functions.

Two implementations: `devhost.direct` (imports function_app and calls it; Python 3.11) and
`devhost.worker.runner` (drives Microsoft's azure-functions-runtime through the worker protocol;
Python 3.13+). Both answer the same requests the same way.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

from aiohttp import web

from devhost.functions import FunctionSpec

MODES = ("direct", "worker", "auto")


class RunnerStartError(Exception):
    """The app could not be indexed (the host's 'Worker failed to index functions')."""


class FunctionRunner(Protocol):
    """A function catalogue plus invocation; built once at devhost start."""

    mode: str
    functions: list[FunctionSpec]

    async def invoke_http(
        self, function: FunctionSpec, request: web.Request, route_params: dict[str, str], reason: str
    ) -> web.StreamResponse:
        """Run an HTTP function for this request; failures are logged and answered 500."""
        ...

    async def invoke_timer(self, function: FunctionSpec, timer_info: dict[str, Any], reason: str) -> bool:
        """Run a timer function with the host's TimerInfo JSON; False when it failed (already logged)."""
        ...


def resolve_mode(requested: str, version: tuple[int, int] | None = None) -> str:
    """auto: worker on Python 3.13+ (azure-functions-runtime's range), direct below."""
    current = version or (sys.version_info.major, sys.version_info.minor)
    if requested == "auto":
        return "worker" if current >= (3, 13) else "direct"
    if requested == "worker" and current < (3, 13):
        raise RunnerStartError(
            f"--mode worker needs Python 3.13+ (azure-functions-runtime); this is {current[0]}.{current[1]}"
        )
    return requested
