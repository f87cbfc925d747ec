"""The app and infra/ agree: settings and %NAME% bindings are set, roles are the built-in ones, no secrets.

Each check is also fed a deliberately broken copy of main.bicep, to show it fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.bicep import INFRA, ROOT, app_settings, parse
from tests.infra.contract import (
    NOT_SET_BY_INFRA,
    binding_expressions,
    missing_settings,
    role_problems,
    secret_mentions,
    settings_read,
)

MAIN = INFRA / "main.bicep"


def needed_settings() -> set[str]:
    return (settings_read() | binding_expressions()) - set(NOT_SET_BY_INFRA)


def infra_files() -> list[Path]:
    skipped = {"__pycache__", ".venv"}  # the hooks' bytecode and the venv azd makes for them
    files = [*INFRA.rglob("*"), ROOT / "azure.yaml"]
    return sorted(p for p in files if p.is_file() and not skipped & set(p.relative_to(ROOT).parts))


def _copy(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    text = MAIN.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in main.bicep: update this test"
    broken = text.replace(old, new, 1)
    path = tmp_path / "main.bicep"
    path.write_text(broken, encoding="utf-8")
    return path, broken


def test_the_extraction_sees_the_settings() -> None:
    """Guards the ast extraction itself: a few names it must find."""
    assert {
        "COMMUNICATION_SERVICES_ENDPOINT",
        "AUTH_ISSUER",
        "CLEANUP_SCHEDULE",
        "ACS_CREDENTIAL",
        "AzureWebJobsStorage__clientId",
    } <= settings_read()
    assert "CLEANUP_SCHEDULE" in binding_expressions()


def test_every_setting_the_app_reads_is_set_by_infra() -> None:
    assert missing_settings(parse(MAIN), needed_settings()) == []


def test_settings_defaults_are_the_documented_ones() -> None:
    """A parameter behind an app setting defaults to the default in the settings table of docs/settings.md."""
    bicep = parse(MAIN)
    documented = _documented_defaults()
    checked = 0
    for name, value in app_settings(bicep).items():
        if isinstance(value, str) and value in bicep.parameters and name in documented:
            default = bicep.parameters[value].get("default")
            assert default == documented[name], f"{name}: Bicep default {default!r}, docs {documented[name]!r}"
            checked += 1
    assert checked >= 10


def _documented_defaults() -> dict[str, str]:
    import re

    defaults: dict[str, str] = {}
    table = (ROOT / "docs" / "settings.md").read_text()
    for match in re.finditer(r"^\| `([A-Za-z_]+)` \| ([^|]+) \|", table, re.MULTILINE):
        cell = match.group(2).strip()
        if cell == "empty":
            defaults[match.group(1)] = ""
        elif cell.startswith("`") and cell.endswith("`"):
            defaults[match.group(1)] = cell.strip("`")
    return defaults


def test_role_assignments_are_the_built_in_roles() -> None:
    assert role_problems(parse(MAIN), MAIN.read_text(encoding="utf-8")) == []


def test_no_key_or_secret_in_infra() -> None:
    files = infra_files()
    assert MAIN in files and (INFRA / "hooks" / "register_api_app.py") in files
    assert secret_mentions(files, ROOT) == []


def test_a_missing_setting_is_reported(tmp_path: Path) -> None:
    path, _ = _copy(tmp_path, "{ name: 'CLEANUP_SCHEDULE', value: cleanupSchedule }", "")
    assert missing_settings(parse(path), needed_settings()) == [
        "app setting CLEANUP_SCHEDULE is read by the app but not set in infra/"
    ]


def test_a_storage_connection_string_setting_is_reported(tmp_path: Path) -> None:
    path, _ = _copy(tmp_path, "appSettings: [", "appSettings: [\n        { name: 'AzureWebJobsStorage', value: 'x' }")
    assert any("must not be" in p for p in missing_settings(parse(path), needed_settings()))


@pytest.mark.parametrize(
    ("old", "new", "reported"),
    [
        (
            "'0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor",
            "'0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa4' // Storage Table Data Contributor",
            "is not the built-in role id of 'Storage Table Data Contributor'",
        ),
        (
            "scope: registry",
            "scope: storage",
            "not needed by the app: Storage Table Data Contributor on Microsoft.Storage/storageAccounts",
        ),
        (
            "'b24988ac-6180-42a0-ab88-20f7382dd24c' // Contributor",
            "'b24988ac-6180-42a0-ab88-20f7382dd24c' // Owner",
            "is not the built-in role id of 'Owner'",
        ),
        ("principalType: 'ServicePrincipal'", "principalType: 'User'", "principalType must be 'ServicePrincipal'"),
        ("scope: appInsights", "scope: logAnalytics", "missing role assignment: Monitoring Metrics Publisher"),
    ],
)
def test_a_wrong_role_is_reported(tmp_path: Path, old: str, new: str, reported: str) -> None:
    path, text = _copy(tmp_path, old, new)
    assert any(reported in p for p in role_problems(parse(path), text)), role_problems(parse(path), text)


@pytest.mark.parametrize(
    "line",
    [
        "var storageKey = storage.listKeys().keys[0].value",
        "var acsConnection = acs.listKeys().primaryConnectionString",
        "param adminPassword string",
        "{ name: 'AzureWebJobsStorage', value: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=y' }",
    ],
)
def test_a_key_or_secret_is_reported(tmp_path: Path, line: str) -> None:
    path, _ = _copy(tmp_path, "var baseUrl", f"{line}\nvar baseUrl")
    assert secret_mentions([path], tmp_path)
