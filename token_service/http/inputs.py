"""What a request may carry, parsed once: JSON bodies, token requests and identity ids.

Body rule (documented in the README): JSON objects only, at most 16 KiB, unknown fields rejected with
400 `unknown_field`, so a typo like `expiresInMinute` never silently falls back to a default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import azure.functions as func

from token_service.acs.rules import (
    IDENTITY_ID_EXAMPLE,
    IDENTITY_ID_PATTERN,
    MAX_TOKEN_MINUTES,
    MIN_TOKEN_MINUTES,
    TokenRequest,
)
from token_service.errors import (
    InvalidExpiry,
    InvalidIdentityId,
    InvalidRequest,
    InvalidScope,
    PayloadTooLarge,
    UnknownField,
    UnsupportedMediaType,
)
from token_service.json_text import nesting_depth
from token_service.scalars import json_integer
from token_service.settings import Settings

MAX_BODY_BYTES = 16 * 1024
MAX_BODY_DEPTH = 32  # our bodies nest two levels; deep nesting only costs the parser (RecursionError at ~1000)
TOKEN_FIELDS = frozenset({"scopes", "expiresInMinutes"})
MINUTES = (MIN_TOKEN_MINUTES, MAX_TOKEN_MINUTES)
_IDENTITY_ID = re.compile(IDENTITY_ID_PATTERN)


def read_json_object(req: func.HttpRequest, allowed: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The body as a JSON object with only `allowed` keys; an empty body is an empty object."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is {len(raw)} bytes; the limit is {MAX_BODY_BYTES}")
    if not raw.strip():
        return {}
    content_type = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(f"content type {content_type!r} is not JSON")
    if nesting_depth(raw) > MAX_BODY_DEPTH:
        raise InvalidRequest(f"the body nests deeper than {MAX_BODY_DEPTH} levels")
    try:
        # Numbers with a fraction or exponent as Decimal: the text decides what they are (60.000000000000001
        # is no integer, though its float is 60.0). NaN and Infinity are not JSON (RFC 8259).
        body = json.loads(raw, parse_float=Decimal, parse_constant=_not_json)
    except (UnicodeDecodeError, ValueError) as error:
        raise InvalidRequest("the body is not valid JSON") from error
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise UnknownField(f"unknown fields: {unknown}; accepted: {sorted(allowed)}")
    return body


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def token_request(req: func.HttpRequest, settings: Settings) -> TokenRequest:
    """A `{scopes?, expiresInMinutes?}` body, with the settings' defaults and limits applied."""
    body = read_json_object(req, TOKEN_FIELDS)
    return checked_token_request(_scopes(body), _minutes(body), settings)


def optional_token_request(req: func.HttpRequest, settings: Settings) -> TokenRequest | None:
    """As `token_request`, but without `scopes` no token is asked for (and a lifetime alone is refused)."""
    body = read_json_object(req, TOKEN_FIELDS)
    scopes, minutes = _scopes(body), _minutes(body)
    if scopes is None:
        if minutes is not None:
            raise InvalidRequest("expiresInMinutes needs scopes: without scopes no token is issued")
        return None
    return checked_token_request(scopes, minutes, settings)


def identity_id(req: func.HttpRequest) -> str:
    """The `{id}` route parameter, which must be an ACS identity id."""
    value = req.route_params.get("id", "")
    if not _IDENTITY_ID.fullmatch(value):
        raise InvalidIdentityId(f"expected an ACS identity id like {IDENTITY_ID_EXAMPLE}")
    return value


def _scopes(body: Mapping[str, Any]) -> list[str] | None:
    """Absent means the default; an explicit null is refused like any other wrong type."""
    if "scopes" not in body:
        return None
    scopes = body["scopes"]
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes) or not scopes:
        raise InvalidRequest("scopes must be a non-empty array of strings")
    return scopes


def _minutes(body: Mapping[str, Any]) -> int | None:
    if "expiresInMinutes" not in body:
        return None
    raw = body["expiresInMinutes"]
    # JSON has one number type: 60.0 and 6e1 are the integer 60 (as JSON Schema's "integer" says), 60.5 is
    # not; a bool is no number. Out-of-range integers come back just outside the range, for its check.
    minutes = None if isinstance(raw, bool) or not isinstance(raw, int | Decimal) else json_integer(raw, *MINUTES)
    if minutes is None:
        raise InvalidRequest("expiresInMinutes must be an integer")
    return minutes


def checked_token_request(scopes: list[str] | None, minutes: int | None, settings: Settings) -> TokenRequest:
    """Apply ALLOWED_SCOPES and ACS's lifetime range; defaults from the settings."""
    allowed = settings.tokens.allowed_scopes
    chosen = tuple(dict.fromkeys(scopes)) if scopes else tuple(sorted(allowed))
    refused = [scope for scope in chosen if scope not in allowed]
    if refused:
        raise InvalidScope(f"scopes not allowed: {refused}; allowed: {sorted(allowed)}")
    chosen_minutes = settings.tokens.default_minutes if minutes is None else minutes
    if not MIN_TOKEN_MINUTES <= chosen_minutes <= MAX_TOKEN_MINUTES:
        raise InvalidExpiry(f"expiresInMinutes must be between {MIN_TOKEN_MINUTES} and {MAX_TOKEN_MINUTES}")
    return TokenRequest(chosen, chosen_minutes)
