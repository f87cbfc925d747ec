"""Dev sign-in issuer: the claims of Entra ID's tokens for one local tenant, and a local-only mint endpoint.

Entra signs v1 access tokens as `https://sts.windows.net/<tid>/` (trailing slash) and v2 tokens as
`https://login.microsoftonline.com/<tid>/v2.0`; the two differ in host and path but share their keys.
Locally both live on the issuer's own HTTPS origin (see entra/app.py), so they differ in path only:

    v1  https://127.0.0.1:<port>/<tid>/        v2  https://127.0.0.1:<port>/<tid>/v2.0

Any tenant is served (as Entra serves every tenant), so multi-tenant tests can mint for another
`tid`. The claim shapes follow Entra's access and ID token references; see `mint_claims`, which the
OAuth endpoints use too. `POST /issuer/mint` lives on the plain-http local listener (CORS open) so
tests and the demo page can mint without a sign-in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from local_azure.signing import SigningKey, b64url

# The local API registration. Fixed values (not generated) so local.settings.sample.json can name them.
DEFAULT_TENANT_ID = "7e5f1c2a-9b3d-4e6f-8a1b-2c3d4e5f6a7b"
API_CLIENT_ID = "5d1b0c7e-3f2a-4b8c-9d6e-0a1b2c3d4e5f"  # the API's application (client) id: v2 `aud`
DEFAULT_AUDIENCE = "api://acs-token-service"  # the API's App ID URI: v1 `aud`
REQUIRED_SCOPE = "access_as_user"
# The client that signs users in (the demo page, a SPA): `azp` (v2) / `appid` (v1) of user tokens.
DEFAULT_CLIENT_APP_ID = "0c9a8b7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"
API_SCOPE = f"{DEFAULT_AUDIENCE}/{REQUIRED_SCOPE}"  # what a SPA asks for
ADMIN_ROLE = "TokenService.Admin"  # the API's app role (AUTH_ADMIN_ROLE's sample value)
# The operator daemon (client credentials): its id is fixed, its secret and certificate generated (material.py).
OPERATOR_CLIENT_ID = "3f6e2d1c-0b9a-4c8d-9e7f-6a5b4c3d2e1f"
KINDS = ("v1", "v2", "app", "id")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Max-Age": "600",
}


def v1_issuer(origin: str, tenant_id: str) -> str:
    return f"{origin}/{tenant_id}/"


def v2_issuer(origin: str, tenant_id: str) -> str:
    return f"{origin}/{tenant_id}/v2.0"


@dataclass(frozen=True)
class IssuerService:
    key: SigningKey
    base: str  # the issuer's origin, https://127.0.0.1:<port>: its issuers are below it
    tenant_id: str = DEFAULT_TENANT_ID

    @property
    def issuers(self) -> tuple[str, str]:
        """The home tenant's v1 and v2 issuers, in that order."""
        return v1_issuer(self.base, self.tenant_id), v2_issuer(self.base, self.tenant_id)


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


async def keys(request: web.Request) -> web.Response:
    return web.json_response(request.app[ISSUER].key.jwks())


def _bad(message: str) -> web.Response:
    return web.json_response({"error": "invalid_request", "error_description": message}, status=400)


# Claims a caller may set or (with null) remove, overriding the shape's defaults.
_OVERRIDABLE = ("oid", "sub", "name", "appid", "azp", "scp", "tid", "idtyp", "nonce", "preferred_username")


def pairwise_sub(tenant_id: str, oid: str, client_app: str) -> str:
    """Entra's `sub` is pairwise: stable per user and application, and never equal to `oid`."""
    return b64url(hashlib.sha256(f"{tenant_id}|{oid}|{client_app}".encode()).digest())


def _version(kind: str, body: dict[str, Any], ours: bool) -> str:
    if kind in ("v1", "v2"):
        return "1.0" if kind == "v1" else "2.0"
    ver = body.get("ver")
    if ver is None:
        # Entra picks the version from the resource's accepted version: ours takes v2, Microsoft's own
        # resources (the Teams exchange audience) take v1.
        return "2.0" if ours or kind == "id" else "1.0"
    if ver not in ("1.0", "2.0"):
        raise ValueError("ver must be '1.0' or '2.0'")
    return str(ver)


def _audience(body: dict[str, Any], kind: str, ver: str) -> str:
    """`aud` in the body names the requested resource: for our API, Entra's v2 tokens (and ID tokens)
    carry the API's client id, v1 tokens the identifier as requested; other resources pass through."""
    requested = body.get("aud")
    if requested not in (None, DEFAULT_AUDIENCE, API_CLIENT_ID):
        return str(requested)
    if kind == "id" or ver == "2.0":
        return API_CLIENT_ID
    return str(requested or DEFAULT_AUDIENCE)


def mint_claims(body: Any, base: str, default_tenant: str, now: float) -> dict[str, Any]:
    """Claims for a mint request; ValueError names what is wrong.

    kind `v2` (default for our API) and `v1`: delegated user access tokens with `scp`; `app`: an
    app-only access token (`roles`, no `scp`, `oid` = `sub` = the client's service principal,
    `idtyp: app`); `id`: an ID token (`aud` = client id, no `scp`, no `azp`/`appid`).
    """
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    for name in (*_OVERRIDABLE, "aud", "kind", "ver"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            raise ValueError(f"{name} must be a string")
    kind = body.get("kind")
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}")
    roles = body.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise ValueError("roles must be an array of strings")
    numbers = {}
    for name, default in (("lifetime_seconds", 3600), ("not_before_seconds", 0)):
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        numbers[name] = value
    ours = body.get("aud") in (None, DEFAULT_AUDIENCE, API_CLIENT_ID)
    kind = kind or ("v2" if ours else "v1")
    ver = _version(kind, body, ours)
    aud = _audience(body, kind, ver)
    tenant_id = body.get("tid") or default_tenant
    client_app = body.get("appid") or body.get("azp") or DEFAULT_CLIENT_APP_ID
    if kind == "app":
        oid = body.get("oid") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{tenant_id}:{client_app}"))
        subject = body.get("sub") or oid
    else:
        if not body.get("sub") and not body.get("oid"):
            raise ValueError("sub (or oid) is required")
        oid = body.get("oid")
        subject = body.get("sub") or pairwise_sub(tenant_id, str(oid), client_app)
    iat = int(now)
    claims: dict[str, Any] = {
        "aud": aud,
        "iss": v2_issuer(base, tenant_id) if ver == "2.0" else v1_issuer(base, tenant_id),
        "iat": iat,
        "nbf": iat + numbers["not_before_seconds"],
        "exp": iat + numbers["lifetime_seconds"],
        "sub": subject,
        "tid": tenant_id,
        "uti": b64url(secrets.token_bytes(16)),
        "ver": ver,
    }
    if oid:
        claims["oid"] = oid
    if kind != "id":  # access tokens name their client; ID tokens never do
        if ver == "2.0":
            claims.update(azp=client_app, azpacr="1" if kind == "app" else "0")
        else:
            claims.update(appid=client_app, appidacr="1" if kind == "app" else "0")
    if kind in ("v1", "v2"):
        claims["scp"] = REQUIRED_SCOPE
    if kind == "app":
        claims["idtyp"] = "app"
    if roles:
        claims["roles"] = roles
    for name in _OVERRIDABLE:
        if name in body:
            if body[name] is None:
                claims.pop(name, None)
            elif name not in ("tid",):
                claims[name] = body[name]
    return claims


async def mint(request: web.Request) -> web.Response:
    service = request.app[ISSUER]
    try:
        body = await request.json(loads=json.loads)
        claims = mint_claims(body, service.base, service.tenant_id, time.time())
    except ValueError as error:
        return _bad(str(error))
    return web.json_response({"access_token": service.key.sign(claims, x5t=True), "expires_on": claims["exp"]})


def add_mint_routes(app: web.Application) -> None:
    """The local-only routes on the plain-http listener; discovery and OAuth live on the HTTPS origin."""
    app.router.add_get("/issuer/keys", keys)
    app.router.add_post("/issuer/mint", mint)
