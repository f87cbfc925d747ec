"""Index the app's functions the way the Python worker does: import function_app, read triggers."""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import azure.functions as func

from devhost.routes import RouteTemplate, compile_route

log = logging.getLogger("devhost")

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


class IndexingError(Exception):
    """function_app.py could not be imported or declares something the devhost cannot serve."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function: its name, trigger, and the user callable with its trigger argument name."""

    name: str
    trigger_type: str
    arg_name: str
    user_function: Callable[..., Any] | None  # None in worker mode: the worker holds the code
    trigger: dict[str, Any] = field(default_factory=dict)
    route: RouteTemplate | None = None
    methods: tuple[str, ...] = ()
    auth_level: str = "function"
    function_id: str = ""  # the worker's id for the function (worker mode)
    bindings: tuple[dict[str, Any], ...] = ()  # every binding as the metadata states it

    @property
    def is_http(self) -> bool:
        return self.trigger_type == "httpTrigger"

    @functools.cached_property
    def wants_context(self) -> bool:
        """Read once: a function's signature does not change, and inspecting it is work on every request's path."""
        if self.user_function is None:
            return False
        return "context" in inspect.signature(self.user_function).parameters


def load_function_app(app_dir: Path, module_name: str = "function_app") -> func.FunctionApp:
    """Import <app_dir>/function_app.py and return its FunctionApp (any global name, as the worker)."""
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise IndexingError(f"importing {app_dir / (module_name + '.py')} failed: {error!r}") from error
    apps = [value for value in vars(module).values() if isinstance(value, func.FunctionApp)]
    if len(apps) != 1:
        raise IndexingError(f"{module_name}.py must define exactly one FunctionApp, found {len(apps)}")
    return apps[0]


def index_functions(app: func.FunctionApp) -> list[FunctionSpec]:
    """FunctionSpecs for every function of the app; unsupported bindings are warned about."""
    specs: list[FunctionSpec] = []
    for function in app.get_functions():
        trigger = function.get_trigger()
        if trigger is None:
            raise IndexingError(f"function {function.get_function_name()} has no trigger")
        raw = {key: _plain(value) for key, value in trigger.get_dict_repr().items()}
        name = function.get_function_name()
        extra = [
            binding.get_dict_repr().get("type")
            for binding in function.get_bindings()
            if binding is not trigger and binding.get_dict_repr().get("type") != "http"
        ]
        if extra:
            log.warning("function %s: bindings %s are not provided by the devhost", name, extra)
        bindings = tuple(json.loads(raw) for raw in function.get_raw_bindings())  # what a worker reports
        specs.append(function_spec(str(name), raw, function.get_user_function(), bindings=bindings))
    return specs


def function_spec(
    name: str,
    trigger: dict[str, Any],
    user_function: Callable[..., Any] | None,
    function_id: str = "",
    bindings: tuple[dict[str, Any], ...] = (),
) -> FunctionSpec:
    """A FunctionSpec from a trigger binding as a dict (get_dict_repr, or the worker's raw_bindings)."""
    spec = FunctionSpec(
        name, str(trigger["type"]), str(trigger["name"]), user_function, trigger, function_id=function_id,
        bindings=bindings,
    )  # fmt: skip
    if not spec.is_http:
        return spec
    return replace(
        spec,
        route=compile_route(str(trigger.get("route") or name)),
        methods=tuple(str(m).upper() for m in trigger.get("methods") or ALL_METHODS),
        auth_level=str(trigger.get("authLevel") or "function").lower(),
    )


def _plain(value: Any) -> Any:
    """Enum members in trigger dicts (AuthLevel, HttpMethod, BindingDirection) as their values."""
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return getattr(value, "value", value)
