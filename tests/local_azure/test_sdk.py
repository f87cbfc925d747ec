"""The unmodified azure-communication-identity SDK, sync and aio, through every operation, with HMAC
(connection string) and with DefaultAzureCredential getting its token from the managed-identity endpoint."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from azure.communication.identity import (
    CommunicationIdentityClient,
    CommunicationTokenScope,
    CommunicationUserIdentifier,
)
from azure.communication.identity.aio import CommunicationIdentityClient as AsyncCommunicationIdentityClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential
from azure.identity.aio import DefaultAzureCredential as AsyncDefaultAzureCredential

from local_azure.process import LocalAzureProcess
from tests.local_azure.helpers import decode_unverified

TEAMS_APP = "00000000-aaaa-bbbb-cccc-000000000001"
TEAMS_USER = "00000000-aaaa-bbbb-cccc-000000000002"


def parse_expires_on(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def assert_expiry(expires_on: Any, minutes: int) -> None:
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    assert abs((parse_expires_on(expires_on) - expected).total_seconds()) < 5


@pytest.fixture(params=["connection_string", "default_azure_credential"])
def sync_client(
    request: pytest.FixtureRequest, local_azure: LocalAzureProcess
) -> Iterator[CommunicationIdentityClient]:
    if request.param == "connection_string":
        yield CommunicationIdentityClient.from_connection_string(local_azure.settings.acs_connection_string)
    else:
        with DefaultAzureCredential() as credential:
            yield CommunicationIdentityClient(local_azure.settings.acs_endpoint, credential)


@pytest.fixture(params=["connection_string", "default_azure_credential"])
async def async_client(
    request: pytest.FixtureRequest, local_azure: LocalAzureProcess
) -> AsyncIterator[AsyncCommunicationIdentityClient]:
    # aiohttp builds its default SSL context when imported, before the fixture sets SSL_CERT_FILE,
    # so in-process aio clients are told the CA explicitly (a standard azure-core option).
    ca = local_azure.settings.ca_cert_file
    if request.param == "connection_string":
        async with AsyncCommunicationIdentityClient.from_connection_string(
            local_azure.settings.acs_connection_string, connection_verify=ca
        ) as client:
            yield client
    else:
        async with (
            AsyncDefaultAzureCredential() as credential,
            AsyncCommunicationIdentityClient(
                local_azure.settings.acs_endpoint, credential, connection_verify=ca
            ) as client,
        ):
            yield client


def teams_token(local_azure: LocalAzureProcess) -> str:
    return local_azure.mint_user_token(
        TEAMS_USER, oid=TEAMS_USER, aud=local_azure.settings.teams_audience, appid=TEAMS_APP
    )


def test_every_operation_sync(sync_client: CommunicationIdentityClient, local_azure: LocalAzureProcess) -> None:
    resource = local_azure.settings.acs_resource_id
    user = sync_client.create_user()
    assert user.properties["id"].startswith(f"8:acs:{resource}_")

    user2, token2 = sync_client.create_user_and_token([CommunicationTokenScope.VOIP])
    assert_expiry(token2.expires_on, 1440)
    user3, token3 = sync_client.create_user_and_token(["chat"], token_expires_in=dt.timedelta(minutes=60))
    assert_expiry(token3.expires_on, 60)

    token = sync_client.get_token(user, [CommunicationTokenScope.CHAT, CommunicationTokenScope.VOIP])
    assert_expiry(token.expires_on, 1440)
    assert decode_unverified(token.token)["acsScope"] == "chat,voip"
    token_short = sync_client.get_token(user, ["voip"], token_expires_in=dt.timedelta(minutes=90))
    assert_expiry(token_short.expires_on, 90)
    assert local_azure.check_token(token_short.token)["valid"]

    sync_client.revoke_tokens(user)
    assert not local_azure.check_token(token_short.token)["valid"]
    sync_client.delete_user(user)
    for other in (user2, user3):
        sync_client.delete_user(other)
    with pytest.raises(ResourceNotFoundError):
        sync_client.get_token(user, ["chat"])
    with pytest.raises(ResourceNotFoundError):
        sync_client.revoke_tokens(user)

    exchanged = sync_client.get_token_for_teams_user(teams_token(local_azure), TEAMS_APP, TEAMS_USER)
    assert decode_unverified(exchanged.token)["skypeid"] == f"orgid:{TEAMS_USER}"
    assert_expiry(exchanged.expires_on, 60)
    with pytest.raises(HttpResponseError) as error:
        sync_client.get_token_for_teams_user(teams_token(local_azure), "another-app", TEAMS_USER)
    assert error.value.status_code == 400


async def test_every_operation_aio(
    async_client: AsyncCommunicationIdentityClient, local_azure: LocalAzureProcess
) -> None:
    user = await async_client.create_user()
    user2, token2 = await async_client.create_user_and_token(["voip", "chat"])
    assert_expiry(token2.expires_on, 1440)
    user3, token3 = await async_client.create_user_and_token(["voip"], token_expires_in=dt.timedelta(hours=2))
    assert_expiry(token3.expires_on, 120)

    token = await async_client.get_token(user, ["chat.join", "voip.join"])
    assert decode_unverified(token.token)["acsScope"] == "chat.join,voip.join"
    token_short = await async_client.get_token(user, ["chat"], token_expires_in=dt.timedelta(minutes=61))
    assert_expiry(token_short.expires_on, 61)

    await async_client.revoke_tokens(user)
    assert local_azure.check_token(token.token)["reason"] == "revoked"
    await async_client.delete_user(user)
    assert local_azure.check_token(token.token)["reason"] == "identity deleted"
    with pytest.raises(ResourceNotFoundError):
        await async_client.delete_user(user)
    for other in (user2, user3):
        await async_client.delete_user(other)

    exchanged = await async_client.get_token_for_teams_user(teams_token(local_azure), TEAMS_APP, TEAMS_USER)
    assert local_azure.check_token(exchanged.token) == {
        "valid": True,
        "reason": None,
        "communicationUserId": f"8:orgid:{TEAMS_USER}",
    }


def test_identifier_from_another_resource_is_rejected(sync_client: CommunicationIdentityClient) -> None:
    stranger = CommunicationUserIdentifier(
        "8:acs:00000000-0000-0000-0000-000000000000_00000001-0000-0000-0000-000000000000"
    )
    with pytest.raises(HttpResponseError) as error:
        sync_client.get_token(stranger, ["chat"])
    assert error.value.status_code == 400
