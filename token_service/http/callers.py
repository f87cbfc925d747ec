"""Who may call: the authenticated caller of a request, and the admin check."""

from __future__ import annotations

import azure.functions as func

from token_service.caller_auth import Principal
from token_service.http.endpoint import RequestContext
from token_service.runtime import Runtime, get_runtime


async def caller(req: func.HttpRequest, context: RequestContext) -> tuple[Runtime, Principal]:
    """The worker's runtime and the authenticated caller (recorded for the request's log line)."""
    runtime = get_runtime()
    principal = await runtime.auth.authenticate(req.headers)
    context.user_key = principal.user_key
    return runtime, principal


async def admin(req: func.HttpRequest, context: RequestContext) -> Runtime:
    """As `caller`, and the caller must hold the admin app role."""
    runtime, principal = await caller(req, context)
    principal.require_role(runtime.settings.auth_admin_role)
    return runtime
