"""UserLimits: the per-user window decision, pure (the conditional write that makes it global is elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from token_service.errors import RateLimited
from token_service.identities.limits import UserLimits
from token_service.registry.records import MappingState, UserMapping

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LIMITS = UserLimits({"token": 3, "teams": 2, "delete": 1})


def mapping(windows: dict[str, tuple[datetime, int]]) -> UserMapping:
    return UserMapping("u", "8:acs:x", MappingState.ACTIVE, None, "etag", None, windows)


def test_first_request_opens_a_window() -> None:
    assert LIMITS.count(None, "token", NOW) == {"rate_token_start": NOW, "rate_token_count": 1}


def test_counts_up_to_the_limit_then_says_when_the_window_frees() -> None:
    start = NOW - timedelta(seconds=20)
    assert LIMITS.count(mapping({"token": (start, 2)}), "token", NOW)["rate_token_count"] == 3
    with pytest.raises(RateLimited) as raised:
        LIMITS.count(mapping({"token": (start, 3)}), "token", NOW)
    assert raised.value.retry_after == 40


def test_routes_count_separately_and_a_window_expires() -> None:
    full = mapping({"token": (NOW, 3), "delete": (NOW, 1)})
    assert LIMITS.count(full, "teams", NOW)["rate_teams_count"] == 1
    with pytest.raises(RateLimited):
        LIMITS.count(full, "delete", NOW)
    later = NOW + timedelta(minutes=1)
    assert LIMITS.count(full, "token", later) == {"rate_token_start": later, "rate_token_count": 1}


def test_a_window_from_the_future_is_not_trusted() -> None:
    """A clock step back (another instance's clock ahead) must not lock a user out for long."""
    ahead = mapping({"token": (NOW + timedelta(minutes=5), 3)})
    assert LIMITS.count(ahead, "token", NOW)["rate_token_count"] == 1
