"""Dev sign-in issuer: OIDC discovery, JWKS and a local-only mint endpoint for end-user JWTs.

Stands in for Entra ID so that tests, the demo page and `make run` can sign users in with any
`oid`/`sub`, roles and lifetime. CORS is open on /issuer/* so a local page can call mint.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from local_azure.signing import SigningKey

DEFAULT_AUDIENCE = "api://acs-token-service"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Max-Age": "600",
}


@dataclass(frozen=True)
class IssuerService:
    key: SigningKey
    issuer: str
    tenant_id: str


ISSUER = web.AppKey("issuer_service", IssuerService)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/issuer"):
        return await handler(request)
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=CORS_HEADERS)
    try:
        response = await handler(request)
    except web.HTTPException as error:
        error.headers.update(CORS_HEADERS)
        raise
    response.headers.update(CORS_HEADERS)
    return response


async def discovery(request: web.Request) -> web.Response:
    service = request.app[ISSUER]
    return web.json_response(
        {
            "issuer": service.issuer,
            "jwks_uri": f"{service.issuer}/keys",
            "authorization_endpoint": f"{service.issuer}/authorize",
            "token_endpoint": f"{service.issuer}/mint",
            "response_types_supported": ["token", "id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "oid", "name", "roles", "aud", "iss", "iat", "nbf", "exp", "tid"],
        }
    )


async def keys(request: web.Request) -> web.Response:
    return web.json_response(request.app[ISSUER].key.jwks())


def _bad(message: str) -> web.Response:
    return web.json_response({"error": "invalid_request", "error_description": message}, status=400)


_OPTIONAL_STRINGS = ("oid", "name", "aud", "appid", "scp", "tid", "sub")


def mint_claims(body: Any, issuer: str, tenant_id: str, now: float) -> dict[str, Any]:
    """Claims for a mint request; ValueError names what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    for name in _OPTIONAL_STRINGS:
        if name in body and not isinstance(body[name], str):
            raise ValueError(f"{name} must be a string")
    if not body.get("sub") and not body.get("oid"):
        raise ValueError("sub (or oid) is required")
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise ValueError("roles must be an array of strings")
    numbers = {}
    for name, default in (("lifetime_seconds", 3600), ("not_before_seconds", 0)):
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        numbers[name] = value
    iat = int(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": body.get("sub") or body["oid"],
        "aud": body.get("aud", DEFAULT_AUDIENCE),
        "iat": iat,
        "nbf": iat + numbers["not_before_seconds"],
        "exp": iat + numbers["lifetime_seconds"],
        "tid": body.get("tid", tenant_id),
        "uti": uuid.uuid4().hex,
        "ver": "2.0",
    }
    for name in ("oid", "name", "appid", "scp"):
        if name in body:
            claims[name] = body[name]
    if roles:
        claims["roles"] = roles
    return claims


async def mint(request: web.Request) -> web.Response:
    service = request.app[ISSUER]
    try:
        body = await request.json(loads=json.loads)
        claims = mint_claims(body, service.issuer, service.tenant_id, time.time())
    except ValueError as error:
        return _bad(str(error))
    return web.json_response({"access_token": service.key.sign(claims), "expires_on": claims["exp"]})


def add_issuer_routes(app: web.Application) -> None:
    app.router.add_get("/issuer/.well-known/openid-configuration", discovery)
    app.router.add_get("/issuer/keys", keys)
    app.router.add_post("/issuer/mint", mint)
