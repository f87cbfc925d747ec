"""App Service style managed-identity endpoint (`IDENTITY_ENDPOINT` + `IDENTITY_HEADER`, 2019-08-01).

azure-identity (through MSAL for sync, its own client for aio) calls
`GET <IDENTITY_ENDPOINT>?api-version=2019-08-01&resource=...[&client_id=...]` with `X-IDENTITY-HEADER`.
Errors use App Service's `{"statusCode", "message"}` body, which MSAL turns into a credential error.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from local_azure.entra.mi_tokens import MiTokens, normalise_resource
from local_azure.material import ManagedIdentity


@dataclass
class MiService:
    tokens: MiTokens
    identity_header: str
    system_identity: ManagedIdentity
    user_identity: ManagedIdentity
    error_status: int | None = None


MI_SERVICE = web.AppKey("mi_service", MiService)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"statusCode": status, "message": message}, status=status)


def _identity(service: MiService, query: dict[str, str]) -> ManagedIdentity | None:
    """The identity the query selects (client_id, object_id or principal_id); None if unknown."""
    client_id = query.get("client_id")
    object_id = query.get("object_id") or query.get("principal_id")
    if client_id is None and object_id is None and "mi_res_id" not in query:
        return service.system_identity
    user = service.user_identity
    if client_id is not None and client_id.lower() == user.client_id.lower():
        return user
    if object_id is not None and object_id.lower() == user.object_id.lower():
        return user
    return None


async def token(request: web.Request) -> web.Response:
    service = request.app[MI_SERVICE]
    header = request.headers.get("X-IDENTITY-HEADER")
    if header is None:
        return _error(401, "The X-IDENTITY-HEADER header is missing.")
    if not hmac.compare_digest(header.encode(), service.identity_header.encode()):
        return _error(403, "The X-IDENTITY-HEADER header is wrong.")
    if service.error_status is not None:
        return _error(service.error_status, "Injected managed identity fault (local_azure knob).")
    query = dict(request.query)
    if query.get("api-version") != "2019-08-01":
        return _error(400, "api-version must be 2019-08-01.")
    resource = query.get("resource", "")
    audience = normalise_resource(resource)
    if audience is None:
        return _error(400, f"Resource '{resource}' is not supported here (communication, storage and monitor only).")
    identity = _identity(service, query)
    if identity is None:
        return _error(400, "No managed identity with the requested id is assigned to this app.")
    issued = service.tokens.mint(identity, audience)
    return web.json_response(
        {
            "access_token": issued.access_token,
            "expires_on": str(issued.expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id,
        }
    )


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response({"error_status": request.app[MI_SERVICE].error_status})


async def put_faults(request: web.Request) -> web.Response:
    body = await request.json()
    status = body.get("error_status") if isinstance(body, dict) else "missing"
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599):
        return web.json_response({"error": "error_status must be null or an HTTP error status"}, status=400)
    request.app[MI_SERVICE].error_status = status
    return web.json_response({"error_status": status})


def add_managed_identity_routes(app: web.Application) -> None:
    app.router.add_get("/msi/token", token)
    app.router.add_get("/msi/_faults", get_faults)
    app.router.add_put("/msi/_faults", put_faults)
