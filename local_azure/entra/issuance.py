"""The token response of a granted request: access token, ID token, refresh token and client_info,
with Entra's field names and types. Claims come from issuer.mint_claims, the one place that knows
Entra's token shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from local_azure.entra.clients import ClientApp
from local_azure.entra.grants import Grant, User
from local_azure.entra.issuer import mint_claims, pairwise_sub
from local_azure.entra.scopes import Access
from local_azure.signing import SigningKey, b64url

ACCESS_LIFETIME = 3600


@dataclass(frozen=True)
class Signer:
    """Signs the tokens of one issuer origin."""

    key: SigningKey
    origin: str

    def sign(self, body: dict[str, Any], tenant: str, now: float) -> str:
        return self.key.sign(mint_claims(body, self.origin, tenant, now), x5t=True)


def client_info(user: User, tenant: str) -> str:
    """base64url `{"uid", "utid"}`: MSAL builds the home account id (`<uid>.<utid>`) from it."""
    return b64url(json.dumps({"uid": user.oid, "utid": tenant}, separators=(",", ":")).encode())


def _user_claims(user: User) -> dict[str, Any]:
    return {"oid": user.oid, "name": user.name, "preferred_username": user.username}


def user_access_token(signer: Signer, grant: Grant, now: float) -> str:
    access = grant.access
    ours = access.resource.accepts_v2
    body: dict[str, Any] = {
        **_user_claims(grant.user), "aud": access.resource.audience, "scp": access.scp, "tid": grant.tenant,
        "roles": list(grant.user.roles) if ours else [], "lifetime_seconds": ACCESS_LIFETIME,
    }  # fmt: skip
    body["azp" if ours else "appid"] = grant.client_id
    return signer.sign(body, grant.tenant, now)


def id_token(signer: Signer, grant: Grant, nonce: str | None, now: float) -> str:
    body: dict[str, Any] = {
        **_user_claims(grant.user), "kind": "id", "aud": grant.client_id, "tid": grant.tenant,
        "ver": "2.0" if grant.v2 else "1.0", "sub": pairwise_sub(grant.tenant, grant.user.oid, grant.client_id),
        "lifetime_seconds": ACCESS_LIFETIME,
    }  # fmt: skip
    if nonce is not None:
        body["nonce"] = nonce
    if grant.user.roles:
        body["roles"] = list(grant.user.roles)
    return signer.sign(body, grant.tenant, now)


def user_token_response(
    signer: Signer, grant: Grant, nonce: str | None, refresh_token: str | None, now: float
) -> dict[str, Any]:
    """The authorization_code / refresh_token grant's answer (v2 field types)."""
    response: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": grant.access.response_scope,
        "expires_in": ACCESS_LIFETIME,
        "ext_expires_in": ACCESS_LIFETIME,
        "access_token": user_access_token(signer, grant, now),
    }
    if refresh_token is not None:
        response["refresh_token"] = refresh_token
    if "openid" in grant.access.oidc or not grant.v2:
        response["id_token"] = id_token(signer, grant, nonce, now)
    response["client_info"] = client_info(grant.user, grant.tenant)
    return _versioned(response, grant.v2, grant.access, now)


def app_token_response(
    signer: Signer, client: ClientApp, tenant: str, access: Access, v2: bool, now: float
) -> dict[str, Any]:
    """The client_credentials grant's answer: an app-only token with the client's app roles on the resource."""
    body: dict[str, Any] = {"kind": "app", "aud": access.resource.audience, "tid": tenant,
                            "lifetime_seconds": ACCESS_LIFETIME}  # fmt: skip
    ours = access.resource.accepts_v2
    body["azp" if ours else "appid"] = client.client_id
    roles = list(client.app_roles) if ours else []
    if roles:
        body["roles"] = roles
    response = {
        "token_type": "Bearer",
        "expires_in": ACCESS_LIFETIME,
        "ext_expires_in": ACCESS_LIFETIME,
        "access_token": signer.sign(body, tenant, now),
    }
    return _versioned(response, v2, access, now)


def _versioned(response: dict[str, Any], v2: bool, access: Access, now: float) -> dict[str, Any]:
    """The v1 endpoints answer with strings for numbers, and name the resource and the expiry instant."""
    if v2:
        return response
    versioned = {name: str(value) if isinstance(value, int) else value for name, value in response.items()}
    versioned.update(expires_on=str(int(now) + ACCESS_LIFETIME), not_before=str(int(now)),
                     resource=access.resource.identifier)  # fmt: skip
    return versioned
