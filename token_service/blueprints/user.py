"""Routes for signed-in end users: their own token, Teams exchange, and deleting themselves."""

from __future__ import annotations

import azure.functions as func

from token_service.errors import InvalidRequest, Unauthenticated
from token_service.http.callers import caller
from token_service.http.endpoint import RequestContext, http_function
from token_service.http.inputs import read_json_object, token_request
from token_service.http.responses import json_response, no_content, token_body
from token_service.http.routes import SIGNED_IN, Reply
from token_service.services import Services

bp = func.Blueprint()

TEAMS_TOKEN_HEADER = "X-Teams-Token"


@http_function(
    bp,
    "token",
    "POST",
    SIGNED_IN,
    summary="Get-or-create the caller's identity and issue a token",
    body="TokenRequest",
    replies={
        200: Reply("Token for the caller's existing identity", "TokenResponse"),
        201: Reply("Identity created and token issued", "TokenResponse"),
    },
    errors=(400, 401, 403, 413, 415, 429, 503),
)
async def issue_user_token(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """Get-or-create the caller's ACS identity and issue a token: 201 when created, 200 when found."""
    principal = await caller(req, services, context)
    request = token_request(req, services.settings)
    result = await services.users.token_for_user(principal.user_key, request)
    services.telemetry.token_issued(context.function)
    status = 201 if result.created else 200
    return json_response(token_body(result.communication_user_id, result.token), status, no_store=True)


@http_function(
    bp,
    "token/teams",
    "POST",
    SIGNED_IN,
    summary="Exchange the caller's Teams (Entra ID) token for an ACS token",
    parameters=(TEAMS_TOKEN_HEADER,),
    replies={200: Reply("ACS token for the Teams user", "TeamsTokenResponse")},
    errors=(400, 401, 403, 413, 415, 429, 501, 503),
)
async def exchange_teams_token(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """Exchange the caller's Entra ID token (header X-Teams-Token, never the URL) for an ACS token."""
    principal = await caller(req, services, context)
    read_json_object(req)
    entra_token = (req.headers.get(TEAMS_TOKEN_HEADER) or "").strip()
    if not entra_token:
        raise InvalidRequest(f"the Teams user's Entra ID token goes in the {TEAMS_TOKEN_HEADER} header")
    if principal.object_id is None:
        raise Unauthenticated("a Teams exchange needs a token with an oid claim")
    token = await services.users.exchange_teams_token(entra_token, principal.object_id, principal.user_key)
    services.telemetry.token_issued(context.function)
    body = {"token": token.token, "expiresOn": token.expires_on}
    return json_response(body, 200, no_store=True)


@http_function(
    bp,
    "me",
    "DELETE",
    SIGNED_IN,
    summary="Revoke and delete the caller's own identity",
    replies={204: Reply("Deleted")},
    errors=(401, 403, 404, 429, 503),
)
async def delete_me(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """Revoke and delete the caller's own identity; the next token request creates a new one."""
    principal = await caller(req, services, context)
    await services.users.delete_for_user(principal.user_key)
    return no_content()
