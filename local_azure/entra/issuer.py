"""Dev sign-in issuer: Entra ID's two issuer identities (v1 and v2) for one local tenant, with their OIDC
discovery documents, a shared JWKS, and a local-only mint endpoint.

Entra signs v1 access tokens as `https://sts.windows.net/<tid>/` (trailing slash) and v2 tokens as
`https://login.microsoftonline.com/<tid>/v2.0`; the two differ in host and path but share their keys.
Locally both live under one loopback base, so they differ in path only:

    v1  <base>/issuer/<tid>/        discovery  <base>/issuer/<tid>/.well-known/openid-configuration
    v2  <base>/issuer/<tid>/v2.0    discovery  <base>/issuer/<tid>/v2.0/.well-known/openid-configuration

Any tenant path is served (as Entra serves every tenant), so multi-tenant tests can mint for another
`tid`. The claim shapes follow Entra's access and ID token references; see `mint_claims`. CORS is
open on /issuer/* so a local page can call mint.
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
KINDS = ("v1", "v2", "app", "id")
CLAIMS_SUPPORTED = (
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
    "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
    "c_hash", "email",
)  # fmt: skip
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
    "Access-Control-Max-Age": "600",
}


def v1_issuer(base: str, tenant_id: str) -> str:
    return f"{base}/{tenant_id}/"


def v2_issuer(base: str, tenant_id: str) -> str:
    return f"{base}/{tenant_id}/v2.0"


@dataclass(frozen=True)
class IssuerService:
    key: SigningKey
    base: str  # http://127.0.0.1:<port>/issuer
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


def discovery_document(base: str, tenant_id: str, version: str) -> dict[str, Any]:
    """Entra's openid-configuration, field for field where it matters to a validator."""
    v2 = version == "2.0"
    issuer = v2_issuer(base, tenant_id) if v2 else v1_issuer(base, tenant_id)
    oauth = f"{base}/{tenant_id}/oauth2" + ("/v2.0" if v2 else "")
    document: dict[str, Any] = {
        "token_endpoint": f"{oauth}/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/{tenant_id}/discovery/v2.0/keys" if v2 else f"{base}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer,
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{oauth}/authorize",
        "device_authorization_endpoint": f"{oauth}/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{oauth}/logout",
        "claims_supported": list(CLAIMS_SUPPORTED),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    if not v2:
        document["userinfo_endpoint"] = f"{base}/{tenant_id}/openid/userinfo"
    return document


def _base(request: web.Request) -> str:
    return request.app[ISSUER].base


async def discovery_v1(request: web.Request) -> web.Response:
    return web.json_response(discovery_document(_base(request), request.match_info["tid"], "1.0"))


async def discovery_v2(request: web.Request) -> web.Response:
    return web.json_response(discovery_document(_base(request), request.match_info["tid"], "2.0"))


async def keys(request: web.Request) -> web.Response:
    return web.json_response(request.app[ISSUER].key.jwks())


def _bad(message: str) -> web.Response:
    return web.json_response({"error": "invalid_request", "error_description": message}, status=400)


# Claims a caller may set or (with null) remove, overriding the shape's defaults.
_OVERRIDABLE = ("oid", "sub", "name", "appid", "azp", "scp", "tid", "idtyp", "nonce", "preferred_username")


def _pairwise_sub(tenant_id: str, oid: str, client_app: str) -> str:
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
        subject = body.get("sub") or _pairwise_sub(tenant_id, str(oid), client_app)
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


def add_issuer_routes(app: web.Application) -> None:
    app.router.add_get("/issuer/{tid}/.well-known/openid-configuration", discovery_v1)
    app.router.add_get("/issuer/{tid}/v2.0/.well-known/openid-configuration", discovery_v2)
    app.router.add_get("/issuer/common/discovery/keys", keys)
    app.router.add_get("/issuer/{tid}/discovery/v2.0/keys", keys)
    app.router.add_get("/issuer/keys", keys)
    app.router.add_post("/issuer/mint", mint)
