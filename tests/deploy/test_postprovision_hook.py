"""The postprovision hook: the first deploy waits (boundedly) for the new storage role to take effect.

Flex Consumption writes the package with the app's identity; a Storage Blob Data Owner assignment
made seconds earlier in the same `azd up` can still be refused (403 InaccessibleStorageException).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from tests.deploy.hooks import ROOT, HookNotRunnable, Tenant, launchers, run_hook
from tests.infra.bicep import INFRA, parse

ASSIGNMENT = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg-dev/providers/microsoft.storage/"
    "storageaccounts/stx/providers/microsoft.authorization/roleassignments/5b2c3d4e-0000-4000-8000-000000000001"
)


def hook_module() -> ModuleType:
    sys.path.insert(0, str(ROOT / "infra" / "hooks"))
    try:
        spec = importlib.util.spec_from_file_location(
            "wait_for_storage_role", ROOT / "infra/hooks/wait_for_storage_role.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "infra" / "hooks"))


def commands() -> list[list[str]]:
    try:
        return [command for platform in ("posix", "windows") for command in launchers("postprovision", platform)]
    except HookNotRunnable as error:
        pytest.fail(str(error))


def tenant_with_assignment(tmp_path: Path, created: datetime) -> Tenant:
    tenant = Tenant(tmp_path)
    tenant.role_assignments[ASSIGNMENT] = {
        "id": ASSIGNMENT,
        "properties": {"createdOn": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "principalType": "ServicePrincipal"},
    }
    return tenant


def test_the_bicep_hands_the_hook_the_storage_role_assignment() -> None:
    bicep = parse(INFRA / "main.bicep")
    outputs = bicep.tree.get("outputs") or {}
    assert "STORAGE_ROLE_ASSIGNMENT_ID" in outputs, "main.bicep outputs no STORAGE_ROLE_ASSIGNMENT_ID for the hook"
    value = outputs["STORAGE_ROLE_ASSIGNMENT_ID"]["value"]
    symbol = value["property_accessor"] if isinstance(value, dict) and "property_accessor" in value else value
    text = str(symbol)
    assignment = next(name for name in bicep.resources if re.search(rf"\b{name}\b", text))
    resource = bicep.resources[assignment]
    assert resource["type"] == "Microsoft.Authorization/roleAssignments"
    assert resource["config"]["scope"] == "storage"
    assert "roleStorageBlobDataOwner" in str(resource["config"]["properties"]["roleDefinitionId"])


def test_a_new_assignment_is_waited_for_on_every_platform(tmp_path: Path) -> None:
    for number, command in enumerate(commands()):
        directory = tmp_path / str(number)
        directory.mkdir()
        tenant = tenant_with_assignment(directory, datetime.now(UTC) - timedelta(seconds=1))
        run = run_hook(command, tenant, {"STORAGE_ROLE_ASSIGNMENT_ID": ASSIGNMENT, "ROLE_PROPAGATION_SECONDS": "3"})
        assert run.returncode == 0, run.stderr
        assert re.search(r"waiting [12] s more", run.stdout), run.stdout
        assert run.calls("rest", "--method", "GET"), run.az_calls


def test_an_old_assignment_is_not_waited_for(tmp_path: Path) -> None:
    tenant = tenant_with_assignment(tmp_path, datetime.now(UTC) - timedelta(hours=2))
    run = run_hook(commands()[0], tenant, {"STORAGE_ROLE_ASSIGNMENT_ID": ASSIGNMENT})
    assert run.returncode == 0, run.stderr
    assert "older than 180 s" in run.stdout, run.stdout


def test_an_unreadable_assignment_never_fails_provisioning(tmp_path: Path) -> None:
    run = run_hook(commands()[0], Tenant(tmp_path), {"STORAGE_ROLE_ASSIGNMENT_ID": ASSIGNMENT})
    assert run.returncode == 0, run.stderr
    assert "azd deploy" in run.stdout, run.stdout


def test_the_wait_is_bounded_by_the_setting_whatever_the_clocks_say() -> None:
    remaining_wait = hook_module().remaining_wait
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert remaining_wait("2026-12-02T11:59:00Z", now, 180) == pytest.approx(120)
    assert remaining_wait("2026-12-02T11:00:00.1234567Z"[:26] + "Z", now, 180) == 0
    assert remaining_wait("2026-12-02T12:10:00+00:00", now, 180) == 180  # created "in the future": skewed clock
    assert remaining_wait("2026-12-02T11:59:30", now, 0) == 0
