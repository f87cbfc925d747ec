"""The dev issuer speaks as Entra ID: two issuer identities, their discovery documents, one key set,
and the claim shapes of v1/v2 user access tokens, app-only tokens and ID tokens."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from local_azure.process import LocalAzureProcess


def _mint(local_azure: LocalAzureProcess, **body: Any) -> dict[str, Any]:
    token = local_azure.request("POST", local_azure.settings.issuer_mint_url, body)["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["typ"] == "JWT" and header["kid"] and header["x5t"]
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_discovery_names_exactly_its_issuer_and_serves_the_shared_keys(
    local_azure: LocalAzureProcess, version: str
) -> None:
    settings = local_azure.settings
    issuer = settings.issuer_v1 if version == "v1" else settings.issuer
    assert issuer.endswith("/") == (version == "v1")  # as sts.windows.net/<tid>/ and .../<tid>/v2.0
    document = local_azure.request("GET", issuer.rstrip("/") + "/.well-known/openid-configuration")
    assert document["issuer"] == issuer
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "end_session_endpoint"):
        assert document[field].startswith(settings.authority + "/"), field
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(document["grant_types_supported"])
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["subject_types_supported"] == ["pairwise"]
    jwks = local_azure.request("GET", document["jwks_uri"])
    assert jwks == local_azure.request("GET", settings.issuer_jwks_url)
    (key,) = jwks["keys"]
    assert {"kty", "use", "kid", "x5t", "n", "e", "x5c"} <= set(key) and key["kty"] == "RSA" and key["use"] == "sig"


def test_v2_user_access_token(local_azure: LocalAzureProcess) -> None:
    settings = local_azure.settings
    claims = _mint(local_azure, oid="oid-1")
    assert claims["iss"] == settings.issuer and claims["aud"] == settings.api_client_id
    assert claims["ver"] == "2.0" and claims["scp"] == "access_as_user" and claims["azp"]
    assert claims["tid"] == settings.issuer_tenant_id and claims["oid"] == "oid-1"
    assert claims["sub"] != "oid-1" and "appid" not in claims and "idtyp" not in claims
    # Asking for the API by its App ID URI still yields a v2 token for the client id, as Entra does.
    assert _mint(local_azure, oid="oid-1", aud=settings.app_id_uri)["aud"] == settings.api_client_id


def test_v1_user_access_token(local_azure: LocalAzureProcess) -> None:
    settings = local_azure.settings
    claims = _mint(local_azure, oid="oid-1", kind="v1")
    assert claims["iss"] == settings.issuer_v1 and claims["aud"] == settings.app_id_uri
    assert claims["ver"] == "1.0" and claims["scp"] == "access_as_user" and claims["appid"]
    assert "azp" not in claims and claims["sub"] != "oid-1"


@pytest.mark.parametrize("ver", ["1.0", "2.0"])
def test_app_only_token(local_azure: LocalAzureProcess, ver: str) -> None:
    claims = _mint(local_azure, kind="app", roles=["TokenService.Admin"], ver=ver)
    assert claims["ver"] == ver and claims["idtyp"] == "app" and claims["roles"] == ["TokenService.Admin"]
    assert "scp" not in claims and claims["oid"] == claims["sub"]
    assert claims["azp" if ver == "2.0" else "appid"]


def test_id_token(local_azure: LocalAzureProcess) -> None:
    settings = local_azure.settings
    claims = _mint(local_azure, oid="oid-1", kind="id", nonce="abc")
    assert claims["aud"] == settings.api_client_id and claims["iss"] == settings.issuer
    assert claims["nonce"] == "abc" and claims["sub"] != "oid-1"
    assert not {"scp", "azp", "appid", "idtyp"} & set(claims)


def test_teams_resource_gets_a_v1_token_with_appid(local_azure: LocalAzureProcess) -> None:
    """Microsoft's own resources take v1 tokens; the Teams exchange stand-in reads `appid`."""
    claims = _mint(local_azure, oid="o", aud=local_azure.settings.teams_audience, appid="app-1")
    assert claims["ver"] == "1.0" and claims["appid"] == "app-1" and claims["iss"] == local_azure.settings.issuer_v1


@pytest.mark.parametrize(
    "body", [{"oid": "o", "kind": "v3"}, {"oid": "o", "kind": "app", "ver": "3.0"}, {"kind": "v2"}, {"oid": 5}]
)
def test_bad_mint_requests(local_azure: LocalAzureProcess, body: dict[str, Any]) -> None:
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as error:
        local_azure.request("POST", local_azure.settings.issuer_mint_url, body)
    assert error.value.code == 400
