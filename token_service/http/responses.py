"""Response shapes: JSON bodies, 204s and RFC 9457 problem+json errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func

from token_service.acs.gateway import IssuedToken

PROBLEM_TYPE_BASE = "urn:acs-token-service:problem:"
# Headers a browser hides from cross-origin script unless named in Access-Control-Expose-Headers
# (the CORS-safelisted response headers are always readable).
FRONTEND_HEADERS = ("Retry-After", "WWW-Authenticate")


def json_response(body: Mapping[str, Any], status: int = 200, *, no_store: bool = False) -> func.HttpResponse:
    headers = {"Cache-Control": "no-store"} if no_store else {}
    return func.HttpResponse(
        json.dumps(body, separators=(",", ":")), status_code=status, headers=headers, mimetype="application/json"
    )


def no_content() -> func.HttpResponse:
    return func.HttpResponse(status_code=204, headers={"Cache-Control": "no-store"})


def problem_response(
    status: int, code: str, title: str, detail: str, retry_after: int | None = None, challenge: str | None = None
) -> func.HttpResponse:
    headers = {"Cache-Control": "no-store", "Content-Type": "application/problem+json"}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if challenge or status == 401:
        headers["WWW-Authenticate"] = challenge or 'Bearer error="invalid_token"'
    exposed = [name for name in FRONTEND_HEADERS if name in headers]
    if exposed:
        # Set by the app: the host's CORS policy (Host.CORS locally; siteConfig.cors, which the host
        # itself applies on Flex Consumption) exposes no headers but keeps the ones the app sets.
        headers["Access-Control-Expose-Headers"] = ", ".join(exposed)
    body = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "code": code, "detail": detail}
    return func.HttpResponse(json.dumps(body), status_code=status, headers=headers, mimetype="application/problem+json")


def token_body(communication_user_id: str, token: IssuedToken) -> dict[str, Any]:
    return {"communicationUserId": communication_user_id, "token": token.token, "expiresOn": token.expires_on}
