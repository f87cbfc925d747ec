"""ACS access tokens: claims match the request, JWKS verifies them, revoke/delete invalidate them."""

from __future__ import annotations

import datetime as dt
import re
import time

import jwt
import pytest
from azure.communication.chat import CommunicationTokenCredential
from azure.communication.identity import CommunicationIdentityClient

from local_azure.process import LocalAzureProcess
from tests.local_azure.helpers import acs_jwks_key, call

pytestmark = pytest.mark.usefixtures("acs_faults")
EXPIRES_ON = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00$")


async def test_claims_match_request(local_azure: LocalAzureProcess) -> None:
    requested_at = time.time()
    response = await call(
        local_azure, "POST", "/identities", {"createTokenWithScopes": ["chat", "voip"], "expiresInMinutes": 75}
    )
    body = response.json()
    identity, token, expires_on = body["identity"]["id"], body["accessToken"]["token"], body["accessToken"]["expiresOn"]
    assert EXPIRES_ON.match(expires_on), expires_on

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"] and header["x5t"]
    claims = jwt.decode(token, await acs_jwks_key(local_azure), algorithms=["RS256"])
    resource = local_azure.settings.acs_resource_id
    assert set(claims) == {"skypeid", "scp", "csi", "exp", "acsScope", "resourceId", "resourceLocation", "iat"}
    assert claims["skypeid"] == identity.removeprefix("8:") and identity.startswith(f"8:acs:{resource}_")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", identity.split("_", 1)[1])
    assert claims["acsScope"] == "chat,voip" and claims["scp"] == 1792
    assert claims["resourceId"] == resource and claims["resourceLocation"] == "unitedstates"
    assert claims["csi"] == str(claims["iat"])
    assert abs(claims["exp"] - (requested_at + 75 * 60)) <= 1.5
    assert abs(dt.datetime.fromisoformat(expires_on).timestamp() - claims["exp"]) < 1


async def test_default_expiry_is_a_day(local_azure: LocalAzureProcess) -> None:
    identity = (await call(local_azure, "POST", "/identities", {})).json()["identity"]["id"]
    requested_at = time.time()
    body = (
        await call(local_azure, "POST", f"/identities/{identity}/:issueAccessToken", {"scopes": ["voip.join"]})
    ).json()
    claims = jwt.decode(body["token"], await acs_jwks_key(local_azure), algorithms=["RS256"])
    assert abs(claims["exp"] - (requested_at + 1440 * 60)) <= 1.5
    assert claims["acsScope"] == "voip.join"


async def test_revoke_and_delete_invalidate_earlier_tokens(local_azure: LocalAzureProcess) -> None:
    body = (await call(local_azure, "POST", "/identities", {"createTokenWithScopes": ["chat"]})).json()
    identity, before = body["identity"]["id"], body["accessToken"]["token"]
    assert local_azure.check_token(before) == {"valid": True, "reason": None, "communicationUserId": identity}

    assert (await call(local_azure, "POST", f"/identities/{identity}/:revokeAccessTokens")).status == 204
    after = (await call(local_azure, "POST", f"/identities/{identity}/:issueAccessToken", {"scopes": ["chat"]})).json()
    assert local_azure.check_token(before)["reason"] == "revoked"
    assert local_azure.check_token(after["token"])["valid"], "a token issued after the revocation is valid"

    assert (await call(local_azure, "DELETE", f"/identities/{identity}")).status == 204
    for token in (before, after["token"]):
        assert local_azure.check_token(token) == {
            "valid": False,
            "reason": "identity deleted",
            "communicationUserId": identity,
        }


async def test_check_rejects_foreign_and_expired_tokens(local_azure: LocalAzureProcess) -> None:
    user_token = local_azure.mint_user_token("someone")
    assert local_azure.check_token(user_token)["reason"] == "bad signature"
    assert not local_azure.check_token("garbage")["valid"]


def test_chat_credential_accepts_token(local_azure: LocalAzureProcess) -> None:
    client = CommunicationIdentityClient.from_connection_string(local_azure.settings.acs_connection_string)
    user, token = client.create_user_and_token(["chat"], token_expires_in=dt.timedelta(minutes=120))
    with CommunicationTokenCredential(token.token) as credential:
        access = credential.get_token()
    assert access.token == token.token
    assert abs(access.expires_on - dt.datetime.fromisoformat(str(token.expires_on)).timestamp()) < 1
    client.delete_user(user)


async def test_jwks_shape(local_azure: LocalAzureProcess) -> None:
    jwks = local_azure.request("GET", local_azure.settings.acs_jwks_url)
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["kid"] and key["x5t"] and key["x5c"]
