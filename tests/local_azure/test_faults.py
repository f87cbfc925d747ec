"""Fault knobs: throttling with Retry-After (and the SDK's retry honouring it), errors, drops, latency."""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.error

import aiohttp
import pytest
from azure.communication.identity import CommunicationIdentityClient
from azure.communication.identity.aio import CommunicationIdentityClient as AsyncCommunicationIdentityClient
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from local_azure.process import LocalAzureProcess
from tests.local_azure.helpers import call

DEFAULTS = {
    "latency_ms": 0,
    "rate_limits": {
        "create": {"limit": 1000, "window_seconds": 30},
        "issue": {"limit": 1000, "window_seconds": 30},
        "revoke": {"limit": 500, "window_seconds": 30},
        "delete": {"limit": 500, "window_seconds": 30},
        "exchange": {"limit": 500, "window_seconds": 30},
        "get": {"limit": 1000, "window_seconds": 30},
    },
    "error_rate": 0.0,
    "error_status": 503,
    "drop_rate": 0.0,
    "fail_after": None,
}


def test_defaults_and_partial_update(acs_faults: LocalAzureProcess) -> None:
    assert acs_faults.faults() == DEFAULTS
    updated = acs_faults.set_faults(rate_limits={"issue": {"limit": 7}}, latency_ms=5)
    assert updated["rate_limits"]["issue"] == {"limit": 7, "window_seconds": 30}
    assert updated["rate_limits"]["create"] == DEFAULTS["rate_limits"]["create"]
    assert updated["latency_ms"] == 5
    acs_faults.reset_faults()
    assert acs_faults.faults() == DEFAULTS


@pytest.mark.parametrize(
    "changes",
    [{"error_rate": 2}, {"rate_limits": {"fly": {"limit": 1}}}, {"bogus": 1}, {"fail_after": {"calls": -1}}],
)
def test_invalid_knobs_are_400(acs_faults: LocalAzureProcess, changes: dict) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        acs_faults.set_faults(**changes)
    assert error.value.code == 400


async def test_burst_is_throttled_with_retry_after(acs_faults: LocalAzureProcess) -> None:
    acs_faults.set_faults(rate_limits={"create": {"limit": 5, "window_seconds": 2}})
    responses = await asyncio.gather(*(call(acs_faults, "POST", "/identities", {}) for _ in range(12)))
    statuses = sorted(response.status for response in responses)
    assert statuses.count(201) == 5 and statuses.count(429) == 7
    for response in responses:
        if response.status == 429:
            assert response.error_code == "TooManyRequests"
            assert 1 <= int(response.headers["Retry-After"]) <= 2


def test_sdk_retry_policy_rides_out_throttling(acs_faults: LocalAzureProcess) -> None:
    acs_faults.set_faults(rate_limits={"create": {"limit": 5, "window_seconds": 1}})
    acs_faults.reset_stats()
    client = CommunicationIdentityClient.from_connection_string(acs_faults.settings.acs_connection_string)
    users = [client.create_user() for _ in range(12)]
    assert len({user.properties["id"] for user in users}) == 12
    outcomes = acs_faults.stats()["operations"]["create"]
    assert outcomes["201"] == 12 and outcomes.get("429", 0) >= 1, outcomes


async def test_aio_sdk_retry_policy_rides_out_throttling(acs_faults: LocalAzureProcess) -> None:
    acs_faults.set_faults(rate_limits={"issue": {"limit": 3, "window_seconds": 1}})
    async with AsyncCommunicationIdentityClient.from_connection_string(
        acs_faults.settings.acs_connection_string, connection_verify=acs_faults.settings.ca_cert_file
    ) as client:
        user = await client.create_user()
        tokens = await asyncio.gather(*(client.get_token(user, ["chat"]) for _ in range(8)))
    assert len(tokens) == 8


async def test_error_rate(acs_faults: LocalAzureProcess) -> None:
    acs_faults.set_faults(error_rate=1.0)
    response = await call(acs_faults, "POST", "/identities", {})
    assert response.status == 503 and response.headers["Retry-After"] == "1"
    assert response.error_code == "ServiceUnavailable"
    acs_faults.set_faults(error_status=500)
    client = CommunicationIdentityClient.from_connection_string(
        acs_faults.settings.acs_connection_string, retry_total=0
    )
    with pytest.raises(HttpResponseError) as error:
        client.create_user()
    assert error.value.status_code == 500


async def test_drop_rate(acs_faults: LocalAzureProcess) -> None:
    acs_faults.set_faults(drop_rate=1.0)
    with pytest.raises(aiohttp.ClientError):
        await call(acs_faults, "POST", "/identities", {})
    client = CommunicationIdentityClient.from_connection_string(
        acs_faults.settings.acs_connection_string, retry_total=0
    )
    with pytest.raises((ServiceRequestError, ServiceResponseError)):
        client.create_user()
    assert acs_faults.stats()["operations"]["create"]["drop"] >= 2


async def test_fail_after(acs_faults: LocalAzureProcess) -> None:
    acs_faults.set_faults(fail_after={"calls": 2, "status": 503})
    statuses = [(await call(acs_faults, "POST", "/identities", {})).status for _ in range(4)]
    assert statuses == [201, 201, 503, 503]
    acs_faults.set_faults(fail_after={"calls": 1, "status": "drop"})
    assert (await call(acs_faults, "POST", "/identities", {})).status == 201
    with pytest.raises(aiohttp.ClientError):
        await call(acs_faults, "POST", "/identities", {})
    acs_faults.set_faults(fail_after=None)
    assert (await call(acs_faults, "POST", "/identities", {})).status == 201


async def test_latency(acs_faults: LocalAzureProcess) -> None:
    acs_faults.set_faults(latency_ms=300)
    started = time.monotonic()
    response = await call(acs_faults, "POST", "/identities", {})
    assert response.status == 201
    assert time.monotonic() - started >= 0.3


async def test_stats_count_operations_and_outcomes(acs_faults: LocalAzureProcess) -> None:
    acs_faults.reset_stats()
    identity = (await call(acs_faults, "POST", "/identities", {})).json()["identity"]["id"]
    await call(acs_faults, "POST", f"/identities/{identity}/:issueAccessToken", {"scopes": ["chat"]})
    await call(acs_faults, "POST", f"/identities/{identity}/:issueAccessToken", {"scopes": ["nope"]})
    await call(acs_faults, "POST", f"/identities/{identity}/:revokeAccessTokens")
    await call(acs_faults, "DELETE", f"/identities/{identity}")
    await call(acs_faults, "DELETE", f"/identities/{identity}")
    await call(acs_faults, "POST", "/identities", {}, auth="none")
    stats = acs_faults.stats()
    assert stats["operations"]["create"] == {"201": 1, "401": 1}
    assert stats["operations"]["issue"] == {"200": 1, "400": 1}
    assert stats["operations"]["revoke"] == {"204": 1}
    assert stats["operations"]["delete"] == {"204": 1, "404": 1}
    assert stats["total"] == 7 and stats["since"] <= stats["now"]


@pytest.mark.parametrize("with_token", [False, True])
async def test_a_create_whose_caller_hung_up_is_finished(acs_faults: LocalAzureProcess, with_token: bool) -> None:
    """ACS does not undo a create because the caller went away (a killed instance, a client timeout):
    once the request has arrived, the identity is made. The stand-in must not flatter callers by dropping it."""
    acs_faults.set_faults(latency_ms=800)
    acs_faults.reset_stats()
    before = {identity["id"] for identity in acs_faults.identities()}
    body = {"createTokenWithScopes": ["voip"]} if with_token else {}
    hung_up = asyncio.ensure_future(call(acs_faults, "POST", "/identities", body))
    await asyncio.sleep(0.3)  # arrived, still "creating"
    hung_up.cancel()  # the caller closes its connection
    with contextlib.suppress(asyncio.CancelledError):
        await hung_up
    await asyncio.sleep(1.0)
    made = {identity["id"] for identity in acs_faults.identities()} - before
    assert len(made) == 1, made
    assert acs_faults.stats()["operations"]["create"] == {"201": 1}


async def test_fail_after_only_the_operations_it_names(acs_faults: LocalAzureProcess) -> None:
    """A spurious 404 on revoke alone: creates pass and do not count towards `calls`."""
    acs_faults.set_faults(fail_after={"calls": 0, "status": 404, "ops": ["revoke"]})
    created = await call(acs_faults, "POST", "/identities", {})
    assert created.status == 201
    identity = created.json()["identity"]["id"]
    revoked = await call(acs_faults, "POST", f"/identities/{identity}/:revokeAccessTokens", None)
    assert revoked.status == 404
    assert (await call(acs_faults, "DELETE", f"/identities/{identity}", None)).status == 204
    with pytest.raises(urllib.error.HTTPError):
        acs_faults.set_faults(fail_after={"calls": 0, "ops": ["fly"]})
