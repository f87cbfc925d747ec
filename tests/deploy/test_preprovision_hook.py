"""The preprovision hook (Entra app registration) as azd runs it on posix and on Windows.

Against tests/deploy/fake_az.py on a PATH without uuidgen. Each case is a way a first or a repeated
`azd up` stopped or did harm with the first hook (issue 22, items 1, 2, 3, 5 and 4 of its docs).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.hooks import HookNotRunnable, HookRun, Tenant, launchers, run_hook

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PLATFORMS = ("posix", "windows")


def commands(platform: str) -> list[list[str]]:
    try:
        return launchers("preprovision", platform)
    except HookNotRunnable as error:
        pytest.fail(str(error))


def run_everywhere(
    tmp_path: Path, prepare: Any, env: dict[str, str] | None = None
) -> list[tuple[str, Tenant, HookRun]]:
    """The hook once per platform and executor, each against a fresh tenant made by prepare(tenant)."""
    runs = []
    for platform in PLATFORMS:
        for number, command in enumerate(commands(platform)):
            directory = tmp_path / f"{platform}-{number}"
            directory.mkdir()
            tenant = Tenant(directory)
            prepare(tenant)
            runs.append(
                (f"{platform}: {' '.join(Path(c).name for c in command)}", tenant, run_hook(command, tenant, env))
            )
    return runs


def only_app(tenant: Tenant, name: str) -> dict[str, Any]:
    apps = [app for app in tenant.read()["apps"] if app["displayName"] == name]
    assert len(apps) == 1, apps
    return apps[0]


def values(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["value"] for entry in entries]


def test_azd_can_run_the_hook_on_every_platform() -> None:
    for platform in PLATFORMS:
        assert commands(platform), platform


def test_first_run_registers_the_app_with_real_ids(tmp_path: Path) -> None:
    for where, tenant, run in run_everywhere(tmp_path, lambda tenant: None):
        assert run.returncode == 0, (where, run.stdout, run.stderr)
        bodies = run.patch_bodies()
        assert len(bodies) == 1, where
        ids = [entry["id"] for entry in bodies[0]["api"]["oauth2PermissionScopes"] + bodies[0]["appRoles"]]
        assert ids and all(GUID.match(i) for i in ids), (where, ids)
        app = only_app(tenant, "acs-token-service-dev")
        assert values(app["api"]["oauth2PermissionScopes"]) == ["access_as_user"], where
        assert values(app["appRoles"]) == ["TokenService.Admin"], where
        assert app["api"]["requestedAccessTokenVersion"] == 2
        assert app["identifierUris"] == [f"api://{app['appId']}"]
        assert tenant.read()["servicePrincipals"] == [app["appId"]]
        assert run.azd_env == {
            "AUTH_ISSUER": f"https://login.microsoftonline.com/{tenant.tenant_id}/v2.0",
            "AUTH_AUDIENCE": app["appId"],
        }, where


def test_a_longer_name_with_the_same_prefix_is_not_taken(tmp_path: Path) -> None:
    """`--display-name` is a startswith match: environment dev must not take dev2's app."""

    def prepare(tenant: Tenant) -> None:
        tenant.add_app("acs-token-service-dev2")

    for where, tenant, run in run_everywhere(tmp_path, prepare):
        assert run.returncode == 0, (where, run.stderr)
        other = only_app(tenant, "acs-token-service-dev2")
        assert other["appRoles"] == [] and other["identifierUris"] == [], f"{where}: rewrote another app"
        ours = only_app(tenant, "acs-token-service-dev")
        assert run.azd_env["AUTH_AUDIENCE"] == ours["appId"] != other["appId"], where


def test_two_apps_of_the_exact_name_stop_the_hook(tmp_path: Path) -> None:
    def prepare(tenant: Tenant) -> None:
        tenant.add_app("acs-token-service-dev")
        tenant.add_app("acs-token-service-dev")

    for where, tenant, run in run_everywhere(tmp_path, prepare):
        assert run.returncode != 0, where
        for app in tenant.apps:
            assert app["appId"] in run.stderr, (where, run.stderr)
        assert not run.calls("rest") and not run.calls("ad", "app", "create"), where
        assert run.azd_env == {}, where


def test_a_rerun_keeps_what_an_operator_added_and_then_changes_nothing(tmp_path: Path) -> None:
    """Graph refuses to drop an enabled scope or role (CannotDeleteOrUpdateEnabledEntitlement)."""
    operator_scope = {"id": "11111111-1111-4111-8111-111111111111", "value": "reports.read", "type": "Admin",
                      "isEnabled": True, "adminConsentDisplayName": "Read reports",
                      "adminConsentDescription": "Read reports."}  # fmt: skip
    operator_role = {"id": "22222222-2222-4222-8222-222222222222", "value": "TokenService.Auditor",
                     "isEnabled": True, "allowedMemberTypes": ["User"], "displayName": "Auditor",
                     "description": "Reads the registry."}  # fmt: skip

    def prepare(tenant: Tenant) -> None:
        app = tenant.add_app("acs-token-service-dev")
        app["identifierUris"] = [f"api://{app['appId']}", "https://api.example.test/tokens"]
        app["api"]["requestedAccessTokenVersion"] = 2
        app["api"]["oauth2PermissionScopes"] = [
            {
                "id": "33333333-3333-4333-8333-333333333333",
                "value": "access_as_user",
                "type": "User",
                "isEnabled": True,
            },
            operator_scope,
        ]
        app["appRoles"] = [operator_role]  # our admin role is missing: the hook must add it, keep the auditor

    for where, tenant, run in run_everywhere(tmp_path, prepare):
        assert run.returncode == 0, (where, run.stderr)
        app = only_app(tenant, "acs-token-service-dev")
        assert operator_scope in app["api"]["oauth2PermissionScopes"], where
        assert values(app["api"]["oauth2PermissionScopes"]) == ["access_as_user", "reports.read"], where
        assert app["api"]["oauth2PermissionScopes"][0]["id"] == "33333333-3333-4333-8333-333333333333"
        assert values(app["appRoles"]) == ["TokenService.Auditor", "TokenService.Admin"], where
        assert "https://api.example.test/tokens" in app["identifierUris"], where
        # The same tenant again: nothing is missing, so nothing is written.
        again = run_hook(run_command(where), tenant_from_state(tenant))
        assert again.returncode == 0, (where, again.stderr)
        assert again.patch_bodies() == [], where


def run_command(where: str) -> list[str]:
    platform = where.split(":")[0]
    shell = where.split(": ")[1].split(" ")[0]
    return next(c for c in commands(platform) if Path(c[0]).name == shell)


def tenant_from_state(tenant: Tenant) -> Tenant:
    state = tenant.read()
    tenant.apps = state["apps"]
    return tenant


def test_a_just_created_app_is_retried_while_entra_replicates(tmp_path: Path) -> None:
    def prepare(tenant: Tenant) -> None:
        tenant.replication_lag = 3

    for where, tenant, run in run_everywhere(tmp_path, prepare):
        assert run.returncode == 0, (where, run.stderr)
        assert len(run.calls("ad", "app", "show")) >= 4, where
        assert values(only_app(tenant, "acs-token-service-dev")["appRoles"]) == ["TokenService.Admin"]


def test_graph_and_sign_in_hosts_come_from_the_active_cloud(tmp_path: Path) -> None:
    def prepare(tenant: Tenant) -> None:
        tenant.cloud = {
            "name": "AzureChinaCloud",
            "endpoints": {
                "activeDirectory": "https://login.chinacloudapi.cn",
                "microsoftGraphResourceId": "https://microsoftgraph.chinacloudapi.cn",
                "resourceManager": "https://management.chinacloudapi.cn/",
            },
        }

    for where, tenant, run in run_everywhere(tmp_path, prepare):
        assert run.returncode == 0, (where, run.stderr)
        patches = [call for call in run.calls("rest") if "PATCH" in call]
        assert patches and all("https://microsoftgraph.chinacloudapi.cn/v1.0/" in " ".join(c) for c in patches)
        assert run.azd_env["AUTH_ISSUER"] == f"https://login.chinacloudapi.cn/{tenant.tenant_id}/v2.0", where


def test_without_the_right_to_register_apps_it_says_what_to_set_by_hand(tmp_path: Path) -> None:
    def prepare(tenant: Tenant) -> None:
        tenant.can_create_apps = False

    for where, _tenant, run in run_everywhere(tmp_path, prepare):
        assert run.returncode != 0, where
        assert "azd env set AUTH_ISSUER" in run.stderr and "azd env set AUTH_AUDIENCE" in run.stderr, (
            where,
            run.stderr,
        )


def test_with_issuer_and_audience_set_it_calls_nothing(tmp_path: Path) -> None:
    env = {"AUTH_ISSUER": "https://login.example.test/t/v2.0", "AUTH_AUDIENCE": "api://x"}
    for where, _tenant, run in run_everywhere(tmp_path, lambda tenant: None, env):
        assert run.returncode == 0 and run.az_calls == [] and run.azd_env == {}, where
