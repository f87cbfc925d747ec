"""A timer whose %NAME% schedule does not resolve is not started, loudly, as the Functions host does."""

from __future__ import annotations

import logging

import pytest

from devhost.cors import CorsPolicy
from devhost.direct import DirectRunner
from devhost.functions import FunctionSpec
from devhost.server import HostState
from devhost.settings import HostKeys


async def _tick(timer: object) -> None:
    return None


def _state(schedule: str) -> HostState:
    timer = FunctionSpec("tick", "timerTrigger", "timer", _tick, {"type": "timerTrigger", "schedule": schedule})
    return HostState(DirectRunner([timer]), HostKeys({"default": "k"}, "m"), CorsPolicy((), False))


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unresolved_schedule_setting_means_no_timer_and_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("TICK_SCHEDULE", raising=False)
    else:
        monkeypatch.setenv("TICK_SCHEDULE", value)
    with caplog.at_level(logging.ERROR, logger="devhost"):
        state = _state("%TICK_SCHEDULE%")
    assert state.timers == {}
    assert "TICK_SCHEDULE" in state.timer_errors["tick"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("tick" in r.getMessage() and "TICK_SCHEDULE" in r.getMessage() for r in errors)


def test_resolved_schedule_setting_starts_the_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICK_SCHEDULE", "0 0 3 * * *")
    state = _state("%TICK_SCHEDULE%")
    assert state.timers["tick"].schedule.expression == "0 0 3 * * *"
    assert state.timer_errors == {}
