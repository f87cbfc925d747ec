"""Callers as Entra ID signs them: every token shape, accepted or refused, through the app's own routes.

The app runs with AUTH_ISSUER = the dev tenant's v1 and v2 issuers and AUTH_AUDIENCE = the App ID URI
and the client id (conftest), as a default Entra registration serving both token versions would be.
Tokens come from the dev issuer's mint (its Entra shapes) or, for forgeries, are signed with its key.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import pytest

from local_azure.entra.issuer import DEFAULT_TENANT_ID
from tests.function_app.forged_tokens import issuer_key, sign, user_claims
from tests.function_app.harness import ADMIN_ROLE, Caller, new_user, user_key
from token_service.services import build_services, get_services, reset_services
from token_service.settings import Settings

OTHER_TENANT = "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
NON_ENTRA_TENANT = "not-entra"


def mint(caller: Caller, **body: Any) -> str:
    result = caller.local_azure.request("POST", caller.local_azure.settings.issuer_mint_url, body)
    return str(result["access_token"])


def signed(caller: Caller, **overrides: Any) -> str:
    return sign(caller, user_claims(caller, **overrides))


def token_for(caller: Caller, case: str) -> str:
    settings = caller.local_azure.settings
    user = new_user()
    admin = [ADMIN_ROLE]
    tokens = {
        "v2 user": lambda: mint(caller, oid=user),
        "v1 user": lambda: mint(caller, oid=user, kind="v1"),
        "v1 user, client id as aud": lambda: mint(caller, oid=user, kind="v1", aud=settings.api_client_id),
        "v2 user, several scopes": lambda: mint(caller, oid=user, scp="User.Read access_as_user offline_access"),
        "v2 user with admin role": lambda: mint(caller, oid=user, roles=admin),
        "v2 user, idtyp user": lambda: mint(caller, oid=user, idtyp="user"),
        "sub-only token": lambda: mint(caller, sub=user),
        "v1 sub-only token": lambda: mint(caller, sub=user, kind="v1"),
        "oid without tid": lambda: signed(caller, oid=user, tid=None),
        "missing scope": lambda: mint(caller, oid=user, scp="User.Read"),
        "scope as a prefix only": lambda: mint(caller, oid=user, scp="access_as_user_not"),
        "app-only with admin role": lambda: mint(caller, kind="app", roles=admin),
        "app-only, no idtyp": lambda: mint(caller, kind="app", roles=admin, idtyp=None),
        "app-only without the role": lambda: mint(caller, kind="app", roles=["Some.Other.Role"]),
        "app-only v1 with admin role": lambda: mint(caller, kind="app", roles=admin, ver="1.0"),
        "ID token": lambda: mint(caller, oid=user, kind="id"),
        "ID token with admin role": lambda: mint(caller, oid=user, kind="id", roles=admin),
        "ID token with nonce": lambda: mint(caller, oid=user, kind="id", nonce="n-0S6_WzA2Mj"),
        "access token with nonce": lambda: mint(caller, oid=user, nonce="n-0S6_WzA2Mj"),
        "no scp and no roles": lambda: mint(caller, oid=user, scp=None),
        "wrong aud": lambda: mint(caller, oid=user, aud="api://someone-else", kind="v2"),
        "wrong iss (another tenant)": lambda: mint(caller, oid=user, tid=OTHER_TENANT),
        "v2 iss with a trailing slash": lambda: signed(caller, iss=settings.issuer + "/"),
        "v1 iss without its trailing slash": lambda: signed(caller, iss=settings.issuer_v1.rstrip("/")),
        "expired": lambda: mint(caller, oid=user, lifetime_seconds=-600),
        "nbf in the future": lambda: mint(caller, oid=user, not_before_seconds=900),
        "unknown kid": lambda: jwt.encode(
            jwt.decode(signed(caller), options={"verify_signature": False}),
            issuer_key(caller)[0],  # type: ignore[arg-type]
            "RS256",
            headers={"kid": "not-a-known-kid"},
        ),
        "alg none": lambda: _unsigned(signed(caller), "none"),
        "alg HS256": lambda: _unsigned(signed(caller), "HS256"),
    }
    return tokens[case]()


def _unsigned(token: str, alg: str) -> str:
    _, payload, _ = token.split(".")
    forged_header = jwt.utils.base64url_encode(f'{{"alg":"{alg}","typ":"JWT"}}'.encode()).decode()
    return f"{forged_header}.{payload}." + ("" if alg == "none" else "c2lnbmF0dXJl")


CHALLENGES = {
    401: 'Bearer realm="acs-token-service", error="invalid_token"',
    403: 'Bearer realm="acs-token-service", error="insufficient_scope"',
}
# case -> (user route POST /api/token, admin route GET /api/identities/{id}); 404 = authorized (no such id).
MATRIX: dict[str, tuple[tuple[int, str], tuple[int, str]]] = {
    "v2 user": ((201, ""), (403, "forbidden")),
    "v1 user": ((201, ""), (403, "forbidden")),
    "v1 user, client id as aud": ((201, ""), (403, "forbidden")),
    "v2 user, several scopes": ((201, ""), (403, "forbidden")),
    "v2 user with admin role": ((201, ""), (404, "identity_not_found")),
    "v2 user, idtyp user": ((201, ""), (403, "forbidden")),
    # Entra emits oid only when the client asks for the profile scope, and sub is pairwise (one per
    # client app): keying by sub would split one person into a user per client and token version.
    "sub-only token": ((401, "missing_oid"), (401, "missing_oid")),
    "v1 sub-only token": ((401, "missing_oid"), (401, "missing_oid")),
    "oid without tid": ((401, "missing_oid"), (401, "missing_oid")),
    "missing scope": ((403, "insufficient_scope"), (403, "forbidden")),
    "scope as a prefix only": ((403, "insufficient_scope"), (403, "forbidden")),
    "app-only with admin role": ((403, "user_token_required"), (404, "identity_not_found")),
    "app-only, no idtyp": ((403, "user_token_required"), (404, "identity_not_found")),
    "app-only without the role": ((403, "user_token_required"), (403, "forbidden")),
    "app-only v1 with admin role": ((403, "user_token_required"), (404, "identity_not_found")),
    "ID token": ((401, "unauthenticated"), (401, "unauthenticated")),
    "ID token with admin role": ((401, "unauthenticated"), (401, "unauthenticated")),
    "ID token with nonce": ((401, "unauthenticated"), (401, "unauthenticated")),
    "access token with nonce": ((401, "unauthenticated"), (401, "unauthenticated")),
    "no scp and no roles": ((401, "unauthenticated"), (401, "unauthenticated")),
    "wrong aud": ((401, "unauthenticated"), (401, "unauthenticated")),
    "wrong iss (another tenant)": ((401, "unauthenticated"), (401, "unauthenticated")),
    "v2 iss with a trailing slash": ((401, "unauthenticated"), (401, "unauthenticated")),
    "v1 iss without its trailing slash": ((401, "unauthenticated"), (401, "unauthenticated")),
    "expired": ((401, "unauthenticated"), (401, "unauthenticated")),
    "nbf in the future": ((401, "unauthenticated"), (401, "unauthenticated")),
    "unknown kid": ((401, "unauthenticated"), (401, "unauthenticated")),
    "alg none": ((401, "unauthenticated"), (401, "unauthenticated")),
    "alg HS256": ((401, "unauthenticated"), (401, "unauthenticated")),
}


@pytest.mark.parametrize("case", list(MATRIX))
async def test_token_shape_matrix(caller: Caller, case: str) -> None:
    token = token_for(caller, case)
    (user_status, user_code), (admin_status, admin_code) = MATRIX[case]
    before = len(caller.local_azure.identities())
    mine = await caller.call("issue_user_token", "POST", "token", token=token)
    assert (mine.status, mine.json.get("code", "") if mine.status >= 400 else "") == (user_status, user_code), (
        case,
        mine.body,
    )
    if user_status >= 400:
        assert len(caller.local_azure.identities()) == before, "a refused caller must create nothing"
        assert "eyJ" not in mine.body.decode(), "an error body must never echo a token"
    assert mine.headers.get("WWW-Authenticate") == CHALLENGES.get(user_status), (case, mine.headers)
    unknown_id = f"8:acs:{caller.local_azure.settings.acs_resource_id}_{uuid.uuid4()}"
    admin = await caller.call("get_identity", "GET", "identities/{id}", token=token, route_params={"id": unknown_id})
    assert (admin.status, admin.json["code"]) == (admin_status, admin_code), (case, admin.body)
    assert admin.headers.get("WWW-Authenticate") == CHALLENGES.get(admin_status), (case, admin.headers)


@pytest.mark.parametrize("route", ["issue_user_token", "get_identity"])
async def test_no_token_gets_a_challenge_without_an_error_code(caller: Caller, route: str) -> None:
    """RFC 6750 §3.1: a request with no authentication information gets no error code."""
    params = {"id": f"8:acs:{caller.local_azure.settings.acs_resource_id}_{uuid.uuid4()}"}
    reply = await caller.call(route, "POST" if route == "issue_user_token" else "GET", "x", route_params=params)
    assert (reply.status, reply.json["code"]) == (401, "unauthenticated")
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="acs-token-service"'


def test_matrix_states_every_shape_the_issue_names() -> None:
    """The shapes issue 12 lists, each a row above (a renamed or dropped case fails here)."""
    required = {
        "v1 user", "v2 user", "app-only with admin role", "ID token", "wrong aud", "wrong iss (another tenant)",
        "v2 iss with a trailing slash", "v1 iss without its trailing slash", "missing scope", "expired",
        "nbf in the future", "alg none", "alg HS256", "unknown kid", "sub-only token", "v1 sub-only token",
    }  # fmt: skip
    assert required <= set(MATRIX)


async def test_v1_and_v2_tokens_of_one_user_are_one_identity(caller: Caller) -> None:
    user = new_user()
    first = await caller.call("issue_user_token", "POST", "token", token=mint(caller, oid=user, kind="v1"))
    second = await caller.call("issue_user_token", "POST", "token", token=mint(caller, oid=user))
    assert (first.status, second.status) == (201, 200), (first.body, second.body)
    assert first.json["communicationUserId"] == second.json["communicationUserId"]
    mapping = await get_services().registry.read_mapping(user_key(user))
    assert mapping is not None and mapping.acs_id == first.json["communicationUserId"]


async def test_missing_oid_says_to_ask_for_the_profile_scope(caller: Caller) -> None:
    reply = await caller.call("issue_user_token", "POST", "token", token=mint(caller, sub=new_user()))
    assert (reply.status, reply.json["code"]) == (401, "missing_oid"), reply.body
    assert "profile" in reply.json["detail"] and "oid" in reply.json["detail"]
    assert reply.headers["WWW-Authenticate"] == CHALLENGES[401]


async def test_sub_only_token_never_maps_to_the_user_with_that_oid(
    caller: Caller, app_environment: dict[str, str]
) -> None:
    """Keys are namespaced: a token whose `sub` is X never reaches the user whose `oid` is X. `sub:` keys
    exist only for issuers that are not Entra: here the dev issuer under a tenant path that is no GUID,
    which is not Entra's issuer form (docs/auth.md)."""
    other_issuer = caller.local_azure.settings.issuer.replace(DEFAULT_TENANT_ID, NON_ENTRA_TENANT)
    env = {**app_environment, "AUTH_ISSUER": app_environment["AUTH_ISSUER"] + "," + other_issuer}
    await reset_services(build_services(Settings.from_env(env)))
    victim = new_user()
    owned = await caller.call("issue_user_token", "POST", "token", token=mint(caller, oid=victim))
    posing = await caller.call(
        "issue_user_token", "POST", "token", token=mint(caller, sub=victim, tid=NON_ENTRA_TENANT)
    )
    assert (owned.status, posing.status) == (201, 201), (owned.body, posing.body)
    assert owned.json["communicationUserId"] != posing.json["communicationUserId"]
    mapping = await get_services().registry.read_mapping(f"sub:{other_issuer}:{victim}")
    assert mapping is not None and mapping.acs_id == posing.json["communicationUserId"]


async def test_same_oid_in_two_tenants_is_two_users(caller: Caller, app_environment: dict[str, str]) -> None:
    """A multi-tenant app: `oid` is unique only within its tenant."""
    other_issuer = caller.local_azure.settings.issuer.replace(DEFAULT_TENANT_ID, OTHER_TENANT)
    env = {**app_environment, "AUTH_ISSUER": app_environment["AUTH_ISSUER"] + "," + other_issuer}
    await reset_services(build_services(Settings.from_env(env)))
    oid = new_user()
    home = await caller.call("issue_user_token", "POST", "token", token=mint(caller, oid=oid))
    other = await caller.call("issue_user_token", "POST", "token", token=mint(caller, oid=oid, tid=OTHER_TENANT))
    assert (home.status, other.status) == (201, 201), (home.body, other.body)
    assert home.json["communicationUserId"] != other.json["communicationUserId"]
    registry = get_services().registry
    for tenant, reply in ((DEFAULT_TENANT_ID, home), (OTHER_TENANT, other)):
        mapping = await registry.read_mapping(user_key(oid, tenant))
        assert mapping is not None and mapping.acs_id == reply.json["communicationUserId"]
