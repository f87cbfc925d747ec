"""The App Service style managed-identity endpoint, as azure-identity uses it unmodified."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from azure.communication.identity import CommunicationIdentityClient
from azure.communication.identity.aio import CommunicationIdentityClient as AsyncCommunicationIdentityClient
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.identity.aio import ManagedIdentityCredential as AsyncManagedIdentityCredential

from local_azure.process import LocalAzureProcess
from tests.local_azure.helpers import call

COMMUNICATION_SCOPE = "https://communication.azure.com//.default"


def mi_get(process: LocalAzureProcess, query: str, header: str | None = "default") -> tuple[int, dict]:
    request = urllib.request.Request(f"{process.settings.identity_endpoint}?{query}")
    if header is not None:
        request.add_header("X-IDENTITY-HEADER", process.settings.identity_header if header == "default" else header)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_system_assigned_token_claims(local_azure: LocalAzureProcess) -> None:
    status, body = mi_get(local_azure, "api-version=2019-08-01&resource=https://communication.azure.com/")
    assert status == 200
    assert set(body) == {"access_token", "expires_on", "resource", "token_type", "client_id"}
    assert body["token_type"] == "Bearer" and body["resource"] == "https://communication.azure.com/"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://communication.azure.com"
    assert claims["appid"] == body["client_id"] != local_azure.settings.managed_identity_client_id
    assert int(body["expires_on"]) == claims["exp"] and abs(claims["exp"] - time.time() - 3600) < 5


def test_storage_resource_and_unknown_resource(local_azure: LocalAzureProcess) -> None:
    status, body = mi_get(local_azure, "api-version=2019-08-01&resource=https://storage.azure.com")
    assert status == 200
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["aud"] == "https://storage.azure.com"
    status, body = mi_get(local_azure, "api-version=2019-08-01&resource=https://vault.azure.net")
    assert status == 400 and body["statusCode"] == 400


def test_header_and_version_checks(local_azure: LocalAzureProcess) -> None:
    query = "api-version=2019-08-01&resource=https://communication.azure.com"
    assert mi_get(local_azure, query, header=None)[0] == 401
    assert mi_get(local_azure, query, header="wrong")[0] == 403
    assert mi_get(local_azure, "api-version=2017-09-01&resource=https://communication.azure.com")[0] == 400


def test_user_assigned_client_id(local_azure: LocalAzureProcess) -> None:
    client_id = local_azure.settings.managed_identity_client_id
    with ManagedIdentityCredential(client_id=client_id) as credential:
        token = credential.get_token(COMMUNICATION_SCOPE)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["appid"] == client_id
    with ManagedIdentityCredential(client_id=client_id) as credential:
        client = CommunicationIdentityClient(local_azure.settings.acs_endpoint, credential)
        client.delete_user(client.create_user())


def test_unknown_client_id_fails(local_azure: LocalAzureProcess) -> None:
    with (
        ManagedIdentityCredential(client_id="11111111-2222-3333-4444-555555555555") as credential,
        pytest.raises(ClientAuthenticationError),
    ):
        credential.get_token(COMMUNICATION_SCOPE)


async def test_unknown_client_id_fails_aio(local_azure: LocalAzureProcess) -> None:
    async with AsyncManagedIdentityCredential(client_id="11111111-2222-3333-4444-555555555555") as credential:
        with pytest.raises(ClientAuthenticationError):
            await credential.get_token(COMMUNICATION_SCOPE)


def test_mi_fault_knob(local_azure: LocalAzureProcess) -> None:
    local_azure.set_mi_faults(500)
    try:
        assert local_azure.request("GET", local_azure.settings.mi_faults_url) == {"error_status": 500}
        status, _ = mi_get(local_azure, "api-version=2019-08-01&resource=https://communication.azure.com")
        assert status == 500
        with ManagedIdentityCredential() as credential, pytest.raises(ClientAuthenticationError):
            credential.get_token("https://storage.azure.com/.default")
    finally:
        local_azure.set_mi_faults(None)
    assert mi_get(local_azure, "api-version=2019-08-01&resource=https://communication.azure.com")[0] == 200


LIFETIME = 2


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[LocalAzureProcess]:
    """A private instance whose managed-identity tokens live LIFETIME seconds."""
    process = LocalAzureProcess.start(
        tmp_path_factory.mktemp("short_lived"),
        extra_args=["--mi-token-lifetime", str(LIFETIME)],
        log_file=artifacts_dir / "local_azure-short-lived.log",
    )
    yield process
    process.stop()


@pytest.fixture
def short_lived_env(short_lived: LocalAzureProcess, monkeypatch: pytest.MonkeyPatch) -> LocalAzureProcess:
    for name, value in short_lived.client_environment().items():
        monkeypatch.setenv(name, value)
    return short_lived


def test_token_lifetime_is_configurable(short_lived_env: LocalAzureProcess) -> None:
    status, body = mi_get(short_lived_env, "api-version=2019-08-01&resource=https://communication.azure.com")
    assert status == 200
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == LIFETIME


async def test_expired_bearer_is_rejected(short_lived_env: LocalAzureProcess) -> None:
    _, body = mi_get(short_lived_env, "api-version=2019-08-01&resource=https://communication.azure.com")
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await call(short_lived_env, "POST", "/identities", {}, auth="as-given", headers=bearer)).status == 201
    await asyncio.sleep(LIFETIME + 1.2)
    expired = await call(short_lived_env, "POST", "/identities", {}, auth="as-given", headers=bearer)
    assert expired.status == 401 and expired.error_code == "Denied"


def test_sync_client_keeps_working_across_token_expiry(short_lived_env: LocalAzureProcess) -> None:
    with DefaultAzureCredential() as credential:
        client = CommunicationIdentityClient(short_lived_env.settings.acs_endpoint, credential)
        first = credential.get_token(COMMUNICATION_SCOPE)
        user = client.create_user()
        time.sleep(LIFETIME + 1.2)
        assert first.expires_on < time.time()
        client.get_token(user, ["chat"])  # needs a fresh managed-identity token
        second = credential.get_token(COMMUNICATION_SCOPE)
        assert second.token != first.token and second.expires_on > time.time()
        client.delete_user(user)


async def test_aio_client_keeps_working_across_token_expiry(short_lived_env: LocalAzureProcess) -> None:
    ca = short_lived_env.settings.ca_cert_file
    async with (
        AsyncManagedIdentityCredential() as credential,
        AsyncCommunicationIdentityClient(
            short_lived_env.settings.acs_endpoint, credential, connection_verify=ca
        ) as client,
    ):
        first = await credential.get_token(COMMUNICATION_SCOPE)
        user = await client.create_user()
        await asyncio.sleep(LIFETIME + 1.2)
        await client.get_token(user, ["voip"])
        second = await credential.get_token(COMMUNICATION_SCOPE)
        assert second.token != first.token
        await client.delete_user(user)


def test_default_credential_honours_azure_client_id(
    local_azure: LocalAzureProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In Azure with a user-assigned identity the app sets AZURE_CLIENT_ID; DefaultAzureCredential passes it on."""
    client_id = local_azure.settings.managed_identity_client_id
    monkeypatch.setenv("AZURE_CLIENT_ID", client_id)
    with DefaultAzureCredential() as credential:
        token = credential.get_token(COMMUNICATION_SCOPE)
    assert jwt.decode(token.token, options={"verify_signature": False})["appid"] == client_id
