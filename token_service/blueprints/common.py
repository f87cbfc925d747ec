"""Small helpers the HTTP blueprints share: caller checks and response shapes."""

from __future__ import annotations

import re
from typing import Any

import azure.functions as func

from token_service.acs_gateway import IssuedToken
from token_service.caller_auth import Principal
from token_service.errors import InvalidRequest
from token_service.http_support import (
    RequestContext,
    optional_minutes,
    optional_scopes,
    read_json_object,
)
from token_service.identity_service import TokenRequest, validate_token_request
from token_service.runtime import Runtime, get_runtime

IDENTITY_ID_PATTERN = re.compile(r"8:acs:[0-9a-fA-F-]{36}_[A-Za-z0-9-]{1,128}")


class InvalidIdentityId(InvalidRequest):
    code, title = "invalid_identity_id", "The identity id is malformed"


async def caller(req: func.HttpRequest, context: RequestContext) -> tuple[Runtime, Principal]:
    """The worker's runtime and the signed-in user (a delegated token with the required scope)."""
    runtime, principal = await _authenticated(req, context)
    principal.require_user(runtime.settings.auth_required_scope)
    return runtime, principal


async def admin(req: func.HttpRequest, context: RequestContext) -> Runtime:
    """The caller must hold the admin app role, in a user's token or an app-only one."""
    runtime, principal = await _authenticated(req, context)
    principal.require_role(runtime.settings.auth_admin_role)
    return runtime


async def _authenticated(req: func.HttpRequest, context: RequestContext) -> tuple[Runtime, Principal]:
    runtime = get_runtime()
    principal = await runtime.auth.authenticate(req.headers)
    context.user_key = principal.user_key  # recorded (hashed) in the request's log line
    return runtime, principal


def identity_id(req: func.HttpRequest) -> str:
    value = req.route_params.get("id", "")
    if not IDENTITY_ID_PATTERN.fullmatch(value):
        raise InvalidIdentityId("expected an ACS identity id like 8:acs:<resource id>_<id>")
    return value


def token_body(communication_user_id: str, token: IssuedToken) -> dict[str, Any]:
    return {
        "communicationUserId": communication_user_id,
        "token": token.token,
        "expiresOn": token.expires_on,
    }


def token_request(req: func.HttpRequest, runtime: Runtime) -> TokenRequest:
    """A `{scopes?, expiresInMinutes?}` body, checked against the settings."""
    body = read_json_object(req, {"scopes", "expiresInMinutes"})
    return validate_token_request(optional_scopes(body), optional_minutes(body), runtime.settings)
