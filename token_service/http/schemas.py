"""The OpenAPI document's schemas and parameters, each declared once; routes name them (routes.py).

Bounds, scopes, the id pattern and the record states come from the same constants the code enforces.
"""

from __future__ import annotations

from typing import Any

from token_service.acs.rules import IDENTITY_ID_EXAMPLE, IDENTITY_ID_PATTERN, MAX_TOKEN_MINUTES, MIN_TOKEN_MINUTES
from token_service.http.queries import DEFAULT_PAGE_SIZE, MAX_CONTINUATION, MAX_PAGE_SIZE
from token_service.registry import IdentityState
from token_service.scalars import DATE_TIME_PATTERN

# Request schemas written in place in the operation rather than in components/schemas.
INLINE_SCHEMAS: dict[str, dict[str, Any]] = {
    "EmptyObject": {"type": "object", "additionalProperties": False, "maxProperties": 0},
}
# Request bodies that must be sent (the others may be empty: an empty body is an empty object).
REQUIRED_BODIES = frozenset({"EraseUserRequest"})


def component_schemas(allowed_scopes: list[str], user_key_schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """components/schemas; token requests list the scopes this deployment allows, the erasure request
    the user keys it accepts."""
    token_request = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "scopes": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": allowed_scopes}},
            "expiresInMinutes": {"type": "integer", "minimum": MIN_TOKEN_MINUTES, "maximum": MAX_TOKEN_MINUTES},
        },
    }
    moment = _date_time()
    token_body = {"communicationUserId": {"type": "string"}, "token": {"type": "string"}, "expiresOn": moment}
    return {
        "TokenRequest": token_request,
        # The key in the body, never the URL: the platform writes request URLs to its telemetry.
        "EraseUserRequest": {
            "type": "object",
            "additionalProperties": False,
            "required": ["userKey"],
            "properties": {"userKey": user_key_schema or {"type": "string"}},
        },
        # Without scopes no token is made, so a lifetime alone is refused (400).
        "CreateIdentityRequest": {**token_request, "dependentRequired": {"expiresInMinutes": ["scopes"]}},
        "TokenResponse": {
            "type": "object",
            "required": ["communicationUserId", "token", "expiresOn"],
            "properties": token_body,
        },
        "TeamsTokenResponse": {
            "type": "object",
            "required": ["token", "expiresOn"],
            "properties": {"token": {"type": "string"}, "expiresOn": moment},
        },
        # The same body; the token is there only when scopes were asked for.
        "CreatedIdentity": {"type": "object", "required": ["communicationUserId"], "properties": token_body},
        "IdentityRecord": {
            "type": "object",
            "required": ["communicationUserId", "state", "createdAt"],
            "properties": {
                "communicationUserId": {"type": "string"},
                "state": {"type": "string", "enum": [state.value for state in IdentityState]},
                "owner": {"type": ["string", "null"]},
                "createdAt": moment,
                "lastTokenIssuedAt": {"type": ["string", "null"], "format": "date-time"},
                "scopes": {"type": "array", "items": {"type": "string"}},
                "deletedAt": {"type": ["string", "null"], "format": "date-time"},
                "deletedReason": {"type": ["string", "null"]},
                "deletedBy": {"type": ["string", "null"]},
            },
        },
        "IdentityPage": {
            "type": "object",
            "required": ["items", "continuation"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/IdentityRecord"}},
                "continuation": {"type": ["string", "null"]},
            },
        },
        "CleanupPreview": {
            "type": "object",
            "required": ["cutoff", "dryRun", "staleCount", "pendingDeletions", "wouldTake", "candidates"],
            "properties": {
                "cutoff": moment,
                "dryRun": {"type": "boolean"},
                "staleCount": {"type": "integer", "minimum": 0},
                "pendingDeletions": {"type": "integer", "minimum": 0},
                "wouldTake": {"type": "integer", "minimum": 0},
                "maxPerRun": {"type": "integer"},
                "candidates": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["communicationUserId", "lastActivity"],
                        "properties": {
                            "communicationUserId": {"type": "string"},
                            "owner": {"type": ["string", "null"]},
                            "lastActivity": moment,
                        },
                    },
                },
            },
        },
        "MetricsSnapshot": {
            "type": "object",
            "required": ["metrics"],
            "properties": {
                "metrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "points"],
                        "properties": {
                            "name": {"type": "string"},
                            "unit": {"type": "string"},
                            "points": {"type": "array", "items": {"type": "object"}},
                        },
                    },
                }
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "degraded"]},
                "checks": {"type": "object"},
            },
        },
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "code"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "code": {"type": "string"},
                "detail": {"type": "string"},
            },
        },
    }


def parameters(user_key_schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every path, query and header parameter by name; `user_key_schema` accepts this deployment's keys."""

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    # What the parser takes (scalars.rfc3339): RFC 3339 with a zone, at most 9 fractional digits.
    moment = {**_date_time(), "pattern": f"^{DATE_TIME_PATTERN}$"}

    declared = [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "description": f"ACS identity id, percent-encoded ({IDENTITY_ID_EXAMPLE})",
            "schema": {"type": "string", "pattern": f"^{IDENTITY_ID_PATTERN}$"},
        },
        {
            "name": "userKey",
            "in": "path",
            "required": True,
            "description": "The user key, percent-encoded (oid:<tid>:<oid> or sub:<iss>:<sub>)",
            "schema": user_key_schema,
        },
        {
            "name": "X-Teams-Token",
            "in": "header",
            "required": True,
            "description": "The Teams user's Entra ID access token for ACS",
            "schema": {"type": "string", "pattern": r"\S"},
        },
        query("state", {"type": "string", "enum": [state.value for state in IdentityState]}, "Record state"),
        query("owner", user_key_schema, "Owner's user key (oid:<tid>:<oid> or sub:<iss>:<sub>)"),
        query("lastActivityBefore", moment, "Last token (or creation) before this; live identities only"),
        query("lastActivityAfter", moment, "Last token (or creation) at or after this; live identities only"),
        query("createdBefore", moment, "Created before this"),
        query("createdAfter", moment, "Created at or after this"),
        query(
            "pageSize",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
            "Records per page at most (a sparse filter may answer fewer, with a continuation)",
        ),
        query(
            "continuation",
            {"type": "string", "pattern": f"^[A-Za-z0-9_-]{{1,{MAX_CONTINUATION}}}$"},
            "The previous page's continuation, with the same filters",
        ),
    ]
    return {parameter["name"]: parameter for parameter in declared}


def _date_time() -> dict[str, Any]:
    """The document's one date-time schema (fresh per document: a caller may change what it is given)."""
    return {"type": "string", "format": "date-time"}
