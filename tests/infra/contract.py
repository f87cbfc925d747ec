"""The contract between the app and infra/: settings read, binding expressions, roles, no secrets.

Each check returns a list of problems (empty: holds), so tests can feed deliberately broken copies.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from tests.infra.bicep import ROOT, BicepFile, app_settings
from tests.infra.resource_types import resource_body

SETTINGS_SOURCE = ROOT / "token_service" / "settings.py"
BINDING_SOURCES = [ROOT / "function_app.py", *sorted((ROOT / "token_service" / "blueprints").glob("*.py"))]

# Read by Settings but rightly not set by the Bicep, each with its reason.
NOT_SET_BY_INFRA = {
    "AzureWebJobsStorage": "a connection string (it would hold an account key); the identity-based "
    "AzureWebJobsStorage__* settings are set instead",
    "AzureWebJobsStorage__accountName": "AzureWebJobsStorage__tableServiceUri is set instead (Settings prefers it)",
    "WEBSITE_AUTH_ENABLED": "set by the platform when App Service Authentication is turned on",
}

# Built-in Azure roles (Azure RBAC built-in roles reference: role name -> role definition id).
BUILT_IN_ROLES = {
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}
# What the app needs, and nothing more: (scope resource type, role name). No queue role: the host uses
# queues only for Durable Functions and MCP triggers. The table role covers the registry table only.
REQUIRED_ASSIGNMENTS = {
    ("Microsoft.Communication/communicationServices", "Contributor"),
    ("Microsoft.Storage/storageAccounts", "Storage Blob Data Owner"),
    ("Microsoft.Storage/storageAccounts/tableServices/tables", "Storage Table Data Contributor"),
    ("Microsoft.Insights/components", "Monitoring Metrics Publisher"),
}

# Words that mean a key or secret reached infra/ (case-insensitive).
FORBIDDEN = re.compile(
    r"listkeys|listconnectionstrings|listsecrets|listaccountsas|listservicesas|accountkey|sharedaccesskey|"
    r"sharedaccesssignature|primarykey|secondarykey|instrumentationkey|connectionstring|connection_string|"
    r"secret|password|@secure",
    re.IGNORECASE,
)
# The one allowed mention: App Insights' connection string names the component and its ingestion endpoint;
# it is no credential, and with DisableLocalAuth ingestion needs the identity's Entra token anyway.
ALLOWED_MENTION = re.compile(
    r"\{ name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights\.properties\.ConnectionString \}"
)


def settings_read() -> set[str]:
    """Every setting name Settings reads: the first argument of each `reader.<kind>("NAME", ...)` call."""
    tree = ast.parse(SETTINGS_SOURCE.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "reader"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.add(node.args[0].value)
    return names


def binding_expressions() -> set[str]:
    """Every %NAME% app-setting expression in a string of function_app.py or the blueprints."""
    names: set[str] = set()
    for path in BINDING_SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.update(re.findall(r"%([A-Za-z_][A-Za-z0-9_]*)%", node.value))
    return names


def missing_settings(bicep: BicepFile, needed: set[str]) -> list[str]:
    present = set(app_settings(bicep))
    problems = [f"app setting {name} is read by the app but not set in infra/" for name in sorted(needed - present)]
    problems += [
        f"app setting {name} is set in infra/ but must not be: {NOT_SET_BY_INFRA[name]}"
        for name in sorted(present & {"AzureWebJobsStorage"})
    ]
    return problems


def role_problems(bicep: BicepFile, source: str) -> list[str]:
    """Each role assignment: a built-in role id named in a comment, for a ServicePrincipal; all required exist."""
    named = {
        m.group(1): (m.group(2), m.group(3).strip())
        for m in re.finditer(r"var (\w+) = '([0-9a-f-]{36})' // (.+)", source)
    }
    problems: list[str] = []
    found: set[tuple[str, str]] = set()
    for symbol, resource in bicep.resources.items():
        if resource.get("type", "").lower() != "microsoft.authorization/roleassignments":
            continue
        config = resource_body(resource)
        properties = config.get("properties") or {}
        if properties.get("principalType") != "ServicePrincipal":
            problems.append(f"{symbol}: principalType must be 'ServicePrincipal' (a managed identity)")
        role_ref = _role_variable(properties.get("roleDefinitionId"))
        if role_ref not in named:
            problems.append(f"{symbol}: roleDefinitionId: subscriptionResourceId(..., <var with '// Role name'>)")
            continue
        role_id, role_name = named[role_ref]
        if BUILT_IN_ROLES.get(role_name) != role_id:
            problems.append(f"{symbol}: {role_id} is not the built-in role id of {role_name!r}")
            continue
        scope = config.get("scope")
        scope_type = bicep.resources.get(scope, {}).get("type", "") if isinstance(scope, str) else ""
        found.add((scope_type, role_name))
    problems += [f"missing role assignment: {role} on {scope}" for scope, role in sorted(REQUIRED_ASSIGNMENTS - found)]
    unneeded = sorted(found - REQUIRED_ASSIGNMENTS)
    problems += [f"role assignment not needed by the app: {role} on {scope}" for scope, role in unneeded]
    return problems


def _role_variable(value: Any) -> str | None:
    if isinstance(value, dict) and "function" in value:
        function = value["function"]
        if function.get("type") == "subscription_resource_id":
            parameters = function.get("parameters") or {}
            if parameters.get("resource_type") == "Microsoft.Authorization/roleDefinitions":
                name = parameters.get("resource_name_1")
                return name if isinstance(name, str) else None
    return None


def secret_mentions(files: list[Path], root: Path) -> list[str]:
    problems: list[str] = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = ALLOWED_MENTION.sub("", line)
            match = FORBIDDEN.search(text)
            if match:
                problems.append(f"{path.relative_to(root)}:{number}: {match.group(0)!r} in infra: {line.strip()}")
    return problems
