"""Pure parts of the operator's listing: index choice, continuation tokens, query and user-key parsing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from token_service.errors import InvalidRequest
from token_service.http.queries import listing_query, user_key, user_key_pattern
from token_service.registry import IdentityState
from token_service.registry.listing import (
    BadContinuation,
    IdentityFilter,
    decode_continuation,
    encode_continuation,
    plan,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ISSUERS = ("https://login.microsoftonline.com/t/v2.0", "https://sts.windows.net/t/")


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (IdentityFilter(owner="oid:t:o", state=IdentityState.ACTIVE), "owner"),
        (IdentityFilter(last_activity_before=NOW), "activity"),
        (IdentityFilter(state=IdentityState.DELETED), "deleted"),
        (IdentityFilter(state=IdentityState.ACTIVE), "activity"),
        (IdentityFilter(created_after=NOW - timedelta(days=3)), "created"),
        (IdentityFilter(), "created"),
    ],
)
def test_each_filter_reads_its_index(filters: IdentityFilter, index: str) -> None:
    chosen = plan(filters)
    assert chosen is not None and chosen.index == index


def test_deleted_identities_have_no_last_activity() -> None:
    assert plan(IdentityFilter(state=IdentityState.DELETED, last_activity_after=NOW)) is None


def test_activity_bounds_go_to_table_storage() -> None:
    chosen = plan(IdentityFilter(last_activity_after=NOW - timedelta(days=2), last_activity_before=NOW))
    assert chosen is not None
    assert "last_activity ge @after" in chosen.query and "last_activity lt @before" in chosen.query
    assert chosen.parameters["low"] == "activity_20261124" and chosen.parameters["high"] == "activity_20261127"


def test_continuation_round_trip_and_binding() -> None:
    filters = IdentityFilter(state=IdentityState.ACTIVE)
    table_token = {"PartitionKey": "1!20!YWN0aXZpdHk-", "RowKey": "8:acs:x_1"}
    token = encode_continuation(filters, table_token)
    assert "=" not in token and decode_continuation(filters, token) == table_token
    with pytest.raises(BadContinuation, match="other filters"):
        decode_continuation(IdentityFilter(state=IdentityState.DELETED), token)
    for bad in ("", "@@@", "e30", encode_continuation(filters, {"PartitionKey": "a b", "RowKey": "x"})):
        with pytest.raises(BadContinuation):
            decode_continuation(filters, bad)


def test_user_keys() -> None:
    assert user_key({"userKey": "oid:7e5f1c2a-9b3d-4e6f-8a1b-2c3d4e5f6a7b:abc"}, ISSUERS)
    assert user_key({"userKey": "sub:https://sts.windows.net/t/:abc"}, ISSUERS)
    for bad in ("sub:https://evil/:abc", "oid:t", "oid:t:a b", "oid:t:é", "x:t:a"):
        with pytest.raises(InvalidRequest):
            user_key({"userKey": bad}, ISSUERS)
    # Also an ECMA 262 pattern for the OpenAPI document: slashes and dots escaped, nothing Python-only.
    assert r"https:\/\/sts\.windows\.net\/t\/" in user_key_pattern(ISSUERS)


def test_listing_query_defaults_and_bounds() -> None:
    filters, size, continuation = listing_query({}, ISSUERS)
    assert (filters, size, continuation) == (IdentityFilter(), 50, None)
    _, size, _ = listing_query({"pageSize": "200"}, ISSUERS)
    assert size == 200
    filters, _, _ = listing_query({"createdBefore": "0001-01-01T00:00:00+05:00"}, ISSUERS)
    assert filters.created_before == datetime(2000, 1, 1, tzinfo=UTC)  # clamped: no overflow, same answer


def test_query_is_read_from_the_url_as_sent() -> None:
    from token_service.http.queries import query_parameters

    # The Python worker drops empty values from `params`; the URL keeps them, so `state=` is refused.
    params = query_parameters("http://h/api/identities?state=&pageSize=5", {"pageSize": "5"})
    assert params == {"state": "", "pageSize": "5"}
    with pytest.raises(InvalidRequest):
        listing_query(params, ISSUERS)
    with pytest.raises(InvalidRequest, match="more than once"):
        query_parameters("http://h/api/identities?state=active&state=deleted", {"state": "active"})
    assert query_parameters("http://h/api/identities", {"a": "b"}) == {"a": "b"}


def test_a_continuation_without_a_next_row_key_round_trips() -> None:
    """Table Storage may send x-ms-continuation-NextPartitionKey without NextRowKey (cross-partition
    queries; "Query Timeout and Pagination"); azure-data-tables then builds RowKey: None. That token is
    the service's own: it must come back as it went out."""
    filters = IdentityFilter(state=IdentityState.ACTIVE)
    table_token = {"PartitionKey": "1!20!YWN0aXZpdHk-", "RowKey": None}
    assert decode_continuation(filters, encode_continuation(filters, table_token)) == table_token
    for bad in ({"PartitionKey": None, "RowKey": None}, {"PartitionKey": 1, "RowKey": None}, {"PartitionKey": "a"}):
        with pytest.raises(BadContinuation):
            decode_continuation(filters, encode_continuation(filters, bad))


@pytest.mark.parametrize("depth", [100, 1000, 1500])
def test_a_deeply_nested_continuation_is_malformed_not_a_crash(depth: int) -> None:
    """1,000 nested `[` made json.loads raise RecursionError (a 500)."""
    token = base64.urlsafe_b64encode(b"[" * depth).decode().rstrip("=")
    assert len(token) <= 2048  # the query parser's bound lets it through to the decoder
    with pytest.raises(BadContinuation):
        decode_continuation(IdentityFilter(), token)
    nested = base64.urlsafe_b64encode(json.dumps({"f": "x", "t": [[[[]]]]}).encode()).decode().rstrip("=")
    with pytest.raises(BadContinuation):
        decode_continuation(IdentityFilter(), nested)
