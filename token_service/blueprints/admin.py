"""Identity administration: admin app role AND a function key (authLevel FUNCTION)."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from token_service.http.callers import admin
from token_service.http.endpoint import RequestContext, http_function
from token_service.http.inputs import identity_id, optional_token_request, read_json_object, token_request
from token_service.http.responses import json_response, no_content, token_body
from token_service.http.routes import ADMIN, Reply
from token_service.registry import IdentityRecord
from token_service.services import Services

bp = func.Blueprint()


def record_body(record: IdentityRecord) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "communicationUserId": record.acs_id,
        "state": record.state.value,
        "owner": record.owner,
        "createdAt": iso(record.created_at),
        "lastTokenIssuedAt": iso(record.last_token_at),
        "scopes": list(record.scopes),
        "deletedAt": iso(record.deleted_at),
        "deletedReason": record.deleted_reason,
        "deletedBy": record.deleted_by,
    }


@http_function(
    bp,
    "identities",
    "POST",
    ADMIN,
    summary="Create an identity, optionally with a token",
    body="CreateIdentityRequest",
    replies={201: Reply("Created", "CreatedIdentity")},
    errors=(400, 401, 403, 413, 415, 429, 503),
)
async def create_identity(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """Create an identity; with `scopes` (and optional `expiresInMinutes`) also a token."""
    await admin(req, services, context)
    request = optional_token_request(req, services.settings)
    record, token = await services.admin.create_identity(request)
    if token is None:
        return json_response({"communicationUserId": record.acs_id}, 201, no_store=True)
    services.telemetry.token_issued(context.function)
    return json_response(token_body(record.acs_id, token), 201, no_store=True)


@http_function(
    bp,
    "identities/{id}",
    "GET",
    ADMIN,
    summary="The registry record of an identity (tombstones included)",
    parameters=("id",),
    replies={200: Reply("Record", "IdentityRecord")},
    errors=(400, 401, 403, 404, 503),
)
async def get_identity(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """The registry record, tombstones included."""
    await admin(req, services, context)
    record = await services.admin.get_record(identity_id(req))
    return json_response(record_body(record), 200, no_store=True)


@http_function(
    bp,
    "identities/{id}/token",
    "POST",
    ADMIN,
    summary="Issue a token for an identity",
    parameters=("id",),
    body="TokenRequest",
    replies={200: Reply("Token", "TokenResponse")},
    errors=(400, 401, 403, 404, 413, 415, 429, 503),
)
async def issue_identity_token(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    await admin(req, services, context)
    acs_id = identity_id(req)
    request = token_request(req, services.settings)
    token = await services.admin.issue_for_identity(acs_id, request)
    services.telemetry.token_issued(context.function)
    return json_response(token_body(acs_id, token), 200, no_store=True)


@http_function(
    bp,
    "identities/{id}/revoke",
    "POST",
    ADMIN,
    summary="Revoke all tokens of an identity (up to 15 minutes to take effect everywhere in ACS)",
    parameters=("id",),
    body="EmptyObject",
    replies={204: Reply("Revoked")},
    errors=(400, 401, 403, 404, 413, 415, 429, 503),
)
async def revoke_identity_tokens(
    req: func.HttpRequest, services: Services, context: RequestContext
) -> func.HttpResponse:
    await admin(req, services, context)
    acs_id = identity_id(req)
    read_json_object(req)
    await services.admin.revoke(acs_id)
    return no_content()


@http_function(
    bp,
    "identities/{id}",
    "DELETE",
    ADMIN,
    summary="Revoke all tokens and delete the identity",
    parameters=("id",),
    replies={204: Reply("Deleted")},
    errors=(400, 401, 403, 404, 429, 503),
)
async def delete_identity(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    await admin(req, services, context)
    await services.admin.delete(identity_id(req), "admin-request")
    return no_content()
