"""The seed quickstart through the admin routes: create, issue (default and 60 min), refresh, revoke, delete."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import jwt

from tests.function_app.harness import Caller

ID_PATTERN = re.compile(r"^8:acs:[0-9a-f-]{36}_[0-9a-f-]+$")


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_quickstart_flow_through_admin_routes(caller: Caller) -> None:
    admin = caller.admin_token()
    created = await caller.call("create_identity", "POST", "identities", token=admin)
    assert created.status == 201, created.body
    acs_id = created.json["communicationUserId"]
    assert ID_PATTERN.match(acs_id)
    assert "token" not in created.json
    params = {"id": acs_id}

    default = await caller.call(
        "issue_identity_token",
        "POST",
        "identities/{id}/token",
        token=admin,
        body={"scopes": ["voip"]},
        route_params=params,
    )
    assert default.status == 200, default.body
    assert default.headers.get("Cache-Control") == "no-store"
    claims = _claims(default.json["token"])
    assert claims["acsScope"] == "voip"
    expires = datetime.fromisoformat(default.json["expiresOn"])
    assert abs(expires - (datetime.now(UTC) + timedelta(minutes=1440))) < timedelta(seconds=30)

    hour = await caller.call(
        "issue_identity_token",
        "POST",
        "identities/{id}/token",
        token=admin,
        body={"scopes": ["voip"], "expiresInMinutes": 60},
        route_params=params,
    )
    assert hour.status == 200
    assert abs(_claims(hour.json["token"])["exp"] - (datetime.now(UTC) + timedelta(minutes=60)).timestamp()) < 30

    refreshed = await caller.call(
        "issue_identity_token",
        "POST",
        "identities/{id}/token",
        token=admin,
        body={"scopes": ["voip"]},
        route_params=params,
    )
    assert refreshed.status == 200
    assert _claims(refreshed.json["token"])["iat"] >= _claims(default.json["token"])["iat"]
    assert caller.local_azure.check_token(refreshed.json["token"])["valid"] is True

    revoked = await caller.call(
        "revoke_identity_tokens", "POST", "identities/{id}/revoke", token=admin, route_params=params
    )
    assert revoked.status == 204
    for token in (default.json["token"], hour.json["token"], refreshed.json["token"]):
        assert caller.local_azure.check_token(token)["valid"] is False

    record = await caller.call("get_identity", "GET", "identities/{id}", token=admin, route_params=params)
    assert record.status == 200
    assert record.json["state"] == "active"
    assert record.json["lastTokenIssuedAt"] is not None

    deleted = await caller.call("delete_identity", "DELETE", "identities/{id}", token=admin, route_params=params)
    assert deleted.status == 204
    tombstone = await caller.call("get_identity", "GET", "identities/{id}", token=admin, route_params=params)
    assert tombstone.json["state"] == "deleted"
    assert tombstone.json["deletedReason"] == "admin-request"
    live = {identity["id"] for identity in caller.local_azure.identities(live_only=True)}
    assert acs_id not in live

    again = await caller.call(
        "issue_identity_token",
        "POST",
        "identities/{id}/token",
        token=admin,
        body={"scopes": ["voip"]},
        route_params=params,
    )
    assert again.status == 404
    assert again.json["code"] == "identity_not_found"
    assert again.headers["Content-Type"] == "application/problem+json"


async def test_create_with_token(caller: Caller) -> None:
    created = await caller.call(
        "create_identity",
        "POST",
        "identities",
        token=caller.admin_token(),
        body={"scopes": ["chat", "voip"], "expiresInMinutes": 120},
    )
    assert created.status == 201
    claims = _claims(created.json["token"])
    assert set(claims["acsScope"].split(",")) == {"chat", "voip"}
    assert claims["skypeid"] == created.json["communicationUserId"].removeprefix("8:")
