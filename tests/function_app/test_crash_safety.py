"""Nothing is lost when the registry fails halfway: no orphaned ACS identity, 503 rather than 500."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from local_azure.azurite import AzuriteProcess, free_port
from tests.function_app.harness import Caller, new_user, user_key
from token_service.identities.users import CREATION_LEASE
from token_service.services import build_services, get_services, reset_services
from token_service.settings import Settings


def _live_ids(caller: Caller) -> set[str]:
    return {identity["id"] for identity in caller.local_azure.identities(live_only=True)}


@pytest.fixture
async def unreachable_registry(app_environment: dict[str, str]) -> None:
    """A runtime whose registry is a closed port on loopback: every storage call is refused."""
    port = free_port()
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    await reset_services(build_services(Settings.from_env({**app_environment, "AzureWebJobsStorage": connection})))


async def test_admin_create_with_registry_down_leaves_no_orphan(caller: Caller, unreachable_registry: None) -> None:
    before = _live_ids(caller)
    reply = await caller.call("create_identity", "POST", "identities", token=caller.admin_token())
    assert reply.status == 503, reply.body
    assert reply.json["code"] == "registry_unavailable"
    assert "Retry-After" in reply.headers
    assert _live_ids(caller) == before  # ACS created it, then we deleted it again


async def test_user_token_with_registry_down_is_503_and_creates_nothing(
    caller: Caller, unreachable_registry: None
) -> None:
    before = _live_ids(caller)
    reply = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(new_user()))
    assert (reply.status, reply.json["code"]) == (503, "registry_unavailable")
    assert _live_ids(caller) == before


async def test_registry_dies_between_acs_create_and_registry_write(
    caller: Caller, app_environment: dict[str, str], tmp_path: Path, acs_faults: object
) -> None:
    """Azurite is stopped while ACS is creating the identity; afterwards it comes back and the user
    gets exactly one identity, with nothing left behind in ACS."""
    azurite = AzuriteProcess.start(tmp_path / "azurite")
    ports = (azurite.blob_port, azurite.queue_port, azurite.table_port)
    now = [datetime.now(UTC)]
    settings = Settings.from_env({**app_environment, "AzureWebJobsStorage": azurite.connection_string})
    await reset_services(build_services(settings, clock=lambda: now[0]))
    user = new_user()
    token = caller.user_token(user)
    try:
        await get_services().registry.ensure_table()
        before = _live_ids(caller)
        caller.local_azure.set_faults(latency_ms=1500)
        request = asyncio.create_task(caller.call("issue_user_token", "POST", "token", token=token))
        await asyncio.sleep(0.7)  # the claim is written; ACS is still "creating"
        await asyncio.to_thread(azurite.stop)
        reply = await request
        assert (reply.status, reply.json["code"]) == (503, "registry_unavailable"), reply.body
        assert _live_ids(caller) == before, "the identity ACS created must have been deleted again"

        caller.local_azure.reset_faults()
        azurite = await asyncio.to_thread(AzuriteProcess.start, tmp_path / "azurite", ports=ports)
        now[0] += CREATION_LEASE + timedelta(seconds=1)  # the dead request's lease runs out
        again = await caller.call("issue_user_token", "POST", "token", token=token)
        assert again.status == 201, again.body
        created = _live_ids(caller) - before
        assert created == {again.json["communicationUserId"]}
        mapping = await get_services().registry.read_mapping(user_key(user))
        assert mapping is not None and mapping.acs_id == again.json["communicationUserId"]
    finally:
        await reset_services()
        azurite.stop()


async def test_caller_waits_for_a_live_claim_then_takes_over_an_expired_one(
    caller: Caller, app_environment: dict[str, str]
) -> None:
    now = [datetime.now(UTC)]
    await reset_services(build_services(Settings.from_env(app_environment), clock=lambda: now[0]))
    registry = get_services().registry
    user = new_user()
    await registry.claim_mapping(user, now[0] + CREATION_LEASE, None)  # a creator that then died
    now[0] += CREATION_LEASE + timedelta(seconds=1)
    reply = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(user))
    assert reply.status == 201, reply.body
