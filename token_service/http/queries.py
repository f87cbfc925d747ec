"""What the operator routes accept: listing query parameters and user keys in paths.

Query rule (as for bodies): unknown parameters are refused (400 `unknown_field`), so a typo such as
`sate=active` never silently lists everything. `code` is not ours: it is the function key, as Azure's
function URLs carry it; the host has checked it and passes it on in the query string, so every route
that reads its query (all of them function-key routes) drops it unread, and never echoes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from token_service.errors import InvalidContinuation, InvalidRequest, InvalidUserKey, UnknownField
from token_service.registry import IdentityFilter, IdentityState
from token_service.scalars import MAX_FRACTION_DIGITS, ascii_integer, rfc3339

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
LIST_PARAMETERS = (
    "state",
    "owner",
    "lastActivityBefore",
    "lastActivityAfter",
    "createdBefore",
    "createdAfter",
    "pageSize",
    "continuation",
)
FUNCTION_KEY_PARAMETER = "code"  # the Functions host's, beside the x-functions-key header
MAX_CLAIM = 256
MAX_CONTINUATION = 2048
EARLIEST, LATEST = datetime(2000, 1, 1), datetime(9000, 1, 1)
_ECMA_SPECIAL = re.compile(r"([.^$*+?()\[\]{}|\\/])")


def user_key_pattern(issuers: Iterable[str]) -> str:
    """The app's user keys (auth/claims.py): `oid:<tid>:<oid>`, or `sub:<iss>:<sub>` with a trusted issuer.

    Written for both Python and JSON Schema (ECMA 262) regexes, so the OpenAPI document carries it as is.
    """
    escaped = "|".join(_ECMA_SPECIAL.sub(r"\\\1", issuer) for issuer in sorted(issuers))
    value = f"[!-~]{{1,{MAX_CLAIM}}}"  # printable ASCII, as Entra's and the dev issuer's ids are
    return f"(oid:[!-9;-~]{{1,{MAX_CLAIM}}}:{value}|sub:({escaped}):{value})"


def user_key(route_params: Mapping[str, str], issuers: Iterable[str]) -> str:
    value = route_params.get("userKey", "")
    if not re.fullmatch(user_key_pattern(issuers), value):
        raise InvalidUserKey("expected oid:<tenant id>:<object id> or sub:<trusted issuer>:<subject>")
    return value


def erase_request(body: Mapping[str, object], issuers: Iterable[str]) -> str:
    """The user key of an erasure, from its body (read_json_object allowed only `userKey`)."""
    value = body.get("userKey")
    if not isinstance(value, str):
        raise InvalidRequest("userKey is required: the user key to erase, as a string")
    return user_key({"userKey": value}, issuers)


def _moment(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if raw is None:
        return None
    moment = rfc3339(raw)
    if moment is None:
        raise InvalidRequest(
            f"{name} must be an RFC 3339 date-time with a zone and at most {MAX_FRACTION_DIGITS} fractional"
            " digits, e.g. 2026-01-31T00:00:00Z"
        )
    # The registry holds nothing outside these bounds, so clamping changes no answer (and keeps day
    # arithmetic away from year 1 and 9999).
    if not EARLIEST.year < moment.year < LATEST.year:
        return (EARLIEST if moment.year <= EARLIEST.year else LATEST).replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def query_parameters(url: str, parsed: Mapping[str, str]) -> dict[str, str]:
    """The query string as sent, empty values and repeats included, less the host's function key.

    Hosts differ: the Python worker drops `?state=` (empty) from `params`, which would turn a bad filter
    into no filter; the raw URL keeps it. A repeated name is refused rather than one of them chosen.
    """
    query = urlsplit(url).query
    if not query:
        return {name: value for name, value in parsed.items() if name != FUNCTION_KEY_PARAMETER}
    sent = parse_qsl(query, keep_blank_values=True)
    pairs = [(name, value) for name, value in sent if name != FUNCTION_KEY_PARAMETER]
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidRequest(f"query parameters given more than once: {repeated}")
    return dict(pairs)


def no_query(params: Mapping[str, str]) -> None:
    """Routes without query parameters refuse any: a typo must not look accepted."""
    if params:
        raise UnknownField(f"this route takes no query parameters: {sorted(params)}")


def listing_query(params: Mapping[str, str], issuers: Iterable[str]) -> tuple[IdentityFilter, int, str | None]:
    """Filters, page size and continuation from the query string."""
    unknown = sorted(set(params) - set(LIST_PARAMETERS))
    if unknown:
        raise UnknownField(f"unknown query parameters: {unknown}; accepted: {sorted(LIST_PARAMETERS)}")
    state = params.get("state")
    if state is not None and state not in {s.value for s in IdentityState}:
        raise InvalidRequest(f"state must be one of {[s.value for s in IdentityState]}")
    owner = params.get("owner")
    if owner is not None:
        owner = user_key({"userKey": owner}, issuers)
    size_text = params.get("pageSize")
    page_size = DEFAULT_PAGE_SIZE
    if size_text is not None:
        size = ascii_integer(size_text, 4)
        if size is None or not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidRequest(f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE} (ASCII digits)")
        page_size = size
    continuation = params.get("continuation")
    if continuation is not None and not re.fullmatch(rf"[A-Za-z0-9_-]{{1,{MAX_CONTINUATION}}}", continuation):
        raise InvalidContinuation("the continuation token is malformed")
    filters = IdentityFilter(
        state=IdentityState(state) if state else None,
        owner=owner,
        last_activity_before=_moment(params, "lastActivityBefore"),
        last_activity_after=_moment(params, "lastActivityAfter"),
        created_before=_moment(params, "createdBefore"),
        created_after=_moment(params, "createdAfter"),
    )
    return filters, page_size, continuation
