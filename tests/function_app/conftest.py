"""In-process harness: the registered functions called with real azure.functions.HttpRequest objects,
talking to the real local_azure (HTTPS, managed identity) and Azurite."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import azure.functions as func
import pytest

from devtools.app_settings import app_settings
from local_azure.azurite import AzuriteProcess
from local_azure.entra.issuer import DEFAULT_TENANT_ID
from local_azure.process import LocalAzureProcess

ADMIN_ROLE = "TokenService.Admin"
TEAMS_APP_ID = "2f1c5a4e-0000-4000-8000-00000000a11e"


@pytest.fixture(scope="session")
def app_environment(local_azure: LocalAzureProcess, azurite: AzuriteProcess) -> Iterator[dict[str, str]]:
    values = app_settings(
        local_azure.settings,
        azurite.connection_string,
        {
            "REGISTRY_TABLE": "registry" + uuid.uuid4().hex[:8],
            "AUTH_ADMIN_ROLE": ADMIN_ROLE,
            "TEAMS_APP_ID": TEAMS_APP_ID,
            "ALLOWED_SCOPES": "chat,voip",
            "DEFAULT_TOKEN_MINUTES": "1440",
            "TOKEN_RATE_PER_MINUTE": "100000",
            "STALE_IDENTITY_DAYS": "30",
            "CLEANUP_SCHEDULE": "0 0 3 * * *",
            "CLEANUP_REPAIR_SCHEDULE": "0 30 * * * *",
        },
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield values


@pytest.fixture(scope="session")
def registered(app_environment: dict[str, str]) -> list[Any]:
    """function_app.app.get_functions(), called once (a second call re-indexes and fails)."""
    import function_app

    return list(function_app.app.get_functions())


@pytest.fixture(scope="session")
def functions(registered: list[Any]) -> dict[str, Callable[..., Any]]:
    return {f.get_function_name(): f.get_user_function() for f in registered}


@pytest.fixture(autouse=True)
async def fresh_runtime(app_environment: dict[str, str]) -> AsyncIterator[None]:
    """Each test starts from the settings in the environment (tests may install their own runtime)."""
    from token_service.services import reset_services

    await reset_services()
    yield
    await reset_services()


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
        request = func.HttpRequest(
            method=method,
            url=f"http://localhost:7071/api/{path}",
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


@pytest.fixture
def caller(functions: dict[str, Callable[..., Any]], local_azure: LocalAzureProcess) -> Caller:
    return Caller(functions, local_azure)


def new_user() -> str:
    return "user-" + uuid.uuid4().hex


def user_key(oid: str, tenant_id: str = DEFAULT_TENANT_ID) -> str:
    """The app's user key for a dev-issuer token with this oid (auth_claims: `oid:<tid>:<oid>`)."""
    return f"oid:{tenant_id}:{oid}"
