"""Who may call: the authenticated caller of a request, and the admin check.

Both record the caller's user key in the request context before their check, so the log line of a
refused call still says (hashed) who was refused.
"""

from __future__ import annotations

import azure.functions as func

from token_service.auth.authenticator import Principal
from token_service.http.endpoint import RequestContext
from token_service.services import Services


async def caller(req: func.HttpRequest, services: Services, context: RequestContext) -> Principal:
    """The signed-in user: a delegated token with the required scope."""
    principal = await _authenticated(req, services, context)
    principal.require_user(services.settings.auth.required_scope)
    return principal


async def admin(req: func.HttpRequest, services: Services, context: RequestContext) -> Principal:
    """A caller holding the admin app role, in a user's token or an app-only one."""
    principal = await _authenticated(req, services, context)
    principal.require_role(services.settings.auth.admin_role)
    return principal


async def _authenticated(req: func.HttpRequest, services: Services, context: RequestContext) -> Principal:
    principal = await services.auth.authenticate(req.headers)
    context.user_key = principal.user_key
    return principal
