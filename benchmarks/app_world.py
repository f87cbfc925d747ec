"""The app as the storage-ops scenarios drive it: its registered functions, a movable clock, test users.

`World` hands a registered function the `azure.functions.HttpRequest` the Functions host would build,
and makes users whose identities exist at a chosen time (benchmarks/storage_ops.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from local_azure.entra.issuer import DEFAULT_TENANT_ID
from local_azure.process import LocalAzureProcess

ADMIN_ROLE = "TokenService.Admin"
NOW = datetime.now(UTC).replace(microsecond=0)
STALE = NOW - timedelta(days=60)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


@dataclass
class World:
    """One scenario's app: a fresh registry table behind the proxy, a movable clock, the functions."""

    functions: Mapping[str, Callable[..., Any]]
    local_azure: LocalAzureProcess
    services: Any  # token_service.services.Services (imported late: after the app settings are set)
    clock: list[datetime]
    notes: dict[str, str] = field(default_factory=dict)

    def user_token(self, oid: str) -> str:
        return self.local_azure.mint_user_token(oid, oid=oid)

    def admin_token(self) -> str:
        return self.local_azure.mint_user_token("storage-ops-admin", oid="storage-ops-admin", roles=(ADMIN_ROLE,))

    async def call(
        self,
        name: str,
        method: str,
        route: str,
        token: str,
        body: Any = None,
        route_params: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        """The registered function `name`, handed the HttpRequest the host would build."""
        import azure.functions as func

        path = route
        for key, value in (route_params or {}).items():
            path = path.replace("{" + key + "}", quote(value, safe=""))
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (params or {}).items())
        request = func.HttpRequest(
            method=method,
            url=f"http://localhost:7071/api/{path}" + (f"?{query}" if query else ""),
            headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
            params=params or {},
            route_params=route_params or {},
            body=json.dumps(body).encode() if body is not None else b"",
        )
        response = await self.functions[name](request)
        payload = response.get_body()
        return Answer(response.status_code, json.loads(payload) if payload else None)

    async def at(self, when: datetime, action: Awaitable[Answer]) -> Answer:
        """Run `action` with the app's clock at `when`, then put the clock back to NOW."""
        self.clock[0] = when
        try:
            return await action
        finally:
            self.clock[0] = NOW

    async def user_with_identity(self, when: datetime = NOW) -> tuple[str, str]:
        """A new user whose first token request (at `when`) created their identity: (oid, ACS id)."""
        oid = "user-" + uuid.uuid4().hex
        answer = await self.at(when, self.call("issue_user_token", "POST", "token", self.user_token(oid)))
        expect(answer, 201)
        return oid, answer.body["communicationUserId"]


def expect(answer: Answer, status: int) -> None:
    if answer.status != status:
        raise AssertionError(f"expected HTTP {status}, got {answer.status}: {answer.body}")


def user_key(oid: str) -> str:
    """The app's user key for a dev-issuer token with this oid (auth/claims.py)."""
    return f"oid:{DEFAULT_TENANT_ID}:{oid}"
