"""The OpenAPI 3.1 description of the HTTP API, generated from the route table (routes.py).

Paths come from the routes `http_function` recorded, schemas and parameters from schemas.py, so the
document cannot describe a route the app does not register; a test still holds it against the
functions the host reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from token_service.acs.rules import ACS_SCOPES
from token_service.http.queries import user_key_pattern
from token_service.http.routes import Access, Reply, Route
from token_service.http.schemas import INLINE_SCHEMAS, REQUIRED_BODIES, component_schemas, parameters
from token_service.settings import Settings

PROBLEM = {"$ref": "#/components/responses/Problem"}


def openapi_document(routes: Iterable[Route], settings: Settings | None = None) -> dict[str, Any]:
    """The document for `routes` (the app's: routes.registered_routes()); `settings` narrow scopes and
    issuers to this deployment's, as the request parsers do; without them, every ACS scope and no issuer."""
    allowed = sorted(settings.tokens.allowed_scopes) if settings else sorted(ACS_SCOPES)
    issuers = settings.auth.issuers if settings else ()
    user_key_schema = {"type": "string", "pattern": f"^{user_key_pattern(issuers)}$"}
    named_parameters = parameters(user_key_schema)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault("/" + route.path, {})[route.method.lower()] = _operation(route, named_parameters)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ACS token service",
            "version": "1.0.0",
            "description": "Creates Azure Communication Services identities and issues, refreshes and revokes "
            "their access tokens for signed-in users. Errors are RFC 9457 problem+json with a stable `code`.",
        },
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "functionKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-functions-key",
                    "description": "A function key; the Functions host also takes it as the `code` query parameter.",
                },
            },
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {"application/problem+json": {"schema": _ref("Problem")}},
                }
            },
            "schemas": component_schemas(allowed, user_key_schema),
        },
    }


def _operation(route: Route, named_parameters: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.function,
        "summary": route.summary,
        "security": _security(route.access),
    }
    if route.parameters:
        operation["parameters"] = [named_parameters[name] for name in route.parameters]
    if route.body is not None:
        schema = dict(INLINE_SCHEMAS[route.body]) if route.body in INLINE_SCHEMAS else _ref(route.body)
        required = route.body in REQUIRED_BODIES
        operation["requestBody"] = {"required": required, "content": {"application/json": {"schema": schema}}}
    responses = {str(status): _reply(reply) for status, reply in route.replies.items()}
    responses.update({str(status): PROBLEM for status in route.errors})
    operation["responses"] = responses
    return operation


def _security(access: Access) -> list[dict[str, list[str]]]:
    """One requirement naming every scheme (all needed together), or none for an open route."""
    return [{scheme: [] for scheme in access.schemes}] if access.schemes else []


def _reply(reply: Reply) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": reply.description}
    if reply.schema is not None:
        answer["content"] = {"application/json": {"schema": _ref(reply.schema)}}
    elif reply.any_json:
        answer["content"] = {"application/json": {}}
    return answer


def _ref(schema_name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema_name}"}
