"""Authorization code + PKCE against the local issuer, over HTTPS with real sockets: the happy path
(sign-in page, code, tokens, rotating refresh, SSO, logout) and each refusal a SPA can run into."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from typing import Any

import jwt
import pytest

from local_azure.process import LocalAzureProcess
from tests.local_azure.entra_flow import Flow, answer_fields, pkce_pair


def _claims(token: str) -> dict[str, Any]:
    result: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return result


@pytest.fixture
def flow(local_azure: LocalAzureProcess) -> Flow:
    return Flow(local_azure)


def test_code_flow_issues_entra_shaped_tokens(flow: Flow) -> None:
    settings = flow.local_azure.settings
    verifier, challenge = pkce_pair()
    page = flow.authorize(code_challenge=challenge)
    assert "Sign in" in page.text and 'id="preset-alice"' in page.text
    answer = flow.sign_in(page, "alice", admin=True)
    fields = answer_fields(answer)
    assert answer.headers["Location"].startswith(flow.redirect_uri + "#")
    assert fields["state"] == "state-1" and fields["code"]
    assert "Secure" in answer.headers["Set-Cookie"] and "HttpOnly" in answer.headers["Set-Cookie"]
    response = flow.redeem(fields["code"], verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == settings.api_scope
    assert body["expires_in"] == 3600 and body["ext_expires_in"] == 3600 and body["refresh_token"]
    assert response.headers["Access-Control-Allow-Origin"] == "*" and response.headers["Cache-Control"] == "no-store"
    access, id_token = _claims(body["access_token"]), _claims(body["id_token"])
    assert access["iss"] == settings.issuer and access["aud"] == settings.api_client_id
    assert access["azp"] == settings.spa_client_id and access["scp"] == "access_as_user"
    assert access["roles"] == ["TokenService.Admin"] and "nonce" not in access
    assert id_token["aud"] == settings.spa_client_id and id_token["nonce"] == "nonce-1"
    assert id_token["oid"] == access["oid"] and id_token["preferred_username"] == "alice@acs-local.test"
    padded = body["client_info"] + "=" * (-len(body["client_info"]) % 4)
    info = json.loads(base64.urlsafe_b64decode(padded))
    assert info == {"uid": access["oid"], "utid": settings.issuer_tenant_id}
    # The same name is the same user; without the admin box, no role.
    code, verifier = flow.code(prompt="login")
    again = _claims(flow.redeem(code, verifier).json()["access_token"])
    assert again["oid"] == access["oid"] and "roles" not in again


def test_refresh_tokens_rotate(flow: Flow) -> None:
    code, verifier = flow.code()
    first = flow.redeem(code, verifier).json()["refresh_token"]
    second = flow.token(
        grant_type="refresh_token",
        refresh_token=first,
        scope="api://acs-token-service/access_as_user openid offline_access",
    )
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["refresh_token"] != first and _claims(body["access_token"])["scp"] == "access_as_user"
    assert "nonce" not in _claims(body["id_token"])
    reused = flow.token(grant_type="refresh_token", refresh_token=first)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant", reused.text
    assert reused.json()["error_codes"] == [70043]
    assert flow.token(grant_type="refresh_token", refresh_token=body["refresh_token"]).status_code == 200


def test_a_code_is_single_use(flow: Flow) -> None:
    code, verifier = flow.code()
    assert flow.redeem(code, verifier).status_code == 200
    again = flow.redeem(code, verifier)
    assert (
        again.status_code == 400 and again.json()["error"] == "invalid_grant" and again.json()["error_codes"] == [54005]
    )


def test_a_wrong_verifier_is_refused_and_burns_the_code(flow: Flow) -> None:
    code, verifier = flow.code()
    wrong = flow.redeem(code, pkce_pair()[0])
    assert (
        wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant" and wrong.json()["error_codes"] == [50148]
    )
    assert flow.redeem(code, verifier).json()["error_codes"] == [54005]  # no second guess


def test_a_missing_verifier_is_refused(flow: Flow) -> None:
    code, _ = flow.code()
    missing = flow.redeem(code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_a_code_is_bound_to_its_redirect_uri(flow: Flow) -> None:
    code, verifier = flow.code()
    other = flow.local_azure.settings.spa_redirect_uris.split(",")[1]
    refused = flow.redeem(code, verifier, redirect_uri=other)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client(flow: Flow) -> None:
    settings = flow.local_azure.settings
    code, verifier = flow.code()
    refused = flow.token(
        grant_type="authorization_code",
        code=code,
        code_verifier=verifier,
        redirect_uri=flow.redirect_uri,
        client_id=settings.operator_client_id,
        client_secret=settings.operator_client_secret,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),  # PKCE is mandatory
        ({"code_challenge_method": "plain"}, "invalid_request"),  # S256 only
        ({"code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "api://acs-token-service/nope openid"}, "invalid_scope"),
        (
            {"scope": "api://acs-token-service/access_as_user https://graph.microsoft.com/User.Read openid"},
            "invalid_scope",
        ),
        ({"prompt": "none"}, "login_required"),  # no session cookie
    ],
)
def test_authorize_refusals_go_back_to_the_redirect_uri(
    flow: Flow, overrides: dict[str, str | None], error: str
) -> None:
    fields = answer_fields(flow.authorize(**overrides))
    assert fields["error"] == error and fields["state"] == "state-1" and "code" not in fields
    assert fields["error_description"].startswith("AADSTS")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"redirect_uri": "http://localhost:9/elsewhere"}, 50011),
        ({"client_id": "00000000-0000-0000-0000-000000000001"}, 700016),
    ],
)
def test_untrusted_redirects_get_an_error_page_not_a_redirect(flow: Flow, overrides: dict[str, str], code: int) -> None:
    page = flow.authorize(**overrides)
    assert page.status_code == 400 and "Location" not in page.headers and f"AADSTS{code}" in page.text


def test_prompt_none_with_a_session_signs_in_silently_and_logout_ends_it(flow: Flow) -> None:
    flow.code()  # signs alice in: the session cookie is set
    silent = answer_fields(flow.authorize(prompt="none"))
    assert silent["code"] and silent["state"] == "state-1"
    sso = answer_fields(flow.authorize())  # no prompt: single sign-on
    assert sso["code"]
    target = flow.redirect_uri
    out = flow.session.get(
        f"{flow.authority}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": target, "state": "s"},
        allow_redirects=False,
    )
    assert out.status_code == 302 and out.headers["Location"] == f"{target}?state=s"
    assert answer_fields(flow.authorize(prompt="none"))["error"] == "login_required"
    elsewhere = flow.session.get(
        f"{flow.authority}/oauth2/v2.0/logout",
        params={"post_logout_redirect_uri": "https://example.com/"},
        allow_redirects=False,
    )
    assert elsewhere.status_code == 200 and "signed out" in elsewhere.text


@pytest.mark.parametrize("mode", ["query", "form_post"])
def test_response_modes(flow: Flow, mode: str) -> None:
    verifier, challenge = pkce_pair()
    answer = flow.sign_in(flow.authorize(response_mode=mode, code_challenge=challenge))
    if mode == "query":
        fields = answer_fields(answer)
        assert answer.headers["Location"].startswith(flow.redirect_uri + "?")
    else:
        assert answer.status_code == 200
        action = re.search(r'action="([^"]+)"', answer.text)
        assert action and action[1] == flow.redirect_uri
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', answer.text))
    assert fields["state"] == "state-1"
    assert flow.redeem(fields["code"], verifier).status_code == 200


def test_the_sign_in_page_refuses_a_bad_user_name_and_escapes_what_it_shows(flow: Flow) -> None:
    page = flow.authorize(login_hint="<script>alert(1)</script>")
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    again = flow.sign_in(page, username="no spaces allowed")
    assert again.status_code == 400 and 'id="error"' in again.text


def test_paths_are_case_insensitive_and_v1_authorize_takes_a_resource(flow: Flow) -> None:
    settings = flow.local_azure.settings
    verifier, challenge = pkce_pair()
    params = {
        "client_id": settings.spa_client_id,
        "response_type": "code",
        "redirect_uri": flow.redirect_uri,
        "resource": settings.app_id_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = f"{settings.issuer_origin}/{settings.issuer_tenant_id}/OAuth2/Authorize?" + urllib.parse.urlencode(params)
    fields = answer_fields(flow.sign_in(flow.session.get(url, allow_redirects=False)))
    response = flow.session.post(
        f"{settings.issuer_origin}/{settings.issuer_tenant_id}/oauth2/token",
        data={
            "client_id": settings.spa_client_id,
            "grant_type": "authorization_code",
            "code": fields["code"],
            "redirect_uri": flow.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["expires_in"] == "3600" and body["resource"] == settings.app_id_uri
    assert _claims(body["id_token"])["iss"] == settings.issuer_v1
