"""POST /api/token: get-or-create, one identity per user under concurrency, repair, limits, validation."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.function_app.harness import TEAMS_APP_ID, Caller, new_user, user_key
from token_service.services import build_services, get_services, reset_services
from token_service.settings import Settings


async def test_first_call_creates_then_finds(caller: Caller) -> None:
    user = new_user()
    token = caller.user_token(user)
    first = await caller.call("issue_user_token", "POST", "token", token=token, body={"scopes": ["voip"]})
    assert first.status == 201, first.body
    assert first.headers["Cache-Control"] == "no-store"
    second = await caller.call("issue_user_token", "POST", "token", token=token)
    assert second.status == 200
    assert second.json["communicationUserId"] == first.json["communicationUserId"]
    claims = jwt.decode(second.json["token"], options={"verify_signature": False})
    assert set(claims["acsScope"].split(",")) == {"chat", "voip"}  # default: every allowed scope


async def test_fifty_concurrent_first_calls_make_one_identity(caller: Caller) -> None:
    user = new_user()
    token = caller.user_token(user)
    before = {identity["id"] for identity in caller.local_azure.identities()}
    replies = await asyncio.gather(
        *(caller.call("issue_user_token", "POST", "token", token=token, body={"scopes": ["chat"]}) for _ in range(50))
    )
    statuses = sorted(reply.status for reply in replies)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(200) == 49, statuses
    ids = {reply.json["communicationUserId"] for reply in replies}
    assert len(ids) == 1
    created = {identity["id"] for identity in caller.local_azure.identities()} - before
    assert created == ids
    mapping = await get_services().registry.read_mapping(user_key(user))
    assert mapping is not None and mapping.acs_id == ids.pop()


async def test_identity_deleted_in_acs_behind_our_back_is_repaired(caller: Caller) -> None:
    user = new_user()
    token = caller.user_token(user)
    first = await caller.call("issue_user_token", "POST", "token", token=token)
    old_id = first.json["communicationUserId"]
    from azure.communication.identity import CommunicationIdentityClient, CommunicationUserIdentifier

    connection_string = caller.local_azure.settings.acs_connection_string
    CommunicationIdentityClient.from_connection_string(connection_string).delete_user(
        CommunicationUserIdentifier(old_id)
    )

    repaired = await caller.call("issue_user_token", "POST", "token", token=token)
    assert repaired.status == 201, repaired.body
    assert repaired.json["communicationUserId"] != old_id
    admin = caller.admin_token()
    tombstone = await caller.call("get_identity", "GET", "identities/{id}", token=admin, route_params={"id": old_id})
    assert tombstone.json["state"] == "deleted"
    assert tombstone.json["deletedReason"] == "missing-in-acs"
    again = await caller.call("issue_user_token", "POST", "token", token=token)
    assert again.status == 200
    assert again.json["communicationUserId"] == repaired.json["communicationUserId"]


async def test_expired_acs_token_never_creates_a_new_identity(caller: Caller) -> None:
    user = new_user()
    token = caller.user_token(user)
    first = await caller.call("issue_user_token", "POST", "token", token=token, body={"expiresInMinutes": 60})
    await reset_services()  # a new worker: nothing cached, the registry decides
    later = await caller.call("issue_user_token", "POST", "token", token=token, body={"expiresInMinutes": 60})
    assert later.status == 200
    assert later.json["communicationUserId"] == first.json["communicationUserId"]


async def test_delete_me_then_next_call_creates_a_new_identity(caller: Caller) -> None:
    token = caller.user_token(new_user())
    first = await caller.call("issue_user_token", "POST", "token", token=token)
    old_token = first.json["token"]
    deleted = await caller.call("delete_me", "DELETE", "me", token=token)
    assert deleted.status == 204
    assert caller.local_azure.check_token(old_token)["valid"] is False
    missing = await caller.call("delete_me", "DELETE", "me", token=token)
    assert missing.status == 404
    again = await caller.call("issue_user_token", "POST", "token", token=token)
    assert again.status == 201
    assert again.json["communicationUserId"] != first.json["communicationUserId"]


async def test_rate_limit_per_user(caller: Caller, app_environment: dict[str, str]) -> None:
    settings = Settings.from_env({**app_environment, "TOKEN_RATE_PER_MINUTE": "3"})
    await reset_services(build_services(settings))
    token, other = caller.user_token(new_user()), caller.user_token(new_user())
    statuses = [(await caller.call("issue_user_token", "POST", "token", token=token)).status for _ in range(3)]
    assert statuses == [201, 200, 200]
    limited = await caller.call("issue_user_token", "POST", "token", token=token)
    assert limited.status == 429
    assert limited.json["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert (await caller.call("issue_user_token", "POST", "token", token=other)).status == 201


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"scopes": ["voip.join"]}, "invalid_scope"),  # a real ACS scope, but not in ALLOWED_SCOPES
        ({"scopes": ["admin"]}, "invalid_scope"),
        ({"scopes": []}, "invalid_request"),
        ({"scopes": "voip"}, "invalid_request"),
        ({"scopes": [1]}, "invalid_request"),
        ({"expiresInMinutes": 59}, "invalid_expiry"),
        ({"expiresInMinutes": 1441}, "invalid_expiry"),
        ({"expiresInMinutes": "60"}, "invalid_request"),
        ({"expiresInMinutes": True}, "invalid_request"),
        ({"expiresInMinutes": 60.5}, "invalid_request"),
        ({"expiresInMinutes": None}, "invalid_request"),
        ({"scopes": None}, "invalid_request"),
        ({"expiresInMinute": 60}, "unknown_field"),
        ([1, 2], "invalid_request"),
    ],
)
async def test_bad_input_is_a_problem_not_a_500(caller: Caller, body: object, code: str) -> None:
    reply = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(new_user()), body=body)
    assert reply.status == 400, reply.body
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json["code"] == code
    assert reply.json["type"].endswith(code)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"expiresInMinutes": 60.000000000000001}', "invalid_request"),  # not an integer (the float is 60.0)
        (b'{"expiresInMinutes": 60.5e0}', "invalid_request"),
        (b'{"expiresInMinutes": NaN}', "invalid_request"),  # not JSON (RFC 8259), though Python's json takes it
        (b'{"expiresInMinutes": Infinity}', "invalid_request"),
        (b'{"expiresInMinutes": 1e400}', "invalid_expiry"),  # an integer, far out of range
        (b'{"expiresInMinutes": 1e999999999}', "invalid_expiry"),
        (b'{"expiresInMinutes": -0.0}', "invalid_expiry"),
    ],
)
async def test_json_numbers_are_judged_by_their_text(caller: Caller, raw: bytes, code: str) -> None:
    """JSON Schema's "integer" is about the number written, not Python's float of it."""
    reply = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(new_user()), raw_body=raw)
    assert (reply.status, reply.json["code"]) == (400, code), reply.body


@pytest.mark.parametrize("raw", [b'{"expiresInMinutes": 6e1}', b'{"expiresInMinutes": 120.0}'])
async def test_integral_json_numbers_are_integers(caller: Caller, raw: bytes) -> None:
    reply = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(new_user()), raw_body=raw)
    assert reply.status == 201, reply.body


async def test_malformed_json_too_large_and_wrong_type(caller: Caller) -> None:
    token = caller.user_token(new_user())
    bad = await caller.call("issue_user_token", "POST", "token", token=token, raw_body=b"{not json")
    assert (bad.status, bad.json["code"]) == (400, "invalid_request")
    huge = await caller.call("issue_user_token", "POST", "token", token=token, raw_body=b" " * 20_000 + b"{}")
    assert (huge.status, huge.json["code"]) == (413, "payload_too_large")
    form = await caller.call(
        "issue_user_token", "POST", "token", token=token, raw_body=b"a=b", headers={"content-type": "text/plain"}
    )
    assert (form.status, form.json["code"]) == (415, "unsupported_media_type")


@pytest.mark.parametrize("depth", [33, 1000, 100_000 // 2 // 10])
async def test_deep_nesting_is_a_400_on_every_body_route(caller: Caller, depth: int) -> None:
    """Past the depth limit a body is a 400, also where it would reach the parser's recursion limit (a 500)."""
    raw = b'{"scopes":' + b"[" * depth + b"]" * depth + b"}"
    replies = [
        await caller.call("issue_user_token", "POST", "token", token=caller.user_token(new_user()), raw_body=raw),
        await caller.call("create_identity", "POST", "identities", token=caller.admin_token(), raw_body=raw),
    ]
    for reply in replies:
        assert (reply.status, reply.json["code"]) == (400, "invalid_request"), reply.body
        assert "nests deeper" in reply.json["detail"]


async def test_admin_route_rejects_malformed_identity_id(caller: Caller) -> None:
    reply = await caller.call(
        "get_identity", "GET", "identities/{id}", token=caller.admin_token(), route_params={"id": "not-an-id"}
    )
    assert (reply.status, reply.json["code"]) == (400, "invalid_identity_id")


@pytest.mark.parametrize("prefix", ["8:acs:", "8:gcch-acs:", "8:dod-acs:", "8:spool:"])
async def test_every_acs_id_form_is_accepted(caller: Caller, prefix: str) -> None:
    """Government-cloud and spool ids are ids: an unknown one is a 404, not a malformed 400."""
    acs_id = f"{prefix}{uuid.uuid4()}_{uuid.uuid4()}"
    reply = await caller.call(
        "get_identity", "GET", "identities/{id}", token=caller.admin_token(), route_params={"id": acs_id}
    )
    assert (reply.status, reply.json["code"]) == (404, "identity_not_found")


async def test_expiry_matches_request(caller: Caller) -> None:
    reply = await caller.call(
        "issue_user_token", "POST", "token", token=caller.user_token(new_user()), body={"expiresInMinutes": 90}
    )
    expires = datetime.fromisoformat(reply.json["expiresOn"])
    assert abs(expires - (datetime.now(UTC) + timedelta(minutes=90))) < timedelta(seconds=30)


async def test_creator_and_a_waiter_racing_for_the_identity_row_keep_one_identity(
    caller: Caller, app_environment: dict[str, str]
) -> None:
    """A waiter reads the completed mapping the moment it is written. The identity row exists before
    the mapping points at it, so the waiter issues for the same identity and nothing is undone."""
    from token_service.http.inputs import checked_token_request
    from token_service.registry import Registry, UserMapping

    runtime = build_services(Settings.from_env(app_environment))
    await reset_services(runtime)
    user = new_user()
    request = checked_token_request(None, None, runtime.settings)
    waiter_result = []

    class RacingRegistry(Registry):
        async def complete_mapping(self, claim: UserMapping, acs_id: str, now: Any = None) -> UserMapping:
            mapping = await super().complete_mapping(claim, acs_id, now)
            assert await self.get_identity(acs_id) is not None, "identity row written before the mapping"
            waiter_result.append(await runtime.users.token_for_user(user, request))
            return mapping

    racing = RacingRegistry(runtime.registry._table)
    runtime.users._registry = racing
    before = {identity["id"] for identity in caller.local_azure.identities(live_only=True)}
    result = await runtime.users.token_for_user(user, request)
    assert result.created is True
    assert waiter_result[0].communication_user_id == result.communication_user_id
    created = {identity["id"] for identity in caller.local_azure.identities(live_only=True)} - before
    assert created == {result.communication_user_id}
    record = await runtime.registry.get_identity(result.communication_user_id)
    assert record is not None and record.state == "active"


async def test_teams_exchange_and_delete_have_their_own_per_user_limits(
    caller: Caller, app_environment: dict[str, str]
) -> None:
    limits = {"TEAMS_TOKEN_RATE_PER_MINUTE": "2", "DELETE_RATE_PER_MINUTE": "1", "TEAMS_APP_ID": TEAMS_APP_ID}
    await reset_services(build_services(Settings.from_env({**app_environment, **limits})))
    user = new_user()
    token = caller.user_token(user)
    audience = caller.local_azure.settings.teams_audience
    entra = caller.local_azure.mint_user_token(user, oid=user, aud=audience, appid=TEAMS_APP_ID)
    headers = {"X-Teams-Token": entra}
    exchanges = [
        await caller.call("exchange_teams_token", "POST", "token/teams", token=token, headers=headers) for _ in range(3)
    ]
    assert [reply.status for reply in exchanges] == [200, 200, 429]
    assert exchanges[2].json["code"] == "rate_limited" and int(exchanges[2].headers["Retry-After"]) >= 1
    assert (await caller.call("issue_user_token", "POST", "token", token=token)).status == 201
    assert (await caller.call("delete_me", "DELETE", "me", token=token)).status == 204
    assert (await caller.call("issue_user_token", "POST", "token", token=token)).status == 201
    limited = await caller.call("delete_me", "DELETE", "me", token=token)
    assert (limited.status, limited.json["code"]) == (429, "rate_limited"), "deleting oneself never resets a limit"
    mapping = await get_services().registry.read_mapping(user_key(user))
    assert mapping is not None and mapping.state == "active", "a refused delete changes nothing"


async def test_the_per_user_limit_holds_while_a_deletion_is_unfinished(
    caller: Caller, app_environment: dict[str, str], acs_faults: Any
) -> None:
    """A DELETE /api/me that ACS throttled leaves the mapping `deleting`; each token request then
    finishes the deletion itself, which costs ACS calls, so the per-user limit must count it first."""
    await reset_services(build_services(Settings.from_env({**app_environment, "TOKEN_RATE_PER_MINUTE": "2"})))
    user = new_user()
    token = caller.user_token(user)
    assert (await caller.call("issue_user_token", "POST", "token", token=token)).status == 201
    acs_faults.set_faults(rate_limits={"revoke": {"limit": 0, "window_seconds": 60}})
    deleted = await caller.call("delete_me", "DELETE", "me", token=token)
    assert deleted.status == 429, deleted.body
    mapping = await get_services().registry.read_mapping(user_key(user))
    assert mapping is not None and mapping.state == "deleting"
    caller.local_azure.reset_stats()
    replies = [await caller.call("issue_user_token", "POST", "token", token=token) for _ in range(10)]
    reached_acs = caller.local_azure.stats()["total"]
    codes = [reply.json["code"] for reply in replies]
    # The window already counts the first token request (201): one more reaches ACS, the rest are refused.
    assert codes.count("rate_limited") == 9, codes
    assert reached_acs == 1, caller.local_azure.stats()["operations"]


async def test_a_request_that_finishes_a_deletion_is_counted_once(
    caller: Caller, app_environment: dict[str, str], acs_faults: Any
) -> None:
    await reset_services(build_services(Settings.from_env({**app_environment, "TOKEN_RATE_PER_MINUTE": "2"})))
    token = caller.user_token(new_user())
    first = await caller.call("issue_user_token", "POST", "token", token=token)
    acs_faults.set_faults(rate_limits={"revoke": {"limit": 0, "window_seconds": 60}})
    assert (await caller.call("delete_me", "DELETE", "me", token=token)).status == 429
    acs_faults.reset_faults()
    second = await caller.call("issue_user_token", "POST", "token", token=token)
    assert second.status == 201, second.body  # the second of two: the deletion finished, a new identity
    assert second.json["communicationUserId"] != first.json["communicationUserId"]
    third = await caller.call("issue_user_token", "POST", "token", token=token)
    assert (third.status, third.json["code"]) == (429, "rate_limited")
