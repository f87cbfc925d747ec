"""What the registry keeps about a user: never the user key itself, and after an erasure nothing that
names them; erasure is exclusive with the user's token calls. Read from the real table (Azurite)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from tests.function_app.clocked import NOW, ClockedRuntime, clocked_runtime
from tests.function_app.harness import Caller, new_user, user_key
from token_service.errors import RegistryUnavailable
from token_service.identities.users import ERASURE_SETTLE
from token_service.registry import owner_id
from token_service.services import get_services


async def table_rows() -> list[dict[str, Any]]:
    """Every row of the registry table, as Table Storage returns them."""
    client = get_services().registry._table._table
    return [dict(entity) async for entity in client.list_entities()]


def rows_naming(rows: list[dict[str, Any]], needle: str) -> list[dict[str, Any]]:
    return [row for row in rows if any(needle in str(value) for value in row.values())]


async def test_no_row_holds_a_users_key(caller: Caller) -> None:
    """The user key is hashed everywhere the registry names a user: identity rows, activity rows,
    mappings and tombstones (README: "user keys are hashed in the registry")."""
    user = new_user()
    token = caller.user_token(user)
    first = await caller.call("issue_user_token", "POST", "token", token=token)
    assert first.status == 201, first.body
    assert (await caller.call("delete_me", "DELETE", "me", token=token)).status == 204
    assert (await caller.call("issue_user_token", "POST", "token", token=token)).status == 201
    rows = await table_rows()
    assert rows_naming(rows, user) == [], "a row holds the raw user key"
    hashed = "sha256:" + hashlib.sha256(user_key(user).encode()).hexdigest()
    assert len(rows_naming(rows, hashed)) >= 3, "identity rows and tombstone name the owner by its hash"


@pytest.fixture
async def world(caller: Caller, app_environment: dict[str, str]) -> AsyncIterator[ClockedRuntime]:
    yield ClockedRuntime(*await clocked_runtime(app_environment, "privacy"), caller)


async def erase(world: ClockedRuntime, key: str, admin: str = "operator-1") -> Any:
    token = world.caller.admin_token(admin)
    return await world.caller.call("erase_user_identities", "POST", "users/erase", token=token, body={"userKey": key})


async def test_erasure_leaves_no_live_identity_and_no_row_naming_the_user(world: ClockedRuntime) -> None:
    oid = new_user()
    key = user_key(oid)
    registry = world.runtime.registry
    first = await world.user_identity(key, NOW - timedelta(days=3))
    mapping = await registry.read_mapping(key)
    assert mapping is not None
    await registry.release_mapping(mapping)  # a leftover: an earlier identity still live, its mapping moved on
    deleted = await world.user_identity(key, NOW - timedelta(days=2))
    await world.runtime.users.delete_for_user(key)  # a tombstone that names the user
    current = await world.user_identity(key, NOW)
    await registry._table.delete(current, current)  # the mapping names it, its row is missing
    bystander = await world.user_identity(user_key(new_user()), NOW)

    reply = await erase(world, key)
    assert reply.status == 204, reply.body
    live = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    assert {first, deleted, current} & live == set(), "an identity of the erased user is still live"
    assert bystander in live
    rows = await table_rows()
    hashed = owner_id(key)
    assert rows_naming(rows, oid) == [] and rows_naming(rows, hashed) == [], "a row still names the user"
    digest = hashed.removeprefix("sha256:")
    assert {row["PartitionKey"].split("_")[0] for row in rows_naming(rows, digest)} == {"user", "erased"}
    marker = await registry.read_mapping(key)
    assert marker is not None and marker.state == "erased" and marker.acs_id is None and not marker.windows
    admin = world.caller.admin_token()
    for acs_id in (first, deleted, current):
        got = await world.caller.call(
            "get_identity", "GET", "identities/{id}", token=admin, route_params={"id": acs_id}
        )
        assert got.json["state"] == "deleted" and got.json["owner"] is None, got.json
    for acs_id in (first, current):
        got = await world.caller.call(
            "get_identity", "GET", "identities/{id}", token=admin, route_params={"id": acs_id}
        )
        assert got.json["deletedReason"] == "erased-by-admin"
        who = got.json["deletedBy"]
        assert who and "operator-1" not in who and len(who) == 16  # the admin, hashed
    listed = await world.caller.call("list_identities", "GET", "identities", token=admin, params={"owner": key})
    assert listed.json["items"] == []

    assert (await erase(world, key)).status == 204  # idempotent
    assert (await erase(world, user_key(new_user()))).status == 204  # nobody
    token = world.caller.user_token(oid)
    refused = await world.caller.call("issue_user_token", "POST", "token", token=token)
    assert (refused.status, refused.json["code"]) == (503, "registry_unavailable"), "begun as the erasure ended"
    world.clock[0] = NOW + ERASURE_SETTLE + timedelta(seconds=1)
    again = await world.caller.call("issue_user_token", "POST", "token", token=token)
    assert again.status == 201, again.body  # a later sign-in starts afresh


async def test_erasure_takes_over_an_expired_creating_claim(world: ClockedRuntime) -> None:
    key = user_key(new_user())
    registry = world.runtime.registry
    await registry.claim_mapping(key, NOW - timedelta(seconds=1), None)  # a creator that died
    assert (await erase(world, key)).status == 204
    marker = await registry.read_mapping(key)
    assert marker is not None and marker.state == "erased"


async def test_a_token_call_never_creates_while_an_erasure_holds_the_user(world: ClockedRuntime) -> None:
    key = user_key(new_user())
    registry = world.runtime.registry
    held = await registry.mark_mapping_erasing(key, None)
    assert held.state == "erasing"
    before = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    with pytest.raises(RegistryUnavailable):
        await world.user_identity(key, NOW)
    assert {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)} == before


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"userKey": "alice"}, "invalid_user_key"),
        ({"userKey": "oid:only-one-part"}, "invalid_user_key"),
        ({"userKey": "sub:https://evil.example/:alice"}, "invalid_user_key"),
        ({"userKey": "oid:a b:c"}, "invalid_user_key"),
        ({"userKey": ""}, "invalid_user_key"),
        ({"userKey": 7}, "invalid_request"),
        ({}, "invalid_request"),
        ({"userKey": "oid:t:o", "also": 1}, "unknown_field"),
    ],
)
async def test_erase_refuses_bad_bodies(world: ClockedRuntime, body: Any, code: str) -> None:
    token = world.caller.admin_token()
    reply = await world.caller.call("erase_user_identities", "POST", "users/erase", token=token, body=body)
    assert (reply.status, reply.json["code"]) == (400, code), reply.body
