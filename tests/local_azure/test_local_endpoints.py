"""Identity listing, the preview GET of an identity, the dev issuer and the settings file."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import jwt
import pytest

from local_azure.process import LocalAzureProcess
from tests.local_azure.helpers import call

pytestmark = pytest.mark.usefixtures("acs_faults")
PREVIEW = "2025-04-01-preview"
SETTINGS_KEYS = {
    "pid", "acs_endpoint", "acs_connection_string", "acs_resource_id", "ca_cert_file", "identity_endpoint",
    "identity_header", "managed_identity_client_id", "issuer", "issuer_mint_url", "default_audience",
    "teams_audience", "acs_control_url", "acs_token_check_url", "acs_jwks_url", "acs_identities_url",
    "acs_stats_url", "mi_faults_url",
}  # fmt: skip


def test_settings_file(local_azure: LocalAzureProcess) -> None:
    settings = local_azure.settings
    assert SETTINGS_KEYS <= set(settings.to_json())
    assert settings.pid == local_azure.process.pid
    port = settings.acs_endpoint.rsplit(":", 1)[1]
    assert settings.acs_endpoint == f"https://127.0.0.1:{port}"
    assert settings.acs_connection_string.startswith(f"endpoint=https://127.0.0.1:{port}/;accesskey=")
    assert settings.acs_control_url == settings.acs_endpoint + "/_local/faults"
    assert Path(settings.ca_cert_file).is_absolute() and Path(settings.ca_cert_file).exists()
    assert settings.app_id_uri == "api://acs-token-service"
    assert settings.default_audience == settings.api_client_id  # v2 tokens: aud = the client id
    assert settings.teams_audience == "https://auth.msft.communication.azure.com"
    on_disk = json.loads((Path(settings.data_dir) / "settings.json").read_text())
    assert on_disk == settings.to_json()


async def test_get_identity_preview(local_azure: LocalAzureProcess) -> None:
    identity = (await call(local_azure, "POST", "/identities", {})).json()["identity"]["id"]
    response = await call(local_azure, "GET", f"/identities/{identity}", api_version=PREVIEW)
    assert response.status == 200 and response.json() == {"id": identity}
    await call(local_azure, "POST", f"/identities/{identity}/:issueAccessToken", {"scopes": ["chat"]})
    body = (await call(local_azure, "GET", f"/identities/{identity}", api_version=PREVIEW)).json()
    assert set(body) == {"id", "lastTokenIssuedAt"} and body["lastTokenIssuedAt"].endswith("+00:00")
    stable = await call(local_azure, "GET", f"/identities/{identity}")  # the stable versions have no GET
    assert stable.status == 405 and stable.headers["Allow"] == "DELETE"
    assert (await call(local_azure, "GET", f"/identities/{identity}", api_version="2024-01-01")).status == 400
    await call(local_azure, "DELETE", f"/identities/{identity}")
    assert (await call(local_azure, "GET", f"/identities/{identity}", api_version=PREVIEW)).status == 404


async def test_identities_listing(local_azure: LocalAzureProcess) -> None:
    kept = (await call(local_azure, "POST", "/identities", {"createTokenWithScopes": ["voip"]})).json()
    gone = (await call(local_azure, "POST", "/identities", {})).json()["identity"]["id"]
    await call(local_azure, "POST", f"/identities/{gone}/:revokeAccessTokens")
    await call(local_azure, "DELETE", f"/identities/{gone}")
    everything = {item["id"]: item for item in local_azure.identities()}
    live = {item["id"] for item in local_azure.identities(live_only=True)}
    kept_id = kept["identity"]["id"]
    assert everything[kept_id]["deleted"] is False and everything[kept_id]["lastTokenIssuedAt"]
    assert everything[kept_id]["revokedAt"] is None and everything[kept_id]["createdAt"]
    assert everything[gone]["deleted"] is True and everything[gone]["revokedAt"]
    assert kept_id in live and gone not in live


def test_issuer_discovery_keys_and_mint(local_azure: LocalAzureProcess) -> None:
    issuer = local_azure.settings.issuer
    discovery = local_azure.request("GET", f"{issuer}/.well-known/openid-configuration")
    assert discovery["issuer"] == issuer
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = local_azure.request("GET", discovery["jwks_uri"])
    token = local_azure.mint_user_token("user-1", oid="oid-1", roles=["admin"], name="Ada", lifetime_seconds=600)
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        token, jwt.PyJWK(key).key, algorithms=["RS256"], audience=local_azure.settings.api_client_id, issuer=issuer
    )
    assert (claims["sub"], claims["oid"], claims["roles"], claims["name"]) == ("user-1", "oid-1", ["admin"], "Ada")
    assert claims["exp"] - claims["iat"] == 600 and claims["nbf"] == claims["iat"]


def test_mint_options(local_azure: LocalAzureProcess) -> None:
    body = local_azure.request(
        "POST", local_azure.settings.issuer_mint_url, {"oid": "only-oid", "not_before_seconds": 60, "aud": "x"}
    )
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["oid"] == "only-oid" and claims["aud"] == "x" and claims["nbf"] == claims["iat"] + 60
    assert claims["sub"] not in ("", "only-oid")  # pairwise, as Entra makes it
    assert body["expires_on"] == claims["exp"]
    with pytest.raises(urllib.error.HTTPError) as error:
        local_azure.request("POST", local_azure.settings.issuer_mint_url, {"name": "no subject"})
    assert error.value.code == 400


def test_issuer_cors(local_azure: LocalAzureProcess) -> None:
    url = local_azure.settings.issuer_mint_url
    preflight = urllib.request.Request(
        url, method="OPTIONS", headers={"Origin": "http://127.0.0.1:9", "Access-Control-Request-Method": "POST"}
    )
    with urllib.request.urlopen(preflight, timeout=10) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    minted = urllib.request.Request(
        url, data=b'{"sub": "s"}', method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(minted, timeout=10) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"
