"""Fixtures for the in-process harness (harness.py): the registered functions called with real
azure.functions.HttpRequest objects, talking to the real local_azure (HTTPS, managed identity) and Azurite."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from devtools.app_settings import app_settings
from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests.function_app.harness import ADMIN_ROLE, TEAMS_APP_ID, Caller


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


@pytest.fixture
def caller(functions: dict[str, Callable[..., Any]], local_azure: LocalAzureProcess) -> Caller:
    return Caller(functions, local_azure)
