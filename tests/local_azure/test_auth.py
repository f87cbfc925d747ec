"""Data-plane authentication: forged or stale HMAC signatures and wrong or expired bearers are 401."""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import urllib.request

import pytest

from local_azure.acs.hmac_auth import content_hash
from local_azure.process import LocalAzureProcess
from tests.local_azure.helpers import call, rfc1123

pytestmark = pytest.mark.usefixtures("acs_faults")


def mi_token(process: LocalAzureProcess, resource: str) -> str:
    query = f"?api-version=2019-08-01&resource={resource}"
    request = urllib.request.Request(process.settings.identity_endpoint + query)
    request.add_header("X-IDENTITY-HEADER", process.settings.identity_header)
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["access_token"])


async def test_correct_hmac_is_accepted(local_azure: LocalAzureProcess) -> None:
    response = await call(local_azure, "POST", "/identities", {"createTokenWithScopes": ["chat"]})
    assert response.status == 201, response.text


async def test_signature_over_encoded_and_decoded_path_is_accepted(local_azure: LocalAzureProcess) -> None:
    created = (await call(local_azure, "POST", "/identities", {})).json()["identity"]["id"]
    for path in (
        f"/identities/{created}/:issueAccessToken",
        f"/identities/{created.replace(':', '%3A')}/%3AissueAccessToken",
    ):
        response = await call(local_azure, "POST", path, {"scopes": ["voip"]})
        assert response.status == 200, (path, response.text)


async def test_tampered_signature(local_azure: LocalAzureProcess) -> None:
    other_key = base64.b64encode(secrets.token_bytes(64)).decode()
    response = await call(local_azure, "POST", "/identities", {}, key=other_key)
    assert response.status == 401 and response.error_code == "Denied"


async def test_stale_date(local_azure: LocalAzureProcess) -> None:
    stale = rfc1123(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    response = await call(local_azure, "POST", "/identities", {}, date=stale)
    assert response.status == 401 and response.error_code == "Denied"
    future = rfc1123(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16))
    assert (await call(local_azure, "POST", "/identities", {}, date=future)).status == 401
    recent = rfc1123(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=14))
    assert (await call(local_azure, "POST", "/identities", {}, date=recent)).status == 201


async def test_body_hash_mismatch(local_azure: LocalAzureProcess) -> None:
    response = await call(
        local_azure, "POST", "/identities", {"createTokenWithScopes": ["chat"]}, body_hash=content_hash(b"{}")
    )
    assert response.status == 401 and response.error_code == "Denied"


async def test_signed_body_swapped_in_transit(local_azure: LocalAzureProcess) -> None:
    """Signature and hash cover `{}`, but another body is sent."""
    signed_hash = content_hash(b"{}")
    response = await call(
        local_azure, "POST", "/identities", raw_body=b'{"createTokenWithScopes":["voip"]}', body_hash=signed_hash
    )
    assert response.status == 401


async def test_no_auth(local_azure: LocalAzureProcess) -> None:
    response = await call(local_azure, "POST", "/identities", {}, auth="none")
    assert response.status == 401 and response.error_code == "Denied"
    response = await call(
        local_azure, "POST", "/identities", {}, auth="as-given", headers={"Authorization": "Basic eDp5"}
    )
    assert response.status == 401


async def test_bearer_for_wrong_audience(local_azure: LocalAzureProcess) -> None:
    storage = mi_token(local_azure, "https://storage.azure.com")
    response = await call(
        local_azure, "POST", "/identities", {}, auth="as-given", headers={"Authorization": f"Bearer {storage}"}
    )
    assert response.status == 401 and response.error_code == "Denied"


async def test_bearer_from_another_issuer(local_azure: LocalAzureProcess) -> None:
    """A dev-issuer user token with the right audience is still not a managed-identity token."""
    forged = local_azure.mint_user_token("someone", aud="https://communication.azure.com")
    response = await call(
        local_azure, "POST", "/identities", {}, auth="as-given", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status == 401


async def test_communication_bearer_is_accepted(local_azure: LocalAzureProcess) -> None:
    token = mi_token(local_azure, "https://communication.azure.com/")
    response = await call(
        local_azure, "POST", "/identities", {}, auth="as-given", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 201


async def test_unauthenticated_calls_never_reach_handlers(local_azure: LocalAzureProcess) -> None:
    """Even a malformed body or unknown id answers 401 first when unauthenticated."""
    before = len(local_azure.identities())
    response = await call(local_azure, "POST", "/identities", raw_body=b"{not json", auth="none")
    assert response.status == 401
    response = await call(local_azure, "DELETE", "/identities/nonsense", auth="none")
    assert response.status == 401
    assert len(local_azure.identities()) == before
