"""Identity administration: admin app role AND a function key (authLevel FUNCTION)."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from token_service.blueprints.common import admin, identity_id, token_body, token_request
from token_service.errors import InvalidRequest
from token_service.http_support import (
    RequestContext,
    endpoint,
    json_response,
    no_content,
    optional_minutes,
    optional_scopes,
    read_json_object,
)
from token_service.identity_service import validate_token_request
from token_service.registry import IdentityRecord

bp = func.Blueprint()
ADMIN = func.AuthLevel.FUNCTION


def _record_body(record: IdentityRecord) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "communicationUserId": record.acs_id,
        "state": record.state,
        "owner": record.owner,
        "createdAt": iso(record.created_at),
        "lastTokenIssuedAt": iso(record.last_token_at),
        "scopes": [scope for scope in record.scopes.split(",") if scope],
        "deletedAt": iso(record.deleted_at),
        "deletedReason": record.deleted_reason,
    }


@bp.function_name("create_identity")
@bp.route(route="identities", methods=["POST"], auth_level=ADMIN)
@endpoint("create_identity", "identities")
async def create_identity(req: func.HttpRequest, context: RequestContext) -> func.HttpResponse:
    """Create an identity; with `scopes` (and optional `expiresInMinutes`) also a token."""
    runtime = await admin(req, context)
    body = read_json_object(req, {"scopes", "expiresInMinutes"})
    scopes, minutes = optional_scopes(body), optional_minutes(body)
    if scopes is None and minutes is not None:
        raise InvalidRequest("expiresInMinutes needs scopes: without scopes no token is issued")
    request = validate_token_request(scopes, minutes, runtime.settings) if scopes is not None else None
    record, token = await runtime.identities.create_identity(request)
    response: dict[str, Any] = token_body(record.acs_id, token) if token else {"communicationUserId": record.acs_id}
    return json_response(response, 201, no_store=True)


@bp.function_name("get_identity")
@bp.route(route="identities/{id}", methods=["GET"], auth_level=ADMIN)
@endpoint("get_identity", "identities/{id}")
async def get_identity(req: func.HttpRequest, context: RequestContext) -> func.HttpResponse:
    """The registry record, tombstones included."""
    runtime = await admin(req, context)
    record = await runtime.identities.get_record(identity_id(req))
    return json_response(_record_body(record), 200, no_store=True)


@bp.function_name("issue_identity_token")
@bp.route(route="identities/{id}/token", methods=["POST"], auth_level=ADMIN)
@endpoint("issue_identity_token", "identities/{id}/token")
async def issue_identity_token(req: func.HttpRequest, context: RequestContext) -> func.HttpResponse:
    runtime = await admin(req, context)
    acs_id = identity_id(req)
    request = token_request(req, runtime)
    token = await runtime.identities.issue_for_identity(acs_id, request)
    return json_response(token_body(acs_id, token), 200, no_store=True)


@bp.function_name("revoke_identity_tokens")
@bp.route(route="identities/{id}/revoke", methods=["POST"], auth_level=ADMIN)
@endpoint("revoke_identity_tokens", "identities/{id}/revoke")
async def revoke_identity_tokens(req: func.HttpRequest, context: RequestContext) -> func.HttpResponse:
    runtime = await admin(req, context)
    acs_id = identity_id(req)
    read_json_object(req, set())
    await runtime.identities.revoke(acs_id)
    return no_content()


@bp.function_name("delete_identity")
@bp.route(route="identities/{id}", methods=["DELETE"], auth_level=ADMIN)
@endpoint("delete_identity", "identities/{id}")
async def delete_identity(req: func.HttpRequest, context: RequestContext) -> func.HttpResponse:
    runtime = await admin(req, context)
    await runtime.identities.delete(identity_id(req), "admin-request")
    return no_content()
