"""The in-process caller: real azure.functions.HttpRequest objects handed to the registered functions,
as the Functions host would build them, and the test users and roles the app's settings name."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import azure.functions as func

from local_azure.entra.issuer import DEFAULT_TENANT_ID
from local_azure.process import LocalAzureProcess

ADMIN_ROLE = "TokenService.Admin"
TEAMS_APP_ID = "2f1c5a4e-0000-4000-8000-00000000a11e"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Caller:
    """Builds real HttpRequest objects for the functions, as the Functions host would."""

    functions: dict[str, Callable[..., Any]]
    local_azure: LocalAzureProcess

    async def call(
        self,
        name: str,
        method: str,
        route: str,
        *,
        token: str | None = None,
        body: Any = None,
        raw_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        route_params: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        all_headers = {"content-type": "application/json", **(headers or {})}
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else b"")
        path = route
        for key, value in (route_params or {}).items():
            path = path.replace("{" + key + "}", quote(value, safe=""))
        query = f"?{urlencode(params)}" if params else ""  # the host's URL carries the query string too
        request = func.HttpRequest(
            method=method,
            url=f"http://localhost:7071/api/{path}{query}",
            headers=all_headers,
            params=params or {},
            route_params=route_params or {},
            body=data,
        )
        response: func.HttpResponse = await self.functions[name](request)
        return Reply(response.status_code, dict(response.headers), response.get_body())

    def user_token(self, user: str, roles: tuple[str, ...] = (), **claims: Any) -> str:
        return self.local_azure.mint_user_token(user, oid=user, roles=roles, **claims)

    def admin_token(self, user: str = "admin-1") -> str:
        return self.user_token(user, roles=(ADMIN_ROLE,))


def new_user() -> str:
    return "user-" + uuid.uuid4().hex


def user_key(oid: str, tenant_id: str = DEFAULT_TENANT_ID) -> str:
    """The app's user key for a dev-issuer token with this oid (auth/claims.py: `oid:<tid>:<oid>`)."""
    return f"oid:{tenant_id}:{oid}"
