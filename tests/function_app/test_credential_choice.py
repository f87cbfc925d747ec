"""The app reaches ACS with the managed identity, even when environment-credential variables are set.

DefaultAzureCredential would prefer an EnvironmentCredential here (AZURE_TENANT_ID + AZURE_CLIENT_ID +
AZURE_CLIENT_SECRET); its authority points at a closed loopback port, so that path can only fail.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import jwt
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import DefaultAzureCredential

from local_azure.process import LocalAzureProcess
from tests.function_app.harness import Caller, new_user
from token_service.platform.credentials import acs_credential, developer_credential
from token_service.services import get_services
from token_service.settings import Settings

COMMUNICATION_SCOPE = "https://communication.azure.com/.default"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def env_credential_variables(local_azure: LocalAzureProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """What a leaked CI service principal in the app's environment looks like; AZURE_CLIENT_ID is the
    user-assigned identity's client id, as in Azure."""
    client_id = str(local_azure.settings.managed_identity_client_id)
    monkeypatch.setenv("AZURE_TENANT_ID", str(uuid.uuid4()))
    monkeypatch.setenv("AZURE_CLIENT_ID", client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "placeholder-not-a-credential")
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", f"https://127.0.0.1:{_closed_port()}")
    yield client_id


async def test_env_credential_variables_do_not_change_the_identity(
    env_credential_variables: str, caller: Caller, local_azure: LocalAzureProcess
) -> None:
    user = new_user()
    reply = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(user))
    assert reply.status == 201, reply.body
    token = await get_services().credential.get_token(COMMUNICATION_SCOPE)
    claims = jwt.decode(token.token, options={"verify_signature": False})
    assert claims["appid"] == env_credential_variables  # the user-assigned managed identity, from local_azure


async def test_default_credential_would_have_used_the_environment(env_credential_variables: str) -> None:
    """The control: with the same environment DefaultAzureCredential takes the EnvironmentCredential
    path (and fails on its closed authority), so the test above can tell the two apart."""
    async with DefaultAzureCredential() as credential:
        with pytest.raises(ClientAuthenticationError, match="EnvironmentCredential"):
            await credential.get_token(COMMUNICATION_SCOPE)


async def test_developer_mode_is_explicit_and_never_the_managed_identity(
    app_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ACS_CREDENTIAL=developer asks the Azure CLI / azd sign-in only: with neither installed here it fails,
    although the managed identity endpoint is right there (no silent fallback)."""
    monkeypatch.setenv("PATH", "/nonexistent")
    settings = Settings.from_env({**app_environment, "ACS_CREDENTIAL": "developer"})
    credential = acs_credential(settings)
    async with credential:
        with pytest.raises(ClientAuthenticationError):
            await credential.get_token(COMMUNICATION_SCOPE)
    async with developer_credential() as plain:
        with pytest.raises(ClientAuthenticationError):
            await plain.get_token(COMMUNICATION_SCOPE)


async def test_managed_identity_failure_answers_credential_unavailable(
    caller: Caller, local_azure: LocalAzureProcess
) -> None:
    """The managed-identity endpoint failing is the credential's failure, not ACS's: 503
    credential_unavailable, and the ACS call's metric outcome is `credential_error` (docs/metrics.md),
    never an HTTP status nor "None" (ClientAuthenticationError is an HttpResponseError with no status)."""

    def acs_calls() -> dict[str, float]:
        counts: dict[str, float] = {}
        for metric in get_services().telemetry.snapshot()["metrics"]:
            if metric["name"] == "acs_token_service.acs.calls":
                for point in metric["points"]:
                    outcome = point["attributes"]["outcome"]
                    counts[outcome] = counts.get(outcome, 0) + point["value"]
        return counts

    before = acs_calls()  # the meter outlives a worker's services: count what this test adds
    local_azure.set_mi_faults(500)  # before the worker's first ACS call: no ACS token cached
    try:
        first = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(new_user()))
        again = await caller.call("issue_user_token", "POST", "token", token=caller.user_token(new_user()))
    finally:
        local_azure.set_mi_faults(None)
    for reply in (first, again):  # the slow attempt, then the credential gate's fast refusal
        assert (reply.status, reply.json["code"]) == (503, "credential_unavailable"), reply.body
        assert reply.headers.get("Retry-After") == "5"
    after = acs_calls()
    grown = {outcome: n - before.get(outcome, 0) for outcome, n in after.items() if n != before.get(outcome, 0)}
    assert grown == {"credential_error": 2}
