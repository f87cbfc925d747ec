"""azd preprovision hook: register (or find) the Entra app that callers' tokens are issued for, and
store AUTH_ISSUER / AUTH_AUDIENCE in the azd environment for infra/main.parameters.json.

Bicep cannot create app registrations, so this runs before provisioning, on every desktop azd runs
on (Python: one script for Windows, macOS and Linux). Needs the Azure CLI signed in (`az login`) to
the tenant whose users will call the API, with the right to register applications; without it, set
AUTH_ISSUER and AUTH_AUDIENCE by hand (`azd env set`) and this hook does nothing.

Safe to run again, and safe for an app an operator has since extended:
- the app is found by its exact display name, and two apps of that name stop the hook (never `[0]`);
- the scope and the role are added when missing and otherwise left as they are; scopes, roles and
  identifier URIs an operator added are kept (Graph refuses to drop an enabled one anyway);
- nothing is written when nothing is missing;
- a just-created app is retried while Entra ID replicates it;
- Graph and sign-in hosts come from the CLI's active cloud (`az cloud show`), not the public cloud.

Also runnable by hand: AZURE_ENV_NAME=dev python infra/hooks/register_api_app.py
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import uuid
from typing import Any

from azcli import Az, AzFailed, fail, retry_replication

HOOK = "register-api-app"
SCOPE = "access_as_user"
ADMIN_ROLE = "TokenService.Admin"
# azd environment names are letters, digits and '-'; anything else must not reach an OData filter.
ENVIRONMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
BY_HAND = (
    "set them by hand instead and run azd again:\n"
    "  azd env set AUTH_ISSUER https://login.microsoftonline.com/<tenant id>/v2.0\n"
    "  azd env set AUTH_AUDIENCE <client id of the API's app registration>"
)


def scope_entry(scope_id: str) -> dict[str, Any]:
    return {
        "id": scope_id,
        "value": SCOPE,
        "type": "User",
        "isEnabled": True,
        "adminConsentDisplayName": "Get ACS tokens as the signed-in user",
        "adminConsentDescription": "Lets the app get Azure Communication Services tokens for the signed-in user.",
        "userConsentDisplayName": "Get ACS tokens as you",
        "userConsentDescription": "Lets the app get Azure Communication Services tokens for you.",
    }


def role_entry(role_id: str) -> dict[str, Any]:
    return {
        "id": role_id,
        "value": ADMIN_ROLE,
        "isEnabled": True,
        "allowedMemberTypes": ["User", "Application"],
        "displayName": "Token service administrator",
        "description": "Administers ACS identities through the /api/identities routes.",
    }


def new_guid() -> str:
    return str(uuid.uuid4())


def application_patch(app: dict[str, Any]) -> dict[str, Any]:
    """What to PATCH so the app has our URI, v2 tokens, scope and role; {} when it already has them.

    Collections are sent whole (Graph replaces them), as they are plus what is missing: existing
    entries, ours or an operator's, go back unchanged.
    """
    patch: dict[str, Any] = {}
    uris = list(app.get("identifierUris") or [])
    wanted_uri = f"api://{app['appId']}"
    if wanted_uri not in uris:
        patch["identifierUris"] = [*uris, wanted_uri]

    api = copy.deepcopy(app.get("api") or {})
    api_changed = False
    if api.get("requestedAccessTokenVersion") != 2:
        api["requestedAccessTokenVersion"] = 2
        api_changed = True
    scopes = list(api.get("oauth2PermissionScopes") or [])
    if not any(scope.get("value") == SCOPE for scope in scopes):
        api["oauth2PermissionScopes"] = [*scopes, scope_entry(new_guid())]
        api_changed = True
    if api_changed:
        patch["api"] = api

    roles = list(app.get("appRoles") or [])
    if not any(role.get("value") == ADMIN_ROLE for role in roles):
        patch["appRoles"] = [*roles, role_entry(new_guid())]
    return patch


def find_app(az: Az, name: str) -> dict[str, Any] | None:
    """The one app of exactly this display name, or None; two or more stop the hook."""
    found = az.json("ad", "app", "list", "--filter", f"displayName eq '{name}'") or []
    exact = [app for app in found if app.get("displayName") == name]
    if len(exact) > 1:
        ids = ", ".join(str(app.get("appId")) for app in exact)
        fail(HOOK, f"{len(exact)} Entra apps are named {name} ({ids}); keep one, or {BY_HAND}")
    return exact[0] if exact else None


def set_azd_env(name: str, value: str) -> None:
    azd = shutil.which("azd")
    if azd:
        subprocess.run([azd, "env", "set", name, value], check=True)


def main() -> int:
    if os.environ.get("AUTH_ISSUER") and os.environ.get("AUTH_AUDIENCE"):
        print(f"{HOOK}: AUTH_ISSUER and AUTH_AUDIENCE already set; nothing to do.")
        return 0
    environment = os.environ.get("AZURE_ENV_NAME") or "dev"
    if not ENVIRONMENT_NAME.match(environment):
        fail(HOOK, f"AZURE_ENV_NAME {environment!r} is not a valid azd environment name")
    name = f"acs-token-service-{environment}"
    az = Az.find()
    if az is None:
        fail(HOOK, f"the Azure CLI (az) is needed to register the API's Entra app; or {BY_HAND}")
        return 1
    try:
        tenant_id = az.json("account", "show")["tenantId"]
        endpoints = az.json("cloud", "show")["endpoints"]
        graph = str(endpoints["microsoftGraphResourceId"]).rstrip("/")
        login = str(endpoints["activeDirectory"]).rstrip("/")

        app = find_app(az, name)
        if app is None:
            print(f"{HOOK}: registering Entra app {name}")
            try:
                created = az.json("ad", "app", "create", "--display-name", name, "--sign-in-audience", "AzureADMyOrg")
            except AzFailed as error:
                fail(HOOK, f"could not register an Entra app ({error.stderr.strip()}); {BY_HAND}")
                return 1
            app_id = str(created["appId"])
        else:
            app_id = str(app["appId"])
            print(f"{HOOK}: found Entra app {name} ({app_id})")
        app = retry_replication(lambda: az.json("ad", "app", "show", "--id", app_id))
        patch = application_patch(app)
        if patch:
            print(f"{HOOK}: adding {', '.join(sorted(patch))} to {name}")
            uri = f"{graph}/v1.0/applications/{app['id']}"
            retry_replication(lambda: az.rest("PATCH", uri, patch))
        else:
            print(f"{HOOK}: {name} already has the scope, the role and the identifier URI")
        # A service principal, so that users and apps can be assigned the admin role.
        try:
            az.run("ad", "sp", "show", "--id", app_id, "--output", "none")
        except AzFailed:
            retry_replication(lambda: az.run("ad", "sp", "create", "--id", app_id, "--output", "none"))
    except AzFailed as error:
        fail(HOOK, f"{error}\nIf you cannot register apps in this tenant, {BY_HAND}")
        return 1

    issuer = f"{login}/{tenant_id}/v2.0"
    set_azd_env("AUTH_ISSUER", issuer)
    set_azd_env("AUTH_AUDIENCE", app_id)
    print(f"{HOOK}: AUTH_ISSUER={issuer} AUTH_AUDIENCE={app_id}")
    print(f"{HOOK}: assign operators the {ADMIN_ROLE} role under Enterprise applications > {name}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
