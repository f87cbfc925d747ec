"""HTTP plumbing shared by the blueprints: JSON bodies, problem+json errors, and the request wrapper.

Body rule (documented in the README): JSON objects only, at most 16 KiB, unknown fields rejected with
400 `unknown_field`, so a typo like `expiresInMinute` never silently falls back to a default.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import azure.functions as func

from token_service.errors import InvalidRequest, PayloadTooLarge, ServiceError, UnsupportedMediaType
from token_service.observability import log_request, start_request

MAX_BODY_BYTES = 16 * 1024
PROBLEM_TYPE_BASE = "urn:acs-token-service:problem:"
log = logging.getLogger("token_service.http")

Handler = Callable[[func.HttpRequest, "RequestContext"], Awaitable[func.HttpResponse]]


class UnknownField(InvalidRequest):
    code, title = "unknown_field", "The body has a field this route does not accept"


class RequestContext:
    """Per-request facts the log line needs; handlers fill in the user once authenticated."""

    user_key: str | None = None


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
    body = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "code": code, "detail": detail}
    return func.HttpResponse(json.dumps(body), status_code=status, headers=headers, mimetype="application/problem+json")


def read_json_object(req: func.HttpRequest, allowed: set[str]) -> dict[str, Any]:
    """The body as a JSON object with only `allowed` keys; an empty body is an empty object."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw.strip():
        return {}
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"content type {content_type!r} is not JSON")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise UnknownField(f"unknown fields: {unknown}; accepted: {sorted(allowed)}")
    return body


def optional_scopes(body: Mapping[str, Any]) -> list[str] | None:
    """Absent means the default; an explicit null is refused like any other wrong type."""
    if "scopes" not in body:
        return None
    scopes = body["scopes"]
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes) or not scopes:
        raise InvalidRequest("scopes must be a non-empty array of strings")
    return scopes


def optional_minutes(body: Mapping[str, Any]) -> int | None:
    if "expiresInMinutes" not in body:
        return None
    minutes = body["expiresInMinutes"]
    # JSON has one number type: 60.0 is the integer 60 (as JSON Schema's "integer" says), 60.5 is not.
    if isinstance(minutes, float) and minutes.is_integer():
        minutes = int(minutes)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise InvalidRequest("expiresInMinutes must be an integer")
    return minutes


def endpoint(
    function_name: str, route: str
) -> Callable[[Handler], Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]]:
    """Wrap a handler: domain errors become problem+json, anything unexpected a generic 500, and every
    request ends with one log line."""

    def decorate(handler: Handler) -> Callable[[func.HttpRequest], Awaitable[func.HttpResponse]]:
        async def run(req: func.HttpRequest) -> func.HttpResponse:
            started = time.perf_counter()
            calls = start_request()
            context = RequestContext()
            code: str | None = None
            try:
                response = await handler(req, context)
            except ServiceError as error:
                code = error.code
                response = problem_response(
                    error.status, error.code, error.title, error.detail, error.retry_after, error.challenge
                )
            except Exception as error:
                code = "internal_error"
                # Frames but not the message: a message may quote input, and input may hold a token.
                frames = "".join(traceback.format_tb(error.__traceback__))
                log.error("unhandled %s in %s\n%s", type(error).__name__, function_name, frames)
                response = problem_response(500, code, "Internal error", "an unexpected error occurred")
            log_request(
                function=function_name,
                method=req.method,
                route=route,
                status=response.status_code,
                duration_ms=(time.perf_counter() - started) * 1000,
                user_key=context.user_key,
                calls=calls,
                code=code,
            )
            return response

        # Not functools.wraps: the Functions worker reads the signature, which must stay (req).
        run.__name__ = run.__qualname__ = handler.__name__
        run.__doc__ = handler.__doc__
        return run

    return decorate
