"""Shared by the fuzzing and fault-matrix evidence: a private stack, the devhost, and the agreement check.

The devhost runs the real function_app in its own process (as the Functions host would), against
local_azure (ACS, managed identity, dev issuer) and Azurite; these helpers start it with the
environment `make run` would pass, and compare what ACS holds with what the registry says.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.data.tables import TableClient

from devhost.process import HostProcess
from local_azure.azurite import AzuriteProcess, free_port
from local_azure.entra.issuer import DEFAULT_TENANT_ID
from local_azure.process import LocalAzureProcess
from tests.devhost.real_app import PROJECT_ROOT, real_app_environment
from token_service.registry import is_identity_row, is_mapping_row, owner_id

ADMIN_ROLE = "TokenService.Admin"


@dataclass
class Devhost:
    """The devhost serving function_app.app on a free loopback port."""

    host: HostProcess
    base_url: str
    function_key: str
    master_key: str
    table: str
    log_file: Path

    def stop(self) -> None:
        self.host.stop()


def start_devhost(
    tmp: Path,
    artifacts: Path,
    local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
    name: str,
    *,
    table: str | None = None,
    extra_env: dict[str, str] | None = None,
    ready_path: str = "/api/health",
) -> Devhost:
    """Start the devhost with the real app; `ready_path` is what must answer below 500 before tests run.

    (`/api/health` answers 503 while a dependency is down, so a host started during a fault waits
    for the host's own ping instead.)
    """
    tmp.mkdir(parents=True, exist_ok=True)
    settings_file = tmp / "local.settings.json"
    shutil.copyfile(PROJECT_ROOT / "local.settings.sample.json", settings_file)
    keys = json.loads(settings_file.read_text())["DevHost"]
    table = table or "evidence" + uuid.uuid4().hex[:12]
    env = real_app_environment(local_azure, azurite, {"REGISTRY_TABLE": table, **(extra_env or {})})
    port = free_port()
    log_file = artifacts / f"devhost-{name}.log"
    log_file.unlink(missing_ok=True)
    host = HostProcess.start_devhost(PROJECT_ROOT, port, settings=settings_file, env=env, log_file=log_file)
    try:
        host.wait_until_healthy(ready_path, timeout=60)
    except BaseException:
        host.stop()
        raise
    return Devhost(
        host, f"http://127.0.0.1:{port}", keys["FunctionKeys"]["default"], keys["MasterKey"], table, log_file
    )


def start_local_azure(data_dir: Path, log_file: Path, ports: tuple[int, int, int] | None = None) -> LocalAzureProcess:
    """A private local_azure; with `ports` (ACS, local, issuer) it can be stopped and started again at the
    same address (the issuer's port is part of AUTH_ISSUER)."""
    args: Sequence[str] = ()
    if ports is not None:
        args = ("--acs-port", str(ports[0]), "--local-port", str(ports[1]), "--issuer-port", str(ports[2]))
    return LocalAzureProcess.start(data_dir, extra_args=args, log_file=log_file)


def mint(local_azure: LocalAzureProcess, user: str, *, admin: bool = False) -> str:
    return local_azure.mint_user_token(user, oid=user, roles=[ADMIN_ROLE] if admin else [])


# -- registry vs ACS ---------------------------------------------------------------------------


@dataclass
class Agreement:
    """What ACS holds against what the registry says, after a run."""

    live_in_acs: set[str]
    active_rows: set[str]
    deleting_rows: set[str]
    mappings: dict[str, str]  # user key -> ACS id, active mappings only
    creating_mappings: set[str]  # user keys whose mapping is still claimed for a create
    owners: dict[str, str]  # ACS id -> owner, active rows

    @property
    def orphans(self) -> set[str]:
        """Live in ACS, but no active registry row: nothing would ever find or delete them."""
        return self.live_in_acs - self.active_rows

    @property
    def ghosts(self) -> set[str]:
        """An active registry row for an identity ACS no longer has."""
        return self.active_rows - self.live_in_acs

    @property
    def broken_mappings(self) -> dict[str, str]:
        """Active user mappings that point at no active, live identity of that user."""
        return {
            user: acs_id
            for user, acs_id in self.mappings.items()
            if acs_id not in self.live_in_acs or acs_id not in self.active_rows or self.owners.get(acs_id) != user
        }

    def problems(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.orphans:
            found["orphans"] = sorted(self.orphans)
        if self.ghosts:
            found["ghosts"] = sorted(self.ghosts)
        if self.deleting_rows:
            found["deleting"] = sorted(self.deleting_rows)
        if self.broken_mappings:
            found["broken_mappings"] = self.broken_mappings
        return found


def registry_entities(connection_string: str, table: str) -> list[dict[str, Any]]:
    with TableClient.from_connection_string(connection_string, table) as client:
        return [dict(entity) for entity in client.list_entities()]


def _owner_of(mapping_row: dict[str, Any]) -> str:
    """A mapping row stores no user key: its key is the owner id's digest (records.user_partition)."""
    return owner_id("sha256:" + str(mapping_row["PartitionKey"]).removeprefix("user_"))


def agreement(local_azure: LocalAzureProcess, connection_string: str, table: str) -> Agreement:
    live = {str(identity["id"]) for identity in local_azure.identities(live_only=True)}
    rows = registry_entities(connection_string, table)
    identities = [row for row in rows if is_identity_row(row)]
    mappings = [row for row in rows if is_mapping_row(row)]
    return Agreement(
        live_in_acs=live,
        active_rows={row["PartitionKey"] for row in identities if row.get("state") == "active"},
        deleting_rows={row["PartitionKey"] for row in identities if row.get("state") == "deleting"},
        mappings={_owner_of(row): str(row["acs_id"]) for row in mappings if row.get("state") == "active"},
        creating_mappings={_owner_of(row) for row in mappings if row.get("state") == "creating"},
        owners={row["PartitionKey"]: str(row.get("owner") or "") for row in identities if row.get("state") == "active"},
    )


@dataclass
class UserLedger:
    """What each user was last told: the identity of their last token, or None after deleting themselves.

    "No lost mapping" means: a user whose last answer was a token still maps to exactly that identity.
    """

    last: dict[str, str | None] = field(default_factory=dict)

    def token(self, user: str, acs_id: str) -> None:
        self.last[user] = acs_id

    def deleted_self(self, user: str) -> None:
        self.last[user] = None

    def identity_deleted(self, acs_id: str) -> None:
        for user, current in self.last.items():
            if current == acs_id:
                self.last[user] = None

    def lost(self, found: Agreement) -> dict[str, dict[str, str | None]]:
        lost: dict[str, dict[str, str | None]] = {}
        for user, expected in self.last.items():
            actual = found.mappings.get(owner_id(f"oid:{DEFAULT_TENANT_ID}:{user}"))  # the app's key for oid=user
            if expected is None:
                continue  # deleted: a later mapping would come from a later token, which would be recorded
            if actual != expected or expected not in found.live_in_acs:
                lost[user] = {"expected": expected, "mapping": actual}
        return lost
