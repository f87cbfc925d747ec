"""Who may call: the authenticated caller of a request, and the admin check."""

from __future__ import annotations

import azure.functions as func

from token_service.auth.authenticator import Principal
from token_service.http.endpoint import RequestContext
from token_service.services import Services, get_services


async def caller(req: func.HttpRequest, context: RequestContext) -> tuple[Services, Principal]:
    """The worker's runtime and the signed-in user (a delegated token with the required scope)."""
    runtime, principal = await _authenticated(req, context)
    principal.require_user(runtime.settings.auth.required_scope)
    return runtime, principal


async def admin(req: func.HttpRequest, context: RequestContext) -> Services:
    """The caller must hold the admin app role, in a user's token or an app-only one."""
    runtime, principal = await _authenticated(req, context)
    principal.require_role(runtime.settings.auth.admin_role)
    return runtime


async def _authenticated(req: func.HttpRequest, context: RequestContext) -> tuple[Services, Principal]:
    runtime = get_services()
    principal = await runtime.auth.authenticate(req.headers)
    context.user_key = principal.user_key  # recorded (hashed) in the request's log line
    return runtime, principal
