"""UserLimits: the per-user window decision, pure (the conditional write that makes it global is elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from token_service.errors import RateLimited
from token_service.identities.limits import UserLimits
from token_service.registry import MappingChange, MappingState, RateWindow, UserMapping
from token_service.registry.records import change_to_fields, mapping_from_entity, mapping_to_entity

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIMITS = UserLimits({"token": 3, "teams": 2, "delete": 1})


def mapping(windows: dict[str, tuple[datetime, int]]) -> UserMapping:
    typed = {route: RateWindow(route, start, count) for route, (start, count) in windows.items()}
    return UserMapping("u", "8:acs:x", MappingState.ACTIVE, None, "etag", None, typed)


def test_first_request_opens_a_window() -> None:
    decision = LIMITS.count(None, "token", NOW)
    assert decision.allowed and decision.window == RateWindow("token", NOW, 1)


def test_counts_up_to_the_limit_then_says_when_the_window_frees() -> None:
    start = NOW - timedelta(seconds=20)
    assert LIMITS.count(mapping({"token": (start, 2)}), "token", NOW).window == RateWindow("token", start, 3)
    refused = LIMITS.count(mapping({"token": (start, 3)}), "token", NOW)
    assert not refused.allowed and refused.retry_after == 40
    assert refused.window == RateWindow("token", start, 3), "a refusal writes nothing new"
    with pytest.raises(RateLimited) as raised:
        LIMITS.admit(mapping({"token": (start, 3)}), "token", NOW)
    assert raised.value.retry_after == 40


def test_routes_count_separately_and_a_window_expires() -> None:
    full = mapping({"token": (NOW, 3), "delete": (NOW, 1)})
    assert LIMITS.admit(full, "teams", NOW) == RateWindow("teams", NOW, 1)
    with pytest.raises(RateLimited):
        LIMITS.admit(full, "delete", NOW)
    later = NOW + timedelta(minutes=1)
    assert LIMITS.admit(full, "token", later) == RateWindow("token", later, 1)


def test_a_window_from_the_future_is_not_trusted() -> None:
    """A clock step back (another instance's clock ahead) must not lock a user out for long."""
    ahead = mapping({"token": (NOW + timedelta(minutes=5), 3)})
    assert LIMITS.admit(ahead, "token", NOW).count == 1


def test_a_window_is_written_to_its_route_columns_and_read_back() -> None:
    """The Table encoding lives in records.py alone: one start and one count column per route."""
    window = RateWindow("token", NOW, 2)
    assert change_to_fields(MappingChange(window=window)) == {"rate_token_start": NOW, "rate_token_count": 2}
    stored = mapping({"token": (NOW, 2), "teams": (NOW, 1)})
    entity = mapping_to_entity(stored)
    assert entity["rate_teams_start"] == NOW and entity["rate_teams_count"] == 1
    assert mapping_from_entity(entity, "u", "etag").windows == stored.windows


def test_creating_and_idle_mappings_name_no_identity() -> None:
    assert change_to_fields(MappingChange(MappingState.IDLE)) == {"state": "idle", "acs_id": ""}
    assert change_to_fields(MappingChange(MappingState.ACTIVE, acs_id="8:acs:x"))["acs_id"] == "8:acs:x"
    assert "acs_id" not in change_to_fields(MappingChange(MappingState.DELETING))
