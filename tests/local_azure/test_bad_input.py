"""Bad input is answered as ACS answers it: 400 (404 for unknown ids) with a CommunicationErrorResponse."""

from __future__ import annotations

import pytest

from local_azure.process import LocalAzureProcess
from tests.local_azure.helpers import call

pytestmark = pytest.mark.usefixtures("acs_faults")


async def new_identity(process: LocalAzureProcess) -> str:
    return str((await call(process, "POST", "/identities", {})).json()["identity"]["id"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"createTokenWithScopes": ["chat", "admin"]}, "InvalidScope"),
        ({"createTokenWithScopes": "chat"}, "ValidationError"),
        ({"createTokenWithScopes": [1]}, "ValidationError"),
        ({"createTokenWithScopes": ["chat"], "expiresInMinutes": 59}, "ValidationError"),
        ({"createTokenWithScopes": ["chat"], "expiresInMinutes": 1441}, "ValidationError"),
        ({"createTokenWithScopes": ["chat"], "expiresInMinutes": "60"}, "ValidationError"),
        ({"createTokenWithScopes": ["chat"], "expiresInMinutes": 60.5}, "ValidationError"),
        ({"createTokenWithScopes": ["chat"], "expiresInMinutes": True}, "ValidationError"),
        ([], "InvalidRequestBody"),
        ("chat", "InvalidRequestBody"),
    ],
)
async def test_create_rejects(local_azure: LocalAzureProcess, body: object, code: str) -> None:
    response = await call(local_azure, "POST", "/identities", body)
    assert response.status == 400, response.text
    assert response.error_code == code


@pytest.mark.parametrize("raw", [b"{", b"not json", b'{"scopes": [}', b"\xff\xfe"])
async def test_malformed_json(local_azure: LocalAzureProcess, raw: bytes) -> None:
    response = await call(local_azure, "POST", "/identities", raw_body=raw)
    assert response.status == 400 and response.error_code == "InvalidRequestBody"
    identity = await new_identity(local_azure)
    response = await call(local_azure, "POST", f"/identities/{identity}/:issueAccessToken", raw_body=raw)
    assert response.status == 400 and response.error_code == "InvalidRequestBody"


async def test_empty_scopes_creates_identity_without_token(local_azure: LocalAzureProcess) -> None:
    response = await call(local_azure, "POST", "/identities", {"createTokenWithScopes": []})
    assert response.status == 201
    assert set(response.json()) == {"identity"}
    response = await call(local_azure, "POST", "/identities")  # no body at all
    assert response.status == 201 and set(response.json()) == {"identity"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "ValidationError"),
        ({"scopes": ["voip", "telepathy"]}, "InvalidScope"),
        ({"scopes": "voip"}, "ValidationError"),
        ({"scopes": ["voip"], "expiresInMinutes": 0}, "ValidationError"),
        ({"scopes": ["voip"], "expiresInMinutes": 100000}, "ValidationError"),
        ({"scopes": ["voip"], "expiresInMinutes": None}, "ValidationError"),
        ({"scopes": ["voip"], "extra": 1}, None),
        (None, "InvalidRequestBody"),
    ],
)
async def test_issue_rejects(local_azure: LocalAzureProcess, body: object, code: str | None) -> None:
    identity = await new_identity(local_azure)
    response = await call(local_azure, "POST", f"/identities/{identity}/:issueAccessToken", body)
    if code is None:
        assert response.status == 200, response.text
    else:
        assert response.status == 400, response.text
        assert response.error_code == code


@pytest.mark.parametrize(
    "identity",
    [
        "nonsense",
        "8:acs:",
        "8:acs:00000000-0000-0000-0000-000000000000_00000001-0000-0000-0000-000000000000",
        "8:orgid:00000000-0000-0000-0000-000000000000",
        "8:acs:{resource}_not-a-guid",
        "{resource}_00000001-0000-0000-0000-000000000000",
    ],
)
@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("POST", "/:issueAccessToken", {"scopes": ["chat"]}),
        ("POST", "/:revokeAccessTokens", None),
        ("DELETE", "", None),
    ],
)
async def test_malformed_ids_are_400(
    local_azure: LocalAzureProcess, identity: str, method: str, suffix: str, body: object
) -> None:
    identity = identity.format(resource=local_azure.settings.acs_resource_id)
    response = await call(local_azure, method, f"/identities/{identity}{suffix}", body)
    assert response.status == 400, response.text
    assert response.error_code == "InvalidIdentity"


async def test_unknown_and_deleted_ids_are_404(local_azure: LocalAzureProcess) -> None:
    resource = local_azure.settings.acs_resource_id
    unknown = f"8:acs:{resource}_00000009-1234-5678-9abc-def012345678"
    deleted = await new_identity(local_azure)
    assert (await call(local_azure, "DELETE", f"/identities/{deleted}")).status == 204
    for identity in (unknown, deleted):
        for method, suffix, body in (
            ("POST", "/:issueAccessToken", {"scopes": ["chat"]}),
            ("POST", "/:revokeAccessTokens", None),
            ("DELETE", "", None),
        ):
            response = await call(local_azure, method, f"/identities/{identity}{suffix}", body)
            assert response.status == 404, (identity, suffix, response.text)
            assert response.error_code == "IdentityNotFound"


@pytest.mark.parametrize(
    ("api_version", "code"),
    [(None, "MissingApiVersionParameter"), ("2020-01-01", "UnsupportedApiVersion"), ("", "UnsupportedApiVersion")],
)
async def test_api_version_is_required_and_checked(
    local_azure: LocalAzureProcess, api_version: str | None, code: str
) -> None:
    response = await call(local_azure, "POST", "/identities", {}, api_version=api_version)
    assert response.status == 400 and response.error_code == code


@pytest.mark.parametrize("api_version", ["2021-03-07", "2022-06-01", "2022-10-01", "2023-10-01"])
async def test_supported_api_versions(local_azure: LocalAzureProcess, api_version: str) -> None:
    response = await call(local_azure, "POST", "/identities", {}, api_version=api_version)
    assert response.status == 201


async def test_unknown_route_and_method_have_error_bodies(local_azure: LocalAzureProcess) -> None:
    response = await call(local_azure, "GET", "/nothing-here")
    assert response.status == 404 and response.error_code
    response = await call(local_azure, "PUT", "/identities")
    assert response.status == 405 and response.error_code


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "ValidationError"),
        ({"token": "x", "appId": "a"}, 400, "ValidationError"),
        ({"token": 1, "appId": "a", "userId": "u"}, 400, "ValidationError"),
        ({"token": "not-a-jwt", "appId": "a", "userId": "u"}, 401, "InvalidAccessToken"),
    ],
)
async def test_exchange_rejects(local_azure: LocalAzureProcess, body: object, status: int, code: str) -> None:
    response = await call(local_azure, "POST", "/teamsUser/:exchangeAccessToken", body)
    assert response.status == status and response.error_code == code


async def test_exchange_token_checks(local_azure: LocalAzureProcess) -> None:
    teams = local_azure.settings.teams_audience
    cases = [
        (local_azure.mint_user_token("u", oid="u", aud=teams, appid="a", lifetime_seconds=-10), 401, "TokenExpired"),
        (local_azure.mint_user_token("u", oid="u", appid="a"), 401, "InvalidAccessToken"),
        (local_azure.mint_user_token("u", oid="u", aud=teams, appid="other"), 400, "AppIdMismatch"),
        (local_azure.mint_user_token("u", oid="someone-else", aud=teams, appid="a"), 400, "UserIdMismatch"),
    ]
    for token, status, code in cases:
        response = await call(
            local_azure, "POST", "/teamsUser/:exchangeAccessToken", {"token": token, "appId": "a", "userId": "u"}
        )
        assert (response.status, response.error_code) == (status, code)
