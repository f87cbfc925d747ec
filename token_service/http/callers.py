"""Who may call: the authenticated caller of a request, and the admin check."""

from __future__ import annotations

import azure.functions as func

from token_service.caller_auth import Principal
from token_service.http.endpoint import RequestContext
from token_service.runtime import Runtime, get_runtime


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
