"""The authorization matrix: anonymous, user A, user B, admin x every HTTP route, each cell asserted.

Function keys are the host's second lock and are tested against the devhost; here the app's own rules.
"""

from __future__ import annotations

import pytest

from tests.function_app.harness import TEAMS_APP_ID, Caller, new_user

CALLERS = ("anonymous", "user_a", "user_b", "admin")

# route -> expected status per caller. A's identity exists; B has none until B asks for a token.
MATRIX: dict[str, dict[str, int]] = {
    "issue_user_token": {"anonymous": 401, "user_a": 200, "user_b": 201, "admin": 201},
    "exchange_teams_token (A's Teams token)": {"anonymous": 401, "user_a": 200, "user_b": 401, "admin": 401},
    "delete_me": {"anonymous": 401, "user_a": 204, "user_b": 404, "admin": 404},
    "create_identity": {"anonymous": 401, "user_a": 403, "user_b": 403, "admin": 201},
    "get_identity (A's)": {"anonymous": 401, "user_a": 403, "user_b": 403, "admin": 200},
    "issue_identity_token (A's)": {"anonymous": 401, "user_a": 403, "user_b": 403, "admin": 200},
    "revoke_identity_tokens (A's)": {"anonymous": 401, "user_a": 403, "user_b": 403, "admin": 204},
    "delete_identity (A's)": {"anonymous": 401, "user_a": 403, "user_b": 403, "admin": 204},
    "health": {"anonymous": 200, "user_a": 200, "user_b": 200, "admin": 200},
    "openapi": {"anonymous": 200, "user_a": 200, "user_b": 200, "admin": 200},
}


@pytest.mark.parametrize("route", list(MATRIX))
@pytest.mark.parametrize("who", CALLERS)
async def test_authorization_matrix(caller: Caller, route: str, who: str) -> None:
    user_a, user_b, admin_user = new_user(), new_user(), new_user()
    tokens = {
        "anonymous": None,
        "user_a": caller.user_token(user_a),
        "user_b": caller.user_token(user_b),
        "admin": caller.user_token(admin_user, roles=("TokenService.Admin",)),
    }
    created = await caller.call("issue_user_token", "POST", "token", token=tokens["user_a"])
    assert created.status == 201
    a_id = created.json["communicationUserId"]
    a_token = created.json["token"]
    token = tokens[who]
    params = {"id": a_id}
    name = route.split(" ")[0]
    if name == "issue_user_token":
        reply = await caller.call(name, "POST", "token", token=token)
    elif name == "exchange_teams_token":
        teams = caller.local_azure.mint_user_token(
            user_a, oid=user_a, aud=caller.local_azure.settings.teams_audience, appid=TEAMS_APP_ID
        )
        reply = await caller.call(name, "POST", "token/teams", token=token, headers={"X-Teams-Token": teams})
    elif name == "delete_me":
        reply = await caller.call(name, "DELETE", "me", token=token)
    elif name == "create_identity":
        reply = await caller.call(name, "POST", "identities", token=token)
    elif name == "get_identity":
        reply = await caller.call(name, "GET", "identities/{id}", token=token, route_params=params)
    elif name == "issue_identity_token":
        reply = await caller.call(name, "POST", "identities/{id}/token", token=token, route_params=params)
    elif name == "revoke_identity_tokens":
        reply = await caller.call(name, "POST", "identities/{id}/revoke", token=token, route_params=params)
    elif name == "delete_identity":
        reply = await caller.call(name, "DELETE", "identities/{id}", token=token, route_params=params)
    else:
        reply = await caller.call(name, "GET", "health" if name == "health" else "openapi.json", token=token)
    assert reply.status == MATRIX[route][who], reply.body
    if reply.status >= 400:
        assert reply.json["code"] in {"unauthenticated", "forbidden", "identity_not_found", "teams_token_rejected"}
    # Whatever B or the anonymous caller did, A's identity and token survive.
    if who in ("anonymous", "user_b") or MATRIX[route][who] >= 400:
        assert caller.local_azure.check_token(a_token)["valid"] is True
