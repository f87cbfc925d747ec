"""The local issuer's own HTTPS origin, laid out as Entra's (`https://127.0.0.1:<port>/<tenant>/...`).

MSAL needs an https authority whose first path segment is the tenant and whose discovery `issuer`
lives on the same origin; Entra matches its paths case-insensitively, so one catch-all route
dispatches on the lower-cased path. CORS is open (`*`, no credentials): MSAL fetches discovery and
posts to the token endpoint from the page's origin; the session cookie only rides on navigations.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from local_azure.entra.authorize import authorize, logout, sign_in
from local_azure.entra.discovery import discovery_document
from local_azure.entra.service import ENTRA, EntraService
from local_azure.entra.token_endpoint import token

Endpoint = Callable[[web.Request, str, bool], Awaitable[web.StreamResponse]]
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization, client-request-id, return-client-request-id, "
    "x-client-sku, x-client-ver, x-client-os, x-client-cpu, x-client-current-telemetry, x-client-last-telemetry, "
    "x-ms-lib-capability, x-anchormailbox",
    "Access-Control-Expose-Headers": "x-ms-request-id, client-request-id, x-ms-clitelem",
    "Access-Control-Max-Age": "600",
}


async def _discovery(request: web.Request, tenant: str, v2: bool) -> web.StreamResponse:
    return web.json_response(discovery_document(request.app[ENTRA].origin, tenant, v2))


async def _keys(request: web.Request, tenant: str, v2: bool) -> web.StreamResponse:
    return web.json_response(request.app[ENTRA].signer.key.jwks())


_T = r"/(?P<tenant>[^/]+)"
ROUTES: tuple[tuple[frozenset[str], re.Pattern[str], bool, Endpoint], ...] = tuple(
    (frozenset(methods), re.compile(f"^{_T}{path}$", re.IGNORECASE), v2, endpoint)
    for methods, path, v2, endpoint in (
        ({"GET"}, r"/v2\.0/\.well-known/openid-configuration", True, _discovery),
        ({"GET"}, r"/\.well-known/openid-configuration", False, _discovery),
        ({"GET"}, r"/discovery/v2\.0/keys", True, _keys),
        ({"GET"}, r"/discovery/keys", False, _keys),
        ({"GET", "POST"}, r"/oauth2/v2\.0/authorize", True, authorize),
        ({"GET", "POST"}, r"/oauth2/authorize", False, authorize),
        ({"POST"}, r"/oauth2/v2\.0/token", True, token),
        ({"POST"}, r"/oauth2/token", False, token),
        ({"GET", "POST"}, r"/oauth2/v2\.0/logout", True, logout),
        ({"GET", "POST"}, r"/oauth2/logout", False, logout),
        ({"POST"}, r"/login", True, sign_in),
    )
)


async def dispatch(request: web.Request) -> web.StreamResponse:
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=CORS_HEADERS)
    for methods, pattern, v2, endpoint in ROUTES:
        match = pattern.match(request.path)
        if match:
            if request.method not in methods:
                response: web.StreamResponse = web.Response(status=405, headers={"Allow": ", ".join(sorted(methods))})
            else:
                response = await endpoint(request, match["tenant"], v2)
            response.headers.update(CORS_HEADERS)
            return response
    return web.json_response({"error": "not_found", "error_description": "No such endpoint."}, status=404,
                             headers=CORS_HEADERS)  # fmt: skip


def build_entra_app(service: EntraService) -> web.Application:
    app = web.Application()
    app[ENTRA] = service
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
