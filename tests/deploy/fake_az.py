"""A stand-in `az` for testing infra/hooks: records every call and answers as the Azure CLI would.

This tests our hook scripts, not Azure. State is one JSON file (FAKE_AZ_STATE): the tenant's app
registrations, service principals and role assignments. It implements only the commands the hooks
call, with the behaviour the hooks must cope with (each taken from the CLI or Graph documentation):

- `az ad app list --display-name X` matches with startswith (azure-cli's list_applications builds
  `startswith(displayName,'X')`); `--filter "displayName eq 'X'"` is exact.
- Graph PATCH of `api.oauth2PermissionScopes` / `appRoles` replaces the collection and refuses to drop
  or change an enabled entry (CannotDeleteOrUpdateEnabledEntitlement), and refuses ids that are not GUIDs.
- A freshly created app is not yet readable for `replicationLag` calls (Request_ResourceNotFound).
- `--query` is JMESPath (the library az uses), `--output` json, tsv or none.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import jmespath

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
PUBLIC_CLOUD = {
    "name": "AzureCloud",
    "endpoints": {
        "activeDirectory": "https://login.microsoftonline.com",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "resourceManager": "https://management.azure.com/",
    },
}


class AzError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def new_app(display_name: str) -> dict[str, Any]:
    return {
        "appId": str(uuid.uuid4()),
        "id": str(uuid.uuid4()),
        "displayName": display_name,
        "signInAudience": "AzureADMyOrg",
        "identifierUris": [],
        "api": {
            "acceptMappedClaims": None,
            "knownClientApplications": [],
            "oauth2PermissionScopes": [],
            "preAuthorizedApplications": [],
            "requestedAccessTokenVersion": None,
        },
        "appRoles": [],
    }


def _options(args: list[str]) -> tuple[list[str], dict[str, str]]:
    words: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("-"):
            name = {"-o": "--output"}.get(arg, arg)
            value = args[index + 1] if index + 1 < len(args) and not args[index + 1].startswith("--") else ""
            options[name] = value
            index += 2 if value else 1
        else:
            words.append(arg)
            index += 1
    return words, options


def _tsv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_tsv(item) for item in value)
    if isinstance(value, dict):
        return "\t".join(_tsv(item) for item in value.values())
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


class FakeAz:
    def __init__(self, state_path: Path) -> None:
        self.path = state_path
        self.state: dict[str, Any] = json.loads(state_path.read_text(encoding="utf-8"))

    def save(self) -> None:
        self.path.write_text(json.dumps(self.state, indent=1), encoding="utf-8")

    def run(self, args: list[str]) -> Any:
        words, options = _options(args)
        command = " ".join(words[:3]) if words[:2] in (["ad", "app"], ["ad", "sp"]) else " ".join(words[:2])
        handler = {
            "account show": self.account_show,
            "cloud show": self.cloud_show,
            "ad app list": self.app_list,
            "ad app create": self.app_create,
            "ad app show": self.app_show,
            "ad sp show": self.sp_show,
            "ad sp create": self.sp_create,
        }.get(command)
        if words[:1] == ["rest"]:
            return self.rest(options)
        if handler is None:
            raise AzError(f"fake az: '{' '.join(words)}' is not implemented", 2)
        return handler(options)

    # -- commands ----------------------------------------------------------------------------------

    def account_show(self, options: dict[str, str]) -> Any:
        if not self.state.get("signedIn", True):
            raise AzError("Please run 'az login' to setup account.")
        return {"tenantId": self.state["tenantId"], "user": {"name": "dev@example.test"}}

    def cloud_show(self, options: dict[str, str]) -> Any:
        return self.state.get("cloud", PUBLIC_CLOUD)

    def app_list(self, options: dict[str, str]) -> Any:
        apps = self.state["apps"]
        if "--display-name" in options:
            prefix = options["--display-name"].lower()
            return [a for a in apps if a["displayName"].lower().startswith(prefix)]
        if "--filter" in options:
            match = re.fullmatch(r"displayName eq '((?:[^']|'')*)'", options["--filter"])
            if not match:
                raise AzError(f"fake az: unsupported filter {options['--filter']!r}", 2)
            name = match.group(1).replace("''", "'")
            return [a for a in apps if a["displayName"] == name]
        return apps

    def app_create(self, options: dict[str, str]) -> Any:
        if not self.state.get("canCreateApps", True):
            raise AzError("Insufficient privileges to complete the operation. (Authorization_RequestDenied)")
        app = new_app(options["--display-name"])
        self.state["apps"].append(app)
        self.state.setdefault("hidden", {})[app["appId"]] = int(self.state.get("replicationLag", 0))
        return app

    def _find(self, key: str, value: str) -> dict[str, Any]:
        for app in self.state["apps"]:
            if app[key] == value:
                remaining = self.state.get("hidden", {}).get(app["appId"], 0)
                if remaining > 0:
                    self.state["hidden"][app["appId"]] = remaining - 1
                    break
                return app
        raise AzError(
            f"Resource '{value}' does not exist or one of its queried reference-property objects are not present."
            " (Request_ResourceNotFound)",
            3,
        )

    def app_show(self, options: dict[str, str]) -> Any:
        return self._find("appId", options["--id"])

    def sp_show(self, options: dict[str, str]) -> Any:
        if options["--id"] not in self.state.setdefault("servicePrincipals", []):
            raise AzError(f"Service principal '{options['--id']}' doesn't exist", 3)
        return {"appId": options["--id"]}

    def sp_create(self, options: dict[str, str]) -> Any:
        self._find("appId", options["--id"])
        self.state.setdefault("servicePrincipals", []).append(options["--id"])
        return {"appId": options["--id"]}

    def rest(self, options: dict[str, str]) -> Any:
        method = options.get("--method", "get").upper()
        uri = options["--uri"]
        graph = self.cloud_show({})["endpoints"]["microsoftGraphResourceId"].rstrip("/")
        if uri.startswith("/subscriptions/") and method == "GET":
            assignment = self.state.get("roleAssignments", {}).get(uri.split("?", 1)[0].lower())
            if assignment is None:
                raise AzError('Not Found({"error":{"code":"RoleAssignmentNotFound"}})')
            return assignment
        match = re.fullmatch(re.escape(graph) + r"/v1\.0/applications/([0-9a-f-]+)", uri)
        if not match:
            raise AzError(f"fake az: rest {method} {uri} is not implemented", 2)
        app = self._find("id", match.group(1))
        if method == "GET":
            return app
        if method != "PATCH":
            raise AzError(f"fake az: rest {method} is not implemented", 2)
        body = options["--body"]
        if body.startswith("@"):
            body = Path(body[1:]).read_text(encoding="utf-8")
        _graph_patch(app, json.loads(body))
        return None


def _graph_patch(app: dict[str, Any], patch: dict[str, Any]) -> None:
    """Graph's update of an application: the collections given replace the old ones, within its rules."""
    api_patch = patch.get("api") or {}
    checks = [("appRoles", app.get("appRoles", []), patch.get("appRoles"))]
    checks.append(
        (
            "oauth2PermissionScopes",
            app["api"].get("oauth2PermissionScopes", []),
            api_patch.get("oauth2PermissionScopes"),
        )
    )
    for name, old, new in checks:
        if new is None:
            continue
        ids = [entry.get("id", "") for entry in new]
        for entry_id in ids:
            if not isinstance(entry_id, str) or not GUID.match(entry_id):
                raise AzError(
                    f'Bad Request({{"error":{{"code":"Request_BadRequest","message":"Invalid value '
                    f"specified for property 'id' of resource '{name}'.\"}}}})"
                )
        if len(set(ids)) != len(ids):
            raise AzError(
                f'Bad Request({{"error":{{"code":"Request_BadRequest","message":"duplicate id in {name}"}}}})'
            )
        by_id = {entry["id"]: entry for entry in new}
        for entry in old:
            if entry.get("isEnabled") and by_id.get(entry["id"]) != entry:
                raise AzError(
                    'Bad Request({"error":{"code":"CannotDeleteOrUpdateEnabledEntitlement","message":'
                    '"Property value cannot be deleted or updated unless it is disabled first."}})'
                )
    for key, value in patch.items():
        if key == "api":
            app["api"].update(value)
        else:
            app[key] = value


def main(argv: list[str]) -> int:
    state = Path(os.environ["FAKE_AZ_STATE"])
    entry: dict[str, Any] = {"argv": argv}
    if "--body" in argv:  # the body as sent, also when it came from a file (deleted once az returns)
        body = argv[argv.index("--body") + 1]
        entry["body"] = Path(body[1:]).read_text(encoding="utf-8") if body.startswith("@") else body
    with open(os.environ["FAKE_AZ_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    fake = FakeAz(state)
    try:
        result = fake.run(argv)
    except AzError as error:
        fake.save()
        print(f"ERROR: {error}", file=sys.stderr)
        return error.code
    fake.save()
    _words, options = _options(argv)
    if "--query" in options:
        result = jmespath.search(options["--query"], result)
    output = options.get("--output", "json")
    if output == "none" or (result is None and output == "json"):
        return 0
    print(_tsv(result) if output == "tsv" else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
