"""Pure functions of caller auth: the auth settings and the claim rules (no I/O, plain unit tests)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from token_service.auth.authenticator import CallerAuthenticator
from token_service.auth.claims import principal_from_claims
from token_service.auth.issuers import is_entra_issuer
from token_service.auth.keys import discovery_url
from token_service.errors import MissingOid, Unauthenticated
from token_service.settings import Settings, SettingsError

V1 = "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
V2 = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"
BASE = {
    "COMMUNICATION_SERVICES_ENDPOINT": "https://example.communication.azure.com",
    "AzureWebJobsStorage": "UseDevelopmentStorage=true;AccountName=devstoreaccount1",
    "AUTH_ISSUER": f"{V1}, {V2}",
    "AUTH_AUDIENCE": "api://acs-token-service,5d1b0c7e-3f2a-4b8c-9d6e-0a1b2c3d4e5f",
    "CLEANUP_SCHEDULE": "0 0 3 * * *",
    "CLEANUP_REPAIR_SCHEDULE": "0 30 * * * *",
}


def test_issuers_and_audiences_are_exact_lists() -> None:
    settings = Settings.from_env(BASE)
    assert settings.auth.issuers == (V1, V2)  # v1 keeps its trailing slash
    assert settings.auth.audiences == ("api://acs-token-service", "5d1b0c7e-3f2a-4b8c-9d6e-0a1b2c3d4e5f")
    assert settings.auth.required_scope == "access_as_user"


@pytest.mark.parametrize(
    ("name", "value"),
    [("AUTH_ISSUER", "not-a-url"), ("AUTH_ISSUER", f"{V2},ftp://x"), ("AUTH_ISSUER", " , "),
     ("AUTH_AUDIENCE", ""), ("AUTH_REQUIRED_SCOPE", "two scopes"), ("AUTH_REQUIRED_SCOPE", 'quo"te')],
)  # fmt: skip
def test_bad_auth_settings_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({**BASE, name: value})


def test_discovery_url_drops_the_terminating_slash_only_for_the_well_known_path() -> None:
    assert discovery_url(V1) == V1 + ".well-known/openid-configuration"
    assert discovery_url(V2) == V2 + "/.well-known/openid-configuration"


def _claims(**overrides: Any) -> dict[str, Any]:
    claims = {"iss": V2, "tid": "t1", "oid": "o1", "sub": "s1", "azp": "c", "scp": "access_as_user", "ver": "2.0"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_user_keys_are_namespaced_and_tenant_qualified() -> None:
    assert principal_from_claims(_claims()).user_key == "oid:t1:o1"
    assert principal_from_claims(_claims(tid="t2")).user_key == "oid:t2:o1"
    assert principal_from_claims(_claims()).object_id == "o1"  # bare, for the Teams exchange
    other = "https://issuer.example/"
    assert principal_from_claims(_claims(iss=other, oid=None)).user_key == f"sub:{other}:s1"
    assert principal_from_claims(_claims(iss=other, tid=None)).user_key == f"sub:{other}:s1"  # oid, no tenant


@pytest.mark.parametrize("issuer", [V1, V2])
@pytest.mark.parametrize("missing", ["oid", "tid"])
def test_entra_tokens_need_oid_and_tid(issuer: str, missing: str) -> None:
    """sub is pairwise and oid comes only with the profile scope: no sub: fallback for Entra."""
    with pytest.raises(MissingOid, match="profile"):
        principal_from_claims(_claims(iss=issuer, **{missing: None}))


@pytest.mark.parametrize(
    ("issuer", "entra"),
    [
        (V1, True),
        (V2, True),
        ("https://login.microsoftonline.us/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", True),
        ("https://login.partner.microsoftonline.cn/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", True),
        ("https://sts.chinacloudapi.cn/72f988bf-86f1-41af-91ab-2d7cd011db47/", True),
        ("https://LOGIN.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", True),
        ("https://contoso.ciamlogin.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", True),
        ("http://127.0.0.1:8123/issuer/72f988bf-86f1-41af-91ab-2d7cd011db47/", True),  # the local stand-in
        ("http://127.0.0.1:8123/issuer/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", True),
        ("https://127.0.0.1:7445/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", True),  # its own HTTPS origin
        ("https://localhost:7445/72f988bf-86f1-41af-91ab-2d7cd011db47/", True),
        ("http://127.0.0.1:8123/issuer/not-entra/v2.0", False),
        ("https://127.0.0.1:7445/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/extra", False),
        ("https://login.microsoftonline.com.evil.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", False),
        ("https://contoso.b2clogin.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/", False),
        ("https://accounts.google.com", False),
        ("https://issuer.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", False),
    ],
)
def test_which_issuers_are_entra(issuer: str, entra: bool) -> None:
    assert is_entra_issuer(issuer) is entra


@pytest.mark.parametrize(
    ("overrides", "app_only"),
    [({}, False), ({"idtyp": "app", "roles": ["r"], "scp": None}, True), ({"roles": ["r"], "scp": None}, True),
     ({"idtyp": "user", "roles": ["r"], "scp": None}, False), ({"appid": "c", "azp": None, "ver": "1.0"}, False)],
)  # fmt: skip
def test_app_only_detection(overrides: dict[str, Any], app_only: bool) -> None:
    assert principal_from_claims(_claims(**overrides)).app_only is app_only


@pytest.mark.parametrize(
    "overrides",
    [{"azp": None}, {"nonce": "n"}, {"scp": None}, {"scp": "", "roles": []}, {"oid": None, "sub": None},
     {"oid": "x" * 300, "sub": None}],
)  # fmt: skip
def test_not_access_tokens_or_no_user(overrides: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated):
        principal_from_claims(_claims(**overrides))


def _platform_principal(header: bytes | str) -> Any:
    """App Service Authentication's X-MS-CLIENT-PRINCIPAL, judged with platform auth on (no I/O: the
    header needs no keys)."""
    encoded = header if isinstance(header, str) else base64.b64encode(header).decode()
    authenticator = CallerAuthenticator([V2], ["api://acs-token-service"], platform_auth_enabled=True)
    return asyncio.run(authenticator.authenticate({"x-ms-client-principal": encoded}))


def test_a_client_principal_is_read_into_jwt_claims() -> None:
    claims = [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "o-1"},
        {"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": "t-1"},
        {"typ": "http://schemas.microsoft.com/identity/claims/scope", "val": "access_as_user"},
        {"typ": "azp", "val": "client-1"},
        {"typ": "roles", "val": "TokenService.Admin"},
    ]
    principal = _platform_principal(json.dumps({"claims": claims}).encode())
    assert principal.user_key == "oid:t-1:o-1" and principal.roles == {"TokenService.Admin"}


@pytest.mark.parametrize(
    "header",
    [
        b"[" * 1000,  # RecursionError in json.loads: a 500
        b'{"claims": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"claims": [{"typ": ["oid"], "val": "o"}]}',  # an unhashable claim type: TypeError
        b'{"claims": [{"typ": "oid", "val": {"x": 1}}]}',
        b'{"claims": [{"typ": "azp", "val": "c"}], "role_typ": ["roles"]}',
        b'{"claims": "none"}',
        b"[]",
        b"\xff\xfe",
        "not base64 ***",
    ],
)
def test_a_malformed_client_principal_is_unauthenticated_not_a_crash(header: bytes | str) -> None:
    with pytest.raises(Unauthenticated):
        _platform_principal(header)
