"""Settings that must not silently default: CLEANUP_SCHEDULE (the host resolves %CLEANUP_SCHEDULE%) and
the credential mode (managed identity unless a developer explicitly asks for their own sign-in)."""

from __future__ import annotations

import pytest

from token_service.settings import Settings, SettingsError


@pytest.mark.parametrize("value", [None, "", "  "])
def test_missing_cleanup_schedule_stops_the_app_naming_it(app_environment: dict[str, str], value: str | None) -> None:
    env = dict(app_environment)
    if value is None:
        env.pop("CLEANUP_SCHEDULE")
    else:
        env["CLEANUP_SCHEDULE"] = value
    with pytest.raises(SettingsError, match="CLEANUP_SCHEDULE: missing"):
        Settings.from_env(env)


def test_cleanup_schedule_is_taken_as_set(app_environment: dict[str, str]) -> None:
    assert Settings.from_env({**app_environment, "CLEANUP_SCHEDULE": "0 30 1 * * *"}).cleanup.schedule == "0 30 1 * * *"


def test_credential_mode_is_managed_identity_unless_chosen(app_environment: dict[str, str]) -> None:
    assert Settings.from_env(app_environment).acs.credential == "managed_identity"
    assert Settings.from_env({**app_environment, "ACS_CREDENTIAL": "developer"}).acs.credential == "developer"
    with pytest.raises(SettingsError, match="ACS_CREDENTIAL"):
        Settings.from_env({**app_environment, "ACS_CREDENTIAL": "default"})


def test_the_function_app_does_not_start_without_cleanup_schedule(app_environment: dict[str, str]) -> None:
    """As the worker would import it: function_app.py fails at import, and the log names the setting."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {key: value for key, value in os.environ.items() if key != "CLEANUP_SCHEDULE"}
    result = subprocess.run(
        [sys.executable, "-c", "import logging; logging.basicConfig(); import function_app"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "invalid app setting: CLEANUP_SCHEDULE: missing" in result.stderr
