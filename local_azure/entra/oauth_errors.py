"""OAuth errors as Entra answers them: RFC 6749 `error` plus Entra's AADSTS code, trace and correlation ids.

MSAL reads `error` (and `suberror`) to decide whether interaction is required; people read
`error_description`, which Entra prefixes with the AADSTS code and suffixes with the ids and time.
Nothing secret (no token, code, secret or verifier) ever goes into a description.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from aiohttp import web


@dataclass
class OAuthError(Exception):
    """A refusal: `error` (RFC 6749 §5.2 / OIDC), Entra's numeric code, a message, and the HTTP status."""

    error: str
    code: int
    message: str
    status: int = 400

    def __str__(self) -> str:
        return f"{self.error} AADSTS{self.code}: {self.message}"

    def body(self, correlation_id: str | None = None) -> dict[str, object]:
        now = dt.datetime.now(dt.UTC)
        trace_id, correlation = str(uuid.uuid4()), correlation_id or str(uuid.uuid4())
        stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.message} Trace ID: {trace_id} "
            f"Correlation ID: {correlation} Timestamp: {stamp}",
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
        }

    def response(self, request: web.Request) -> web.Response:
        correlation = request.headers.get("client-request-id")
        try:
            correlation = str(uuid.UUID(correlation)) if correlation else None
        except ValueError:
            correlation = None
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="local_azure"'
        return web.json_response(self.body(correlation), status=self.status, headers=headers)


def invalid_request(code: int, message: str) -> OAuthError:
    return OAuthError("invalid_request", code, message)


def invalid_grant(code: int, message: str) -> OAuthError:
    return OAuthError("invalid_grant", code, message)


def invalid_client(code: int, message: str) -> OAuthError:
    return OAuthError("invalid_client", code, message, status=401)


def invalid_scope(code: int, message: str) -> OAuthError:
    return OAuthError("invalid_scope", code, message)
