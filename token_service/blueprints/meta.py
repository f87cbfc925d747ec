"""Health and the OpenAPI description: anonymous, no secrets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import azure.functions as func

from token_service.http.endpoint import RequestContext, http_function
from token_service.http.responses import json_response
from token_service.http.routes import ANYONE, Reply, registered_routes
from token_service.services import Services

bp = func.Blueprint()
ACS_SCOPE = "https://communication.azure.com//.default"
CHECK_TIMEOUT_SECONDS = 5.0


async def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
        ok, error = True, None
    except Exception as exc:
        ok, error = False, type(exc).__name__
    result: dict[str, Any] = {"ok": ok, "ms": round((time.perf_counter() - started) * 1000, 1)}
    if error:
        result["error"] = error
    return result


@http_function(
    bp,
    "health",
    "GET",
    ANYONE,
    summary="Liveness and dependency readiness",
    replies={200: Reply("Ready", "Health"), 503: Reply("Not ready", "Health")},
)
async def health(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """Liveness plus readiness of the registry and of the managed identity for ACS."""
    registry, identity = await asyncio.gather(
        _timed(services.registry.ping()), _timed(services.credential.get_token(ACS_SCOPE))
    )
    ready = registry["ok"] and identity["ok"]
    body = {"status": "ok" if ready else "degraded", "checks": {"registry": registry, "managedIdentity": identity}}
    return json_response(body, 200 if ready else 503, no_store=True)


@http_function(
    bp,
    "openapi.json",
    "GET",
    ANYONE,
    summary="This document",
    replies={200: Reply("OpenAPI 3.1", any_json=True)},
)
async def openapi(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    from token_service.http.openapi import openapi_document  # only this route needs it (cold start)

    return json_response(openapi_document(registered_routes(), services.settings))
