"""The one decorator every HTTP function uses: route, the worker's services, error mapping, the
request's metrics and log line.

`@http_function(bp, "identities/{id}", "GET", ADMIN, summary=..., replies=...)` registers the handler
under its own `__name__` (as azure-functions does without `function_name`), so each endpoint is named
once, and records the route (routes.py) that the OpenAPI document is generated from. The handler is
called as `handler(req, services, context)`; the registered function keeps the signature `(req)`, which
is what the Functions worker reads to bind the trigger.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from token_service.errors import ServiceError
from token_service.http.responses import problem_response
from token_service.http.routes import Access, Reply, Route, record_route
from token_service.services import Services, get_services
from token_service.telemetry.request_log import log_request, start_request

log = logging.getLogger("token_service.http")

Handler = Callable[[func.HttpRequest, Services, "RequestContext"], Awaitable[func.HttpResponse]]


@dataclass
class RequestContext:
    """Per-request facts for the metrics and the log line: the function, and who called once known."""

    function: str
    user_key: str | None = None  # set by callers.py as soon as the caller is authenticated


def http_function(
    blueprint: func.Blueprint,
    route: str,
    method: str,
    access: Access,
    *,
    summary: str,
    replies: Mapping[int, Reply],
    errors: tuple[int, ...] = (),
    body: str | None = None,
    parameters: tuple[str, ...] = (),
) -> Callable[[Handler], Any]:
    """Register `handler` as the HTTP function `handler.__name__` on `route` for `method`, and record
    the route with what the document says of it (routes.Route names each argument's meaning)."""

    def register(handler: Handler) -> Any:
        record_route(Route(handler.__name__, route, method, access, summary, replies, errors, body, parameters))
        wrapped = _with_errors_and_log(handler, route)
        return blueprint.route(route=route, methods=[method], auth_level=access.auth_level)(wrapped)

    return register


def _with_errors_and_log(handler: Handler, route: str) -> Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]:
    """The handler runs with the worker's services; domain errors become problem+json, anything
    unexpected (a failure to build the services included) a generic 500; every request ends with its
    metrics and one log line."""
    function_name = handler.__name__

    async def run(req: func.HttpRequest) -> func.HttpResponse:
        started = time.perf_counter()
        calls = start_request()
        context = RequestContext(function_name)
        services: Services | None = None
        code: str | None = None
        try:
            services = get_services()
            response = await handler(req, services, context)
        except ServiceError as error:
            code = error.code
            response = problem_response(
                error.status, error.code, error.title, error.detail, error.retry_after, error.challenge
            )
        except Exception as error:
            code = "internal_error"
            # Frames but not the message: a message may quote input, and input may hold a token.
            frames = "".join(traceback.format_tb(error.__traceback__))
            log.error("unhandled %s in %s\n%s", type(error).__name__, function_name, frames)
            response = problem_response(500, code, "Internal error", "an unexpected error occurred")
        elapsed_ms = (time.perf_counter() - started) * 1000
        if services is not None:  # none only when the services could not be built (that 500 is logged)
            services.telemetry.request(function_name, response.status_code, code, elapsed_ms)
        log_request(
            function=function_name,
            method=req.method,
            route=route,
            status=response.status_code,
            duration_ms=elapsed_ms,
            user_key=context.user_key,
            calls=calls,
            code=code,
        )
        return response

    # Not functools.wraps: the Functions worker reads the signature, which must stay (req).
    run.__name__ = run.__qualname__ = function_name
    run.__doc__ = handler.__doc__
    return run
