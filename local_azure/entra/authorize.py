"""`/{tenant}/oauth2[/v2.0]/authorize`, the sign-in form it shows (`POST /{tenant}/login`) and `logout`.

Authorization code flow with mandatory PKCE (S256). An unknown client or an unregistered redirect URI
gets an error page (sending anything to an untrusted URI would leak it); every later refusal goes back
to the redirect URI with `error`, `error_description` and `state`, in the requested response mode.
prompt=none succeeds only with the issuer's session cookie (else `login_required`); with a session and
no prompt the user is signed in at once, as Entra does for a single account. Unknown parameters are
ignored, as Entra ignores most of what MSAL adds.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from local_azure.entra.clients import ClientApp
from local_azure.entra.grants import CodeGrant, Grant, User
from local_azure.entra.issuance import client_info
from local_azure.entra.issuer import ADMIN_ROLE
from local_azure.entra.oauth_errors import OAuthError, invalid_request
from local_azure.entra.scopes import Access, delegated_access
from local_azure.entra.service import ENTRA, EntraService, local_user
from local_azure.entra.signin_page import error_page, form_post, sign_in_page, signed_out_page

SESSION_COOKIE = "local_azure_session"
RESPONSE_MODES = ("query", "fragment", "form_post")
_USERNAME = re.compile(r"^[A-Za-z0-9._@+\-]{1,64}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")  # base64url of a SHA-256 digest


@dataclass(frozen=True)
class AuthorizeRequest:
    """A validated authorization request: what the code will be bound to and where the answer goes."""

    client: ClientApp
    redirect_uri: str
    response_mode: str
    state: str | None
    nonce: str | None
    code_challenge: str
    access: Access
    prompt: str | None
    login_hint: str
    tenant: str
    path_tenant: str
    client_info: bool
    v2: bool


def _answer(request: AuthorizeRequest, fields: dict[str, str]) -> web.Response:
    if request.state is not None:
        fields["state"] = request.state
    if request.response_mode == "form_post":
        return form_post(request.redirect_uri, fields)
    encoded = urllib.parse.urlencode(fields, quote_via=urllib.parse.quote)
    if request.response_mode == "fragment":
        location = f"{request.redirect_uri}#{encoded}"
    else:
        location = request.redirect_uri + ("&" if "?" in request.redirect_uri else "?") + encoded
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _refuse(request: AuthorizeRequest, error: OAuthError) -> web.Response:
    return _answer(request, {"error": error.error, "error_description": str(error.body()["error_description"])})


def _parse(
    service: EntraService, params: Mapping[str, str], path_tenant: str, v2: bool
) -> AuthorizeRequest | web.Response:
    """The request, or the error page for what may not be answered through the redirect URI."""
    client = service.clients.get(params.get("client_id"))
    if client is None:
        return error_page(700016, f"Application with identifier '{params.get('client_id', '')}' was not found "
                                  "in the directory 'local_azure'.")  # fmt: skip
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        return error_page(50011, f"The redirect URI '{redirect_uri}' specified in the request does not match "
                                 f"the redirect URIs configured for the application '{client.client_id}'.")  # fmt: skip
    mode = params.get("response_mode") or "query"
    if mode not in RESPONSE_MODES:
        return error_page(900144, f"response_mode must be one of {', '.join(RESPONSE_MODES)}.")
    return AuthorizeRequest(
        client=client, redirect_uri=redirect_uri, response_mode=mode, state=params.get("state"),
        nonce=params.get("nonce"), code_challenge=params.get("code_challenge", ""),
        access=delegated_access(None), prompt=params.get("prompt"), login_hint=params.get("login_hint", ""),
        tenant=service.tenant(path_tenant), path_tenant=path_tenant, client_info=params.get("client_info") == "1",
        v2=v2,
    )  # fmt: skip


def _validate(params: Mapping[str, str], request: AuthorizeRequest) -> AuthorizeRequest:
    if params.get("response_type") != "code":
        raise OAuthError("unsupported_response_type", 700054, "response_type must be 'code' (the authorization "
                                                              "code flow with PKCE).")  # fmt: skip
    if not request.code_challenge:
        raise invalid_request(9002325, "Proof Key for Code Exchange is required for cross-origin authorization "
                                       "code redemption.")  # fmt: skip
    if params.get("code_challenge_method") != "S256":
        raise invalid_request(501491, "Invalid code_challenge_method: only S256 is supported.")
    if not _CHALLENGE.match(request.code_challenge):
        raise invalid_request(501491, "Invalid size of code_challenge parameter.")
    access = delegated_access(params.get("scope"), params.get("resource"))
    if request.v2 and "openid" not in access.oidc:
        raise invalid_request(900144, "The 'openid' scope is required.")
    return dataclasses.replace(request, access=access)


async def authorize(request: web.Request, path_tenant: str, v2: bool) -> web.StreamResponse:
    service = request.app[ENTRA]
    params = dict(request.query) if request.method == "GET" else {
        name: value for name, value in (await request.post()).items() if isinstance(value, str)
    }  # fmt: skip
    parsed = _parse(service, params, path_tenant, v2)
    if isinstance(parsed, web.Response):
        return parsed
    try:
        auth = _validate(params, parsed)
    except OAuthError as error:
        return _refuse(parsed, error)
    session = service.sessions.user(request.cookies.get(SESSION_COOKIE), service.clock())
    if session is not None and session[1] != auth.tenant:
        session = None
    if auth.prompt == "none" and session is None:
        return _refuse(auth, OAuthError("login_required", 50058, "A silent sign-in request was sent but no user "
                                                                 "is signed in."))  # fmt: skip
    if session is not None and auth.prompt in (None, "", "none"):
        return _complete(service, auth, session[0])
    return _show_sign_in(service, auth, auth.login_hint or (session[0].name if session else ""))


def _show_sign_in(service: EntraService, auth: AuthorizeRequest, username: str, error: str = "") -> web.Response:
    handle = service.pending.put(auth, service.clock(), 600)
    action = f"/{urllib.parse.quote(auth.path_tenant)}/login"
    return sign_in_page(action, handle, auth.client.name, ADMIN_ROLE, username, error)


def _complete(service: EntraService, auth: AuthorizeRequest, user: User) -> web.Response:
    now = service.clock()
    grant = Grant(auth.client.client_id, auth.tenant, user, auth.access, auth.v2)
    code = service.codes.issue(CodeGrant(grant, auth.redirect_uri, auth.code_challenge, auth.nonce), now)
    fields = {"code": code}
    if auth.client_info:
        fields["client_info"] = client_info(user, auth.tenant)
    return _answer(auth, fields)


async def sign_in(request: web.Request, path_tenant: str, v2: bool) -> web.StreamResponse:
    """The sign-in form's POST: start a session for the picked user, then answer the pending request."""
    service = request.app[ENTRA]
    form = {name: value for name, value in (await request.post()).items() if isinstance(value, str)}
    now = service.clock()
    auth = service.pending.get(form.get("request", ""), now)
    if not isinstance(auth, AuthorizeRequest):
        return error_page(50058, "The sign-in request is unknown or expired; start the sign-in again.")
    username = (form.get("preset") or form.get("username") or "").strip()
    if not _USERNAME.match(username):
        return _show_sign_in(service, auth, username, "Enter a user name: 1 to 64 letters, digits or ._@+-")
    service.pending.drop(form["request"])
    user = local_user(username, auth.tenant, ADMIN_ROLE if form.get("admin") else None)
    response = _complete(service, auth, user)
    handle = service.sessions.start(user, auth.tenant, now)
    response.set_cookie(SESSION_COOKIE, handle, secure=True, httponly=True, samesite="None", path="/")
    return response


async def logout(request: web.Request, path_tenant: str, v2: bool) -> web.StreamResponse:
    """End the session; go back to `post_logout_redirect_uri` when a client registered it."""
    service = request.app[ENTRA]
    service.sessions.end(request.cookies.get(SESSION_COOKIE))
    target = request.query.get("post_logout_redirect_uri", "")
    registered = any(target in client.redirect_uris for client in service.clients.clients.values())
    if target and registered:
        state = request.query.get("state")
        location = target + (
            ("&" if "?" in target else "?") + urllib.parse.urlencode({"state": state}) if state else ""
        )
        response: web.Response = web.Response(status=302, headers={"Location": location})
    else:
        response = signed_out_page()
    response.del_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="None")
    return response
