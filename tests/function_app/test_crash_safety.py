"""Nothing is lost when the registry fails halfway: no orphaned ACS identity, 503 rather than 500."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from local_azure.azurite import AzuriteProcess, free_port
from tests.function_app.clocked import OLD, ClockedRuntime, clocked_runtime
from tests.function_app.harness import Caller, new_user, user_key
from tests.function_app.storage_cut import StorageCut
from token_service.errors import RegistryUnavailable
from token_service.identities.users import CREATION_LEASE
from token_service.registry import IdentityState
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


def _through(cut: StorageCut, environment: dict[str, str], azurite: AzuriteProcess) -> dict[str, str]:
    connection = cut.table_connection_string(azurite.connection_string, azurite.table_port)
    return {**environment, "AzureWebJobsStorage": connection}


async def test_a_create_whose_activity_row_fails_leaves_no_active_row(
    caller: Caller, app_environment: dict[str, str], azurite: AzuriteProcess
) -> None:
    """The identity row is written, then its activity-index row fails: the create is undone in ACS, and
    the row that says "active" must go too, or the owner listing shows a second live identity."""
    cut = StorageCut(azurite.table_port, b"identity_etag", times=10)
    try:
        await reset_services(build_services(Settings.from_env(_through(cut, app_environment, azurite))))
        user = new_user()
        token = caller.user_token(user)
        before = _live_ids(caller)
        reply = await caller.call("issue_user_token", "POST", "token", token=token)
        assert (reply.status, reply.json["code"]) == (503, "registry_unavailable"), reply.body
        cut.restore()
        assert _live_ids(caller) == before, "the create was undone in ACS"
        again = await caller.call("issue_user_token", "POST", "token", token=token)
        assert again.status == 201, again.body
        registry = get_services().registry
        rows = [await registry.get_identity(acs_id) for acs_id in await registry.owned_identity_ids(user_key(user))]
        active = [row.acs_id for row in rows if row is not None and row.state == IdentityState.ACTIVE]
        assert active == [again.json["communicationUserId"]], rows
    finally:
        cut.close()


async def test_a_ghost_row_left_when_storage_went_away_is_found_by_the_cleanup(
    caller: Caller, app_environment: dict[str, str], azurite: AzuriteProcess
) -> None:
    """Storage goes away right after the identity row: the create is undone in ACS but nothing more can
    be written, so the row stays active. The cleanup must still find it (it has no live ACS identity)
    and tombstone it once it is stale."""
    cut = StorageCut(azurite.table_port, b"identity_etag", times=1, sever=True)
    try:
        runtime, clock = await clocked_runtime(_through(cut, app_environment, azurite), "ghost")
        world = ClockedRuntime(runtime, clock, caller)
        user = new_user()
        before = _live_ids(caller)
        with pytest.raises(RegistryUnavailable):
            await world.user_identity(user, OLD)
        assert cut.severed and _live_ids(caller) == before
        cut.restore()
        ghosts = await runtime.registry.owned_identity_ids(user)
        assert len(ghosts) == 1
        ghost = await runtime.registry.get_identity(ghosts[0])
        assert ghost is not None and ghost.state == IdentityState.ACTIVE  # the write that would end it failed
        summary = await runtime.cleanup().run()
        record = await runtime.registry.get_identity(ghosts[0])
        assert record is not None and record.state == IdentityState.DELETED, summary
        assert summary.already_gone == 1
    finally:
        cut.close()
