"""Validation of ACS request bodies and api-versions, answering 400s with ACS-style error bodies."""

from __future__ import annotations

import json
from typing import Any

from local_azure.acs.errors import AcsError, bad_request
from local_azure.acs.tokens import DEFAULT_MINUTES, MAX_MINUTES, MIN_MINUTES, SCOPES

STABLE_API_VERSIONS = frozenset({"2021-03-07", "2022-06-01", "2022-10-01", "2023-10-01"})
PREVIEW_GET_VERSION = "2025-04-01-preview"
API_VERSIONS_BY_OPERATION = {
    "create": STABLE_API_VERSIONS | {PREVIEW_GET_VERSION},
    "issue": STABLE_API_VERSIONS | {PREVIEW_GET_VERSION},
    "revoke": STABLE_API_VERSIONS | {PREVIEW_GET_VERSION},
    "delete": STABLE_API_VERSIONS | {PREVIEW_GET_VERSION},
    "exchange": STABLE_API_VERSIONS | {PREVIEW_GET_VERSION},
    "get": frozenset({PREVIEW_GET_VERSION}),
}


def check_api_version(op: str, values: list[str]) -> None:
    if not values:
        raise bad_request("The api-version query parameter is required.", "MissingApiVersionParameter")
    supported = API_VERSIONS_BY_OPERATION[op]
    if op == "get" and values[0] in STABLE_API_VERSIONS:
        # In the stable versions /identities/{id} has DELETE only: GET is an undeclared method there.
        raise AcsError(
            405,
            "MethodNotAllowed",
            f"GET /identities/{{id}} needs api-version={PREVIEW_GET_VERSION}.",
            {"Allow": "DELETE"},
        )
    if len(values) > 1 or values[0] not in supported:
        raise bad_request(
            f"The api-version '{','.join(values)}' is not supported for this operation. "
            f"Supported versions: {', '.join(sorted(supported))}.",
            "UnsupportedApiVersion",
        )


def json_object(body: bytes, required: bool) -> dict[str, Any]:
    """The body as a JSON object; an absent optional body is `{}`."""
    if not body.strip():
        if required:
            raise bad_request("A request body is required.", "InvalidRequestBody")
        return {}
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}.", "InvalidRequestBody") from error
    if not isinstance(value, dict):
        raise bad_request("The request body must be a JSON object.", "InvalidRequestBody")
    return value


def scopes(value: Any, field: str, allow_empty: bool) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(f"'{field}' must be an array of strings.")
    unknown = [item for item in value if item not in SCOPES]
    if unknown:
        raise bad_request(
            f"Unknown scope(s) {', '.join(repr(item) for item in unknown)} in '{field}'. "
            f"Valid scopes: {', '.join(SCOPES)}.",
            "InvalidScope",
        )
    if not value and not allow_empty:
        raise bad_request(f"'{field}' must contain at least one scope.")
    return list(value)


def expires_in_minutes(body: dict[str, Any]) -> int:
    if "expiresInMinutes" not in body:
        return DEFAULT_MINUTES
    value = body["expiresInMinutes"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("'expiresInMinutes' must be an integer.")
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise bad_request(
            f"'expiresInMinutes' must be within [{MIN_MINUTES}, {MAX_MINUTES}] minutes; got {value}.",
            "ValidationError",
        )
    return value


def required_string(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise bad_request(f"'{field}' is required and must be a non-empty string.")
    return value


def not_found(identity_id: str) -> AcsError:
    return AcsError(404, "IdentityNotFound", f"Identity '{identity_id}' was not found.")
