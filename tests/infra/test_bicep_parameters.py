"""main.bicep's parameters, runtime and guard rails as Microsoft documents them for Flex Consumption.

Issue 22: the preview floor of 40 instances, no region list, untrimmed CORS origins, ftpsState (on Flex's
list of site properties not to set), Python 3.11 while the tests prove the app in azure-functions-runtime
on 3.13, and no guard keeping ACS local auth off against code that holds Contributor on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.infra.bicep import INFRA, ROOT, BicepFile, parse
from tests.infra.resource_types import resource_body

MAIN = INFRA / "main.bicep"
# Built-in 'Communication services resource should have local authentication methods disabled'.
ACS_LOCAL_AUTH_POLICY = "fc264132-db9c-4302-bb7d-3994c36461fe"


def decorators(bicep: BicepFile, name: str) -> dict[str, Any]:
    return {d["type"]: d.get("argument") for d in bicep.parameters[name].get("decorators") or []}


def site(bicep: BicepFile) -> dict[str, Any]:
    return next(resource_body(r) for r in bicep.resources.values() if r.get("type") == "Microsoft.Web/sites")


def test_instance_count_allows_what_flex_allows() -> None:
    limits = decorators(parse(MAIN), "maximumInstanceCount")
    assert limits.get("min_value") == 1 and limits.get("max_value") == 1000, limits


def test_location_is_a_flex_region_and_azd_asks_for_it() -> None:
    found = decorators(parse(MAIN), "location")
    assert found.get("metadata") == {"azd": {"type": "location"}}, found
    regions = found.get("allowed") or []
    assert {"eastus", "westeurope", "swedencentral", "australiaeast"} <= set(regions), regions
    assert all(re.fullmatch(r"[a-z0-9]+", region) for region in regions), regions


def test_no_deprecated_site_properties() -> None:
    site_config = site(parse(MAIN))["properties"]["siteConfig"]
    assert "ftpsState" not in site_config


def test_cors_origins_are_cleaned_before_they_are_split() -> None:
    bicep = parse(MAIN)
    origins = site(bicep)["properties"]["siteConfig"]["cors"]["allowedOrigins"]
    text = str(bicep.variables.get(origins, {}).get("value")) + str(bicep.variables.get("corsOriginsText", {}))
    assert "'trim'" in text and "'replace'" in text, (origins, text)


def test_python_is_the_version_whose_worker_the_tests_run() -> None:
    """3.13+: Azure runs the app in azure-functions-runtime, the library the devhost's worker mode uses."""
    runtime = site(parse(MAIN))["properties"]["functionAppConfig"]["runtime"]
    assert runtime == {"name": "python", "version": "3.13"}, runtime
    requirements = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.search(r'^azure-functions-runtime[^;\n]*; python_version >= "3\.13"', requirements, re.MULTILINE)
    assert "DEVHOST_MODE=worker" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_host_storage_settings_are_blob_and_the_registry_only() -> None:
    settings = {entry["name"] for entry in site(parse(MAIN))["properties"]["siteConfig"]["appSettings"]}
    assert "AzureWebJobsStorage__queueServiceUri" not in settings
    assert {"AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__tableServiceUri"} <= settings


def acs_policy_problems(path: Path) -> list[str]:
    bicep = parse(path)
    problems = []
    acs = [s for s, r in bicep.resources.items() if r.get("type") == "Microsoft.Communication/communicationServices"]
    if len(acs) != 1 or resource_body(bicep.resources[acs[0]])["properties"].get("disableLocalAuth") is not True:
        problems.append("the ACS resource must have disableLocalAuth: true")
    assignments = [r for r in bicep.resources.values() if r.get("type") == "Microsoft.Authorization/policyAssignments"]
    if len(assignments) != 1:
        return [*problems, "one policy assignment on the ACS resource is missing"]
    resource = assignments[0]
    body = resource_body(resource)
    properties = body.get("properties") or {}
    if body.get("scope") != (acs[0] if acs else None):
        problems.append("the policy assignment must be scoped to the ACS resource")
    if ACS_LOCAL_AUTH_POLICY not in str(properties.get("policyDefinitionId")) + str(bicep.variables):
        problems.append("the policy must be the built-in local-auth one")
    if (properties.get("parameters") or {}).get("effect", {}).get("value") != "Deny":
        problems.append("the policy effect must be Deny")
    condition = (resource.get("config") or {}).get("condition")
    switch = "enforceAcsLocalAuthDisabled"
    if switch not in str(condition) or bicep.parameters.get(switch, {}).get("default") is not True:
        problems.append(f"the assignment must be switched by the parameter {switch}, default true")
    return problems


def test_a_deny_policy_keeps_acs_local_auth_off() -> None:
    assert acs_policy_problems(MAIN) == []


def test_a_missing_or_weakened_policy_is_reported(tmp_path: Path) -> None:
    text = MAIN.read_text(encoding="utf-8")
    for old, new in (
        ("value: 'Deny'", "value: 'Audit'"),
        (
            "scope: acs\n  properties: {\n    displayName: 'ACS",
            "scope: storage\n  properties: {\n    displayName: 'ACS",
        ),
    ):
        assert old in text, old
        copy = tmp_path / "main.bicep"
        copy.write_text(text.replace(old, new, 1), encoding="utf-8")
        assert acs_policy_problems(copy), new
