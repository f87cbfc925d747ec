"""The OpenAPI 3.1 description of the HTTP API; a test holds it against the registered functions.

Bounds, scopes, the id pattern and the record states come from the same constants the code enforces.
"""

from __future__ import annotations

from typing import Any

from token_service.acs.rules import (
    ACS_SCOPES,
    IDENTITY_ID_EXAMPLE,
    IDENTITY_ID_PATTERN,
    MAX_TOKEN_MINUTES,
    MIN_TOKEN_MINUTES,
)
from token_service.http.queries import (
    DEFAULT_PAGE_SIZE,
    MAX_CONTINUATION,
    MAX_PAGE_SIZE,
    user_key_pattern,
)
from token_service.registry import IdentityState
from token_service.settings import Settings

PROBLEM = {"$ref": "#/components/responses/Problem"}
ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": f"ACS identity id, percent-encoded ({IDENTITY_ID_EXAMPLE})",
    "schema": {"type": "string", "pattern": f"^{IDENTITY_ID_PATTERN}$"},
}


def _json(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _ok(description: str, schema_name: str) -> dict[str, Any]:
    return {"description": description, "content": _json(schema_name)}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): PROBLEM for status in statuses}


USER: list[dict[str, list[str]]] = [{"bearer": []}]
ADMIN: list[dict[str, list[str]]] = [{"bearer": [], "functionKey": []}]


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    allowed = sorted(settings.allowed_scopes) if settings else sorted(ACS_SCOPES)
    token_request = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "scopes": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": allowed}},
            "expiresInMinutes": {"type": "integer", "minimum": MIN_TOKEN_MINUTES, "maximum": MAX_TOKEN_MINUTES},
        },
    }
    no_body_request = {"type": "object", "additionalProperties": False, "maxProperties": 0}
    issuers = settings.auth_issuers if settings else ()
    user_key_schema = {"type": "string", "pattern": f"^{user_key_pattern(issuers)}$"}
    moment = {"type": "string", "format": "date-time"}
    token_body = {"communicationUserId": {"type": "string"}, "token": {"type": "string"}, "expiresOn": moment}

    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}

    list_parameters = [
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
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ACS token service",
            "version": "1.0.0",
            "description": "Creates Azure Communication Services identities and issues, refreshes and revokes "
            "their access tokens for signed-in users. Errors are RFC 9457 problem+json with a stable `code`.",
        },
        "servers": [{"url": "/api"}],
        "paths": {
            "/token": {
                "post": {
                    "operationId": "issue_user_token",
                    "summary": "Get-or-create the caller's identity and issue a token",
                    "security": USER,
                    "requestBody": {"required": False, "content": _json("TokenRequest")},
                    "responses": {
                        "200": _ok("Token for the caller's existing identity", "TokenResponse"),
                        "201": _ok("Identity created and token issued", "TokenResponse"),
                        **_errors(400, 401, 403, 413, 415, 429, 503),
                    },
                }
            },
            "/token/teams": {
                "post": {
                    "operationId": "exchange_teams_token",
                    "summary": "Exchange the caller's Teams (Entra ID) token for an ACS token",
                    "security": USER,
                    "parameters": [
                        {
                            "name": "X-Teams-Token",
                            "in": "header",
                            "required": True,
                            "description": "The Teams user's Entra ID access token for ACS",
                            "schema": {"type": "string", "pattern": r"\S"},
                        }
                    ],
                    "responses": {
                        "200": _ok("ACS token for the Teams user", "TeamsTokenResponse"),
                        **_errors(400, 401, 403, 413, 415, 429, 501, 503),
                    },
                }
            },
            "/me": {
                "delete": {
                    "operationId": "delete_me",
                    "summary": "Revoke and delete the caller's own identity",
                    "security": USER,
                    "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404, 429, 503)},
                }
            },
            "/identities": {
                "get": {
                    "operationId": "list_identities",
                    "summary": "List and search registry records (paged; indexed filters)",
                    "security": ADMIN,
                    "parameters": list_parameters,
                    "responses": {"200": _ok("A page", "IdentityPage"), **_errors(400, 401, 403, 503)},
                },
                "post": {
                    "operationId": "create_identity",
                    "summary": "Create an identity, optionally with a token",
                    "security": ADMIN,
                    "requestBody": {"required": False, "content": _json("CreateIdentityRequest")},
                    "responses": {
                        "201": _ok("Created", "CreatedIdentity"),
                        **_errors(400, 401, 403, 413, 415, 429, 503),
                    },
                },
            },
            "/identities/{id}": {
                "get": {
                    "operationId": "get_identity",
                    "summary": "The registry record of an identity (tombstones included)",
                    "security": ADMIN,
                    "parameters": [ID_PARAMETER],
                    "responses": {"200": _ok("Record", "IdentityRecord"), **_errors(400, 401, 403, 404, 503)},
                },
                "delete": {
                    "operationId": "delete_identity",
                    "summary": "Revoke all tokens and delete the identity",
                    "security": ADMIN,
                    "parameters": [ID_PARAMETER],
                    "responses": {"204": {"description": "Deleted"}, **_errors(400, 401, 403, 404, 429, 503)},
                },
            },
            "/identities/{id}/token": {
                "post": {
                    "operationId": "issue_identity_token",
                    "summary": "Issue a token for an identity",
                    "security": ADMIN,
                    "parameters": [ID_PARAMETER],
                    "requestBody": {"required": False, "content": _json("TokenRequest")},
                    "responses": {
                        "200": _ok("Token", "TokenResponse"),
                        **_errors(400, 401, 403, 404, 413, 415, 429, 503),
                    },
                }
            },
            "/identities/{id}/revoke": {
                "post": {
                    "operationId": "revoke_identity_tokens",
                    "summary": "Revoke all tokens of an identity (up to 15 minutes to take effect everywhere in ACS)",
                    "security": ADMIN,
                    "parameters": [ID_PARAMETER],
                    "requestBody": {"required": False, "content": {"application/json": {"schema": no_body_request}}},
                    "responses": {"204": {"description": "Revoked"}, **_errors(400, 401, 403, 404, 413, 415, 429, 503)},
                }
            },
            "/cleanup/preview": {
                "get": {
                    "operationId": "preview_cleanup",
                    "summary": "What the next cleanup run would revoke and delete (changes nothing)",
                    "security": ADMIN,
                    "responses": {"200": _ok("Preview", "CleanupPreview"), **_errors(400, 401, 403, 503)},
                }
            },
            "/users/{userKey}": {
                "delete": {
                    "operationId": "erase_user_identities",
                    "summary": "Erase a user: revoke and delete their identities, remove their mapping (idempotent)",
                    "security": ADMIN,
                    "parameters": [
                        {
                            "name": "userKey",
                            "in": "path",
                            "required": True,
                            "description": "The user key, percent-encoded (oid:<tid>:<oid> or sub:<iss>:<sub>)",
                            "schema": user_key_schema,
                        }
                    ],
                    "responses": {
                        "204": {"description": "Erased (or nothing left)"},
                        **_errors(400, 401, 403, 429, 503),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics_snapshot",
                    "summary": "This worker's metrics (OpenTelemetry, in-memory reader)",
                    "security": ADMIN,
                    "responses": {"200": _ok("Snapshot", "MetricsSnapshot"), **_errors(400, 401, 403)},
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness and dependency readiness",
                    "security": [],
                    "responses": {"200": _ok("Ready", "Health"), "503": _ok("Not ready", "Health")},
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
            },
            "schemas": {
                "TokenRequest": token_request,
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
            },
        },
    }
