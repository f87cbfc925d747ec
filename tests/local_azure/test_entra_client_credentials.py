"""The issuer's HTTPS origin speaks Entra to unmodified clients: MSAL Python and azure-identity get
app-only tokens with client credentials (secret, certificate), over TLS trusted through the dev CA."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import Any

import jwt
import msal
import pytest
from azure.identity import CertificateCredential, ClientSecretCredential

from local_azure.process import LocalAzureProcess

APP_SCOPE = "api://acs-token-service/.default"


def _verified(local_azure: LocalAzureProcess, token: str) -> dict[str, Any]:
    """The token's claims, checked as the app checks them: signature, exact v2 issuer, audience."""
    settings = local_azure.settings
    jwks = local_azure.request("GET", settings.issuer_jwks_url)
    key = jwt.PyJWK(jwks["keys"][0]).key
    claims: dict[str, Any] = jwt.decode(
        token, key, algorithms=["RS256"], audience=settings.api_client_id, issuer=settings.issuer
    )
    return claims


def _app_only(claims: dict[str, Any], local_azure: LocalAzureProcess) -> None:
    assert claims["azp"] == local_azure.settings.operator_client_id and claims["azpacr"] == "1"
    assert claims["idtyp"] == "app" and claims["roles"] == ["TokenService.Admin"] and "scp" not in claims
    assert claims["oid"] == claims["sub"] and claims["tid"] == local_azure.settings.issuer_tenant_id


def _msal_app(local_azure: LocalAzureProcess, credential: Any) -> msal.ConfidentialClientApplication:
    settings = local_azure.settings
    return msal.ConfidentialClientApplication(
        settings.operator_client_id,
        client_credential=credential,
        authority=settings.authority,
        instance_discovery=False,
        verify=settings.ca_cert_file,
    )


def test_msal_python_with_the_client_secret(local_azure: LocalAzureProcess) -> None:
    result = _msal_app(local_azure, local_azure.settings.operator_client_secret).acquire_token_for_client([APP_SCOPE])
    assert result["token_type"] == "Bearer" and result["expires_in"] == 3600, result.get("error_description")
    _app_only(_verified(local_azure, result["access_token"]), local_azure)


def test_msal_python_with_the_certificate(local_azure: LocalAzureProcess) -> None:
    """MSAL signs a client assertion (PS256, x5t#S256) with the key; the issuer checks it against the cert."""
    settings = local_azure.settings
    with open(settings.operator_key_file) as key, open(settings.operator_certificate_file) as cert:
        credential = {"private_key": key.read(), "public_certificate": cert.read()}
    result = _msal_app(local_azure, credential).acquire_token_for_client([APP_SCOPE])
    assert "access_token" in result, result.get("error_description")
    _app_only(_verified(local_azure, result["access_token"]), local_azure)


def test_msal_python_with_a_wrong_secret_gets_entras_error(local_azure: LocalAzureProcess) -> None:
    result = _msal_app(local_azure, "not-the-secret").acquire_token_for_client([APP_SCOPE])
    assert result["error"] == "invalid_client" and result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: ")
    assert {"timestamp", "trace_id", "correlation_id"} <= set(result)


def test_azure_identity_client_secret_credential(local_azure: LocalAzureProcess) -> None:
    settings = local_azure.settings
    credential = ClientSecretCredential(
        settings.issuer_tenant_id,
        settings.operator_client_id,
        settings.operator_client_secret,
        authority=settings.issuer_origin,
        disable_instance_discovery=True,
    )
    _app_only(_verified(local_azure, credential.get_token(APP_SCOPE).token), local_azure)


def test_azure_identity_certificate_credential(local_azure: LocalAzureProcess) -> None:
    settings = local_azure.settings
    with open(settings.operator_key_file, "rb") as key, open(settings.operator_certificate_file, "rb") as cert:
        pem = key.read() + cert.read()
    credential = CertificateCredential(
        settings.issuer_tenant_id,
        settings.operator_client_id,
        certificate_data=pem,
        authority=settings.issuer_origin,
        disable_instance_discovery=True,
    )
    _app_only(_verified(local_azure, credential.get_token(APP_SCOPE).token), local_azure)


def _post(
    local_azure: LocalAzureProcess, url: str, form: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    )
    context = ssl.create_default_context(cafile=local_azure.settings.ca_cert_file)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def test_client_secret_basic_on_the_v1_endpoint_with_mixed_case_paths(local_azure: LocalAzureProcess) -> None:
    """Entra matches paths case-insensitively; v1 answers with string numbers and names the resource."""
    settings = local_azure.settings
    url = f"{settings.issuer_origin}/{settings.issuer_tenant_id.upper()}/OAuth2/Token"
    basic = base64.b64encode(f"{settings.operator_client_id}:{settings.operator_client_secret}".encode()).decode()
    form = {"grant_type": "client_credentials", "resource": settings.app_id_uri}
    status, body, headers = _post(local_azure, url, form, {"Authorization": f"Basic {basic}"})
    assert status == 200, body
    assert (
        body["expires_in"] == "3600"
        and body["resource"] == settings.app_id_uri
        and headers["Cache-Control"] == "no-store"
    )
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["ver"] == "2.0" and claims["roles"] == ["TokenService.Admin"]  # our API takes v2 tokens


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        ({"grant_type": "client_credentials", "scope": APP_SCOPE}, 401, "invalid_client", 7000218),
        (
            {"grant_type": "client_credentials", "scope": "api://acs-token-service/access_as_user"},
            400,
            "invalid_scope",
            1002012,
        ),
        ({"grant_type": "client_credentials", "scope": "api://unknown/.default"}, 400, "invalid_resource", 500011),
        ({"grant_type": "password", "scope": APP_SCOPE}, 400, "unsupported_grant_type", 70003),
        ({"scope": APP_SCOPE}, 400, "invalid_request", 900144),
    ],
)
def test_client_credentials_refusals(
    local_azure: LocalAzureProcess, form: dict[str, str], status: int, error: str, code: int
) -> None:
    settings = local_azure.settings
    secret = {"client_secret": settings.operator_client_secret} if code != 7000218 else {}
    url = f"{settings.authority}/oauth2/v2.0/token"
    got, body, headers = _post(local_azure, url, {"client_id": settings.operator_client_id, **secret, **form})
    assert (got, body["error"], body["error_codes"]) == (status, error, [code]), body
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert settings.operator_client_secret not in json.dumps(body)


def test_a_public_client_cannot_use_client_credentials(local_azure: LocalAzureProcess) -> None:
    settings = local_azure.settings
    form = {"client_id": settings.spa_client_id, "grant_type": "client_credentials", "scope": APP_SCOPE}
    got, body, _ = _post(local_azure, f"{settings.authority}/oauth2/v2.0/token", form)
    assert (got, body["error"]) == (401, "invalid_client")
