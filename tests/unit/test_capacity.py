"""benchmarks.capacity: the arithmetic of what each limit allows, on hand-checkable figures."""

from __future__ import annotations

import math

import pytest

from benchmarks.capacity import (
    Measured,
    Workload,
    active_users,
    allowances,
    binding,
    partition_load,
    scale_report,
)

MEASURED = Measured(per_instance_rps=200.0, trips_token=5, trips_create=7)


def test_a_user_makes_three_point_two_requests_an_hour_with_60_minute_tokens_and_two_page_loads() -> None:
    assert Workload().requests_per_user_hour == pytest.approx(60 / 50 + 2)
    assert Workload(token_minutes=30, page_loads_per_hour=0).requests_per_user_hour == pytest.approx(3.0)


def test_active_users_are_the_request_rate_over_a_users_hourly_requests() -> None:
    assert active_users(32.0, Workload(page_loads_per_hour=2.0)) == pytest.approx(32 * 3600 / 3.2)


def test_at_default_limits_acs_issue_and_create_bind_first() -> None:
    report = scale_report(1, Workload(), MEASURED)
    assert report["token_rps"] == pytest.approx(1000 / 30)
    assert report["creates_per_day"] == pytest.approx(1000 / 30 * 86400)
    assert report["binds_first"]["token_requests"].startswith("ACS issue")
    assert report["binds_first"]["identity_creation"].startswith("ACS create")
    assert report["binds_before_acs"] == {"token_requests": False, "identity_creation": False}
    assert report["partitions_over_target"] == []


def test_at_100x_the_day_partitions_bind_before_acs() -> None:
    report = scale_report(100, Workload(), MEASURED)
    assert report["token_rps"] == pytest.approx(2000)  # one activity row per request, 2,000 entities/s
    assert "activity_<day>" in report["binds_first"]["token_requests"]
    assert "created_<day>" in report["binds_first"]["identity_creation"]
    assert report["binds_before_acs"] == {"token_requests": True, "identity_creation": True}
    assert set(report["partitions_over_target"]) == {"activity_<day>", "created_<day>"}


def test_the_account_binds_when_storage_round_trips_per_request_grow() -> None:
    heavy = Measured(per_instance_rps=200.0, trips_token=40, trips_create=7)
    report = scale_report(100, Workload(), heavy)
    assert report["token_rps"] == pytest.approx(20000 / 40)
    assert report["binds_first"]["token_requests"].startswith("Table account")


def test_instances_bind_when_each_serves_little() -> None:
    slow = Measured(per_instance_rps=0.5, trips_token=5, trips_create=7)
    rows = allowances(1, Workload(), slow)
    least, name = binding(rows, "token_rps")
    assert least == pytest.approx(40 * 0.5)
    assert name.startswith("Function instances")


def test_activity_partition_load_adds_issues_that_record_activity_and_creates() -> None:
    load = partition_load(10, Workload(activity_share=0.5))
    assert load["activity_<day>"] == pytest.approx(10000 / 30 * 0.5 + 10000 / 30)
    assert load["created_<day>"] == pytest.approx(10000 / 30)


def test_no_activity_writes_lift_the_activity_partitions_token_ceiling() -> None:
    rows = allowances(1, Workload(activity_share=0.0), MEASURED)
    activity = next(row for row in rows if "activity_" in row.limit)
    assert activity.token_rps is not None and math.isinf(activity.token_rps)
