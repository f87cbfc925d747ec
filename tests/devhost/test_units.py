"""Route templates, schedules and settings parsing, without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devhost.routes import RouteError, compile_route
from devhost.settings import SettingsError, apply_values, ensure_settings_file, load_settings
from devhost.timers import ScheduleError, resolve_schedule


def test_route_templates() -> None:
    route = compile_route("identities/{id}/token")
    assert route.match("identities/8%3Aacs%3Ax_y/token") == {"id": "8:acs:x_y"}
    assert route.match("IDENTITIES/a/TOKEN") == {"id": "a"}
    assert route.match("identities/a/b/token") is None
    assert compile_route("files/{*rest}").match("files/a/b%20c") == {"rest": "a/b c"}
    assert compile_route("things/{id?}").match("things") == {}
    assert compile_route("things/{id:int}").match("things/x") is None
    assert compile_route("report/{name}.json").match("report/q1.json") == {"name": "q1"}
    assert compile_route("token").rank < compile_route("{anything}").rank
    with pytest.raises(RouteError):
        compile_route("a/{*rest}/b")


def test_schedules() -> None:
    start = datetime(2026, 1, 1, 2, 59, 59, tzinfo=UTC)
    assert resolve_schedule("0 0 3 * * *").next_after(start) == datetime(2026, 1, 1, 3, tzinfo=UTC)
    assert resolve_schedule("%S%", {"S": "*/10 * * * * *"}).next_after(start).second == 0
    assert resolve_schedule("00:05:00").next_after(start) == datetime(2026, 1, 1, 3, 4, 59, tzinfo=UTC)
    with pytest.raises(ScheduleError, match="MISSING"):
        resolve_schedule("%MISSING%", {})
    with pytest.raises(ScheduleError):
        resolve_schedule("every day")


def test_settings_file(tmp_path: Path) -> None:
    (tmp_path / "local.settings.sample.json").write_text(json.dumps({
        "Values": {"A": "1", "B": True, "C": 3},
        "Host": {"CORS": "http://a.localhost/, *", "CORSCredentials": True, "LocalHttpPort": 7072},
        "DevHost": {"FunctionKeys": {"default": "k1"}, "MasterKey": "m1"},
    }))  # fmt: skip
    path = tmp_path / "local.settings.json"
    assert ensure_settings_file(path, tmp_path) is True
    assert ensure_settings_file(path, tmp_path) is False
    settings = load_settings(path)
    assert settings.values == {"A": "1", "B": "true", "C": "3"}
    assert settings.cors_origins == ("http://a.localhost", "*") and settings.cors_credentials
    assert settings.http_port == 7072
    assert settings.keys.accepts_function_key("k1") and settings.keys.accepts_function_key("m1")
    assert not settings.keys.accepts_master_key("k1")
    environ = {"A": "from-env"}
    assert apply_values(settings.values, environ) == {"B": "true", "C": "3"}
    assert environ["A"] == "from-env"
    path.write_text(json.dumps({"Values": {"X": {"nested": 1}}}))
    with pytest.raises(SettingsError, match=r"Values\.X"):
        load_settings(path)
    path.write_text(json.dumps({"Values": {}}))
    assert load_settings(path).keys.generated


def test_host_id_as_the_functions_host_derives_it() -> None:
    from devhost.host_storage import host_id, stable_hash

    assert stable_hash("abc") == (23 * 31 + 97) * 31 * 31 + 98 * 31 + 99
    assert stable_hash("x" * 40) == stable_hash("x" * 40) and -(2**31) <= stable_hash("x" * 40) < 2**31
    assert host_id(Path("/app"), {"AzureFunctionsWebHost__hostid": "Pinned"}) == "Pinned"
    assert host_id(Path("/app"), {"WEBSITE_SITE_NAME": "My-Token-Service-With-A-Long-Name-1"}) == (
        "my-token-service-with-a-long-nam"
    )
    local = host_id(Path("/app"), {}, machine="dev_box.local")
    assert local == f"devboxlocal-{abs(stable_hash('/app'))}"


def test_mode_resolution() -> None:
    from devhost.runner import RunnerStartError, resolve_mode

    assert resolve_mode("auto", (3, 11)) == "direct" and resolve_mode("auto", (3, 13)) == "worker"
    assert resolve_mode("direct", (3, 13)) == "direct"
    with pytest.raises(RunnerStartError, match=r"3\.13\+"):
        resolve_mode("worker", (3, 11))


def test_schedule_status_reads_what_the_dotnet_host_writes() -> None:
    from devhost.schedule_monitor import NEVER, ScheduleStatus

    status = ScheduleStatus.from_json(
        {"Last": "0001-01-01T00:00:00", "Next": "2026-01-01T03:00:00.1234567+01:00", "LastUpdated": None}
    )
    assert status.last == NEVER and status.last_updated == NEVER
    assert status.next == datetime(2026, 1, 1, 2, 0, 0, 123456, tzinfo=UTC)
    assert ScheduleStatus.from_json(status.to_json()) == status
