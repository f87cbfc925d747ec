"""`POST /{tenant}/oauth2[/v2.0]/token`: the authorization_code, refresh_token and client_credentials grants.

Form-urlencoded in, JSON out (`Cache-Control: no-store`), errors as Entra's OAuth error JSON. MSAL
sends it from a browser as a CORS simple request (entra/app.py adds the CORS headers).
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from local_azure.entra.client_auth import authenticate
from local_azure.entra.clients import ClientApp
from local_azure.entra.grants import pkce_matches
from local_azure.entra.issuance import app_token_response, user_token_response
from local_azure.entra.oauth_errors import OAuthError, invalid_client, invalid_grant, invalid_request
from local_azure.entra.scopes import MS_GRAPH, app_access, delegated_access
from local_azure.entra.service import ENTRA, EntraService

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _required(form: dict[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise invalid_request(900144, f"The request body must contain the following parameter: '{name}'.")
    return value


async def token(request: web.Request, path_tenant: str, v2: bool) -> web.StreamResponse:
    service = request.app[ENTRA]
    try:
        if request.content_type != "application/x-www-form-urlencoded":
            raise invalid_request(900144, "The request body must be application/x-www-form-urlencoded and "
                                          "contain the following parameter: 'grant_type'.")  # fmt: skip
        form = {name: value for name, value in (await request.post()).items() if isinstance(value, str)}
        grant_type = _required(form, "grant_type")
        audiences = service.token_endpoints(path_tenant)
        client = authenticate(form, request.headers.get("Authorization"), service.clients, audiences)
        if grant_type == "authorization_code":
            body = _authorization_code(service, client, form)
        elif grant_type == "refresh_token":
            body = _refresh_token(service, client, form, v2)
        elif grant_type == "client_credentials":
            body = _client_credentials(service, client, form, service.tenant(path_tenant), v2)
        else:
            raise OAuthError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type "
                                                              f"'{grant_type}'.")  # fmt: skip
    except OAuthError as error:
        return error.response(request)
    return web.json_response(body, headers=NO_STORE)


def _authorization_code(service: EntraService, client: ClientApp, form: dict[str, str]) -> dict[str, object]:
    now = service.clock()
    code = service.codes.redeem(_required(form, "code"), now)  # consumed whatever follows: no second try
    if code.grant.client_id != client.client_id:
        raise invalid_grant(70000, "The provided authorization code was issued to a different client.")
    if form.get("redirect_uri") != code.redirect_uri:
        raise invalid_grant(500112, "The reply address does not match the reply address provided when "
                                    "requesting the authorization code.")  # fmt: skip
    verifier = form.get("code_verifier")
    if not verifier:
        raise invalid_request(501481, "The Code_Verifier does not match the code_challenge supplied in the "
                                      "authorization request: no code_verifier was sent.")  # fmt: skip
    if not pkce_matches(verifier, code.code_challenge):
        raise invalid_grant(50148, "The code_verifier does not match the code_challenge supplied in the "
                                   "authorization request for PKCE.")  # fmt: skip
    grant = code.grant
    refresh = service.refresh_tokens.issue(grant, now) if grant.access.offline else None
    return user_token_response(service.signer, grant, code.nonce, refresh, now)


def _refresh_token(service: EntraService, client: ClientApp, form: dict[str, str], v2: bool) -> dict[str, object]:
    now = service.clock()
    grant = service.refresh_tokens.redeem(_required(form, "refresh_token"), client.client_id, now)
    if form.get("scope") or form.get("resource"):
        asked = delegated_access(form.get("scope"), form.get("resource"))
        if asked.resource != MS_GRAPH or asked.scopes != ("User.Read",):  # a resource named: switch to it
            grant = dataclasses.replace(grant, access=dataclasses.replace(asked, oidc=grant.access.oidc | asked.oidc))
    grant = dataclasses.replace(grant, v2=v2)
    return user_token_response(service.signer, grant, None, service.refresh_tokens.issue(grant, now), now)


def _client_credentials(
    service: EntraService, client: ClientApp, form: dict[str, str], tenant: str, v2: bool
) -> dict[str, object]:
    if client.public:
        raise invalid_client(7000218, "The request body must contain the following parameter: "
                                      "'client_assertion' or 'client_secret'.")  # fmt: skip
    access = app_access(form.get("scope"), form.get("resource"))
    return app_token_response(service.signer, client, tenant, access, v2, service.clock())
