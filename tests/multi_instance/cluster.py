"""Three devhost processes serving the real app, sharing one Azurite and one local_azure.

What Azure does when it scales the app out: many instances, one storage account, one ACS resource.
Each host is its own process with its own in-memory state, so nothing in memory can agree for them.
"""

from __future__ import annotations

import os
import signal
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests.devhost.real_app import RealAppHost, start_real_app
from tests.evidence.harness import registry_entities
from tests.function_app.harness import user_key
from token_service.registry import user_partition

INSTANCES = 3
TOKEN_RATE = 20
DELETE_RATE = 3


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    json: Any
    host: int


@dataclass
class Cluster:
    """N instances of the app and what tests need to drive and inspect them."""

    hosts: list[RealAppHost]
    local_azure: LocalAzureProcess
    azurite: AzuriteProcess
    table: str
    tmp: Path
    artifacts: Path
    env: dict[str, str]
    tenant: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def user(self, name: str | None = None) -> tuple[str, str]:
        """A fresh user: (user id, bearer token)."""
        user = name or f"mi-{uuid.uuid4().hex[:10]}"
        return user, self.local_azure.mint_user_token(user, oid=user)

    async def call(
        self, session: aiohttp.ClientSession, host: int, method: str, path: str, token: str, body: Any = None
    ) -> Reply:
        url = self.hosts[host % len(self.hosts)].base_url + path
        headers = {"authorization": f"Bearer {token}"}
        async with session.request(method, url, json=body, headers=headers) as response:
            text = await response.text()
            data = None
            if text:
                try:
                    data = await response.json(content_type=None)
                except ValueError:
                    data = text
            return Reply(response.status, dict(response.headers), data, host % len(self.hosts))

    def rows(self) -> list[dict[str, Any]]:
        return registry_entities(self.azurite.connection_string, self.table)

    def mapping_of(self, user: str) -> dict[str, Any] | None:
        key = user_partition(user_key(user))  # mapping rows store no user key, only its hash
        for row in self.rows():
            if row["PartitionKey"] == key:
                return row
        return None

    def live_ids(self) -> set[str]:
        return {str(identity["id"]) for identity in self.local_azure.identities(live_only=True)}

    def kill(self, index: int) -> None:
        """kill -9 of one instance (its whole process group), as Azure recycles an instance without warning."""
        process = self.hosts[index].host.process
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(15)

    def restart(self, index: int) -> None:
        old = self.hosts[index]
        old.host.stop()
        folder = self.tmp / f"host{index}-{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        self.hosts[index] = start_real_app(
            folder, self.artifacts, self.local_azure, self.azurite,
            f"multi-{index}", self.env,
        )  # fmt: skip
