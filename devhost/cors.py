"""CORS from local.settings.json `Host.CORS` / `Host.CORSCredentials`, as `func start` applies it.

Allowed origins get the CORS headers on every response (errors included, so a browser can read
a 401); preflights are answered here, before keys are checked, as browsers send no keys on them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PREFLIGHT_MAX_AGE = "600"


class CorsPolicy:
    """Origins as configured; `*` allows any origin (echoed back when credentials are allowed)."""

    def __init__(self, origins: tuple[str, ...], credentials: bool) -> None:
        self.any_origin = "*" in origins
        self.origins = {origin.lower() for origin in origins if origin != "*"}
        self.credentials = credentials

    def allow_origin_value(self, origin: str) -> str | None:
        if self.any_origin:
            return origin if self.credentials else "*"
        return origin if origin.rstrip("/").lower() in self.origins else None

    def decorate(self, origin: str, headers: MutableMapping[str, str]) -> bool:
        allowed = self.allow_origin_value(origin)
        headers["Vary"] = "Origin"
        if allowed is None:
            return False
        headers["Access-Control-Allow-Origin"] = allowed
        if self.credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return True

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is None:
            return await handler(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            return self.preflight(request, origin)
        try:
            response = await handler(request)
        except web.HTTPException as error:
            self.decorate(origin, error.headers)
            raise
        self.decorate(origin, response.headers)
        return response

    def preflight(self, request: web.Request, origin: str) -> web.Response:
        response = web.Response(status=204)
        if self.decorate(origin, response.headers):
            method = request.headers["Access-Control-Request-Method"]
            response.headers["Access-Control-Allow-Methods"] = method
            requested = request.headers.get("Access-Control-Request-Headers")
            if requested:
                response.headers["Access-Control-Allow-Headers"] = requested
            response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response
