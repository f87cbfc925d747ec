"""What a validated token's claims make of the caller: is it an access token, whose, and what may it do.

The access-token rule (Entra's token references): an access token names the client it was issued to
(`azp` in v2, `appid` in v1; `client_id` in RFC 9068 tokens of other issuers) and carries delegated
scopes (`scp`) or app roles (`roles`). An ID token names no client (its `aud` is the client), has no
`scp`, and may carry a `nonce`: whatever its audience, it is refused as "not an access token".
That also refuses an ID token of a user holding the admin role, which "roles without scp" alone would
have taken for an app-only token.

App-only tokens: `idtyp` = `app` (Entra's optional claim), or, where `idtyp` is absent, `roles`
without `scp`. They may call admin routes (with the admin role), never user routes.

The user key, namespaced so that no claim can pose as another (they are hashed in the registry):
  `oid:<tid>:<oid>`  where the token has both `oid` and `tid` (Entra: `oid` is unique per tenant);
                     Entra tokens must have both (issuers.py says why and which issuers are Entra);
  `sub:<iss>:<sub>`  otherwise, for issuers that are not Entra (`sub` is unique per issuer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from token_service.auth.issuers import is_entra_issuer
from token_service.errors import Forbidden, InsufficientScope, MissingOid, Unauthenticated, UserTokenRequired

MAX_CLAIM_LENGTH = 256


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. `object_id` is the bare `oid` (the Teams exchange needs it as is)."""

    user_key: str
    object_id: str | None
    roles: frozenset[str]
    scopes: frozenset[str] = frozenset()
    app_only: bool = False

    def require_role(self, role: str) -> None:
        if role not in self.roles:
            raise Forbidden(f"this needs the '{role}' app role")

    def require_user(self, scope: str) -> None:
        """User routes act for the signed-in user: a delegated token holding `scope`."""
        if self.app_only:
            raise UserTokenRequired("this route acts for a signed-in user; an app-only token cannot call it")
        if scope not in self.scopes:
            raise InsufficientScope(f"the token lacks the delegated scope '{scope}'")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and len(value) <= MAX_CLAIM_LENGTH else None


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Apply the access-token rule and derive the user key; Unauthenticated says what is wrong."""
    if "nonce" in claims:
        raise Unauthenticated("an ID token is not an access token (it has a nonce)")
    if not any(_text(claims.get(name)) for name in ("azp", "appid", "client_id")):
        raise Unauthenticated("an ID token is not an access token (it names no client: azp/appid)")
    scp = claims.get("scp")
    scopes = frozenset(scp.split()) if isinstance(scp, str) else frozenset()
    raw_roles = claims.get("roles")
    roles = frozenset(r for r in raw_roles if isinstance(r, str)) if isinstance(raw_roles, list) else frozenset()
    if not scopes and not roles:
        raise Unauthenticated("the token carries neither delegated scopes (scp) nor app roles (roles)")
    idtyp = claims.get("idtyp")
    app_only = idtyp == "app" or (idtyp is None and not scopes)
    oid, tid, sub, iss = (_text(claims.get(name)) for name in ("oid", "tid", "sub", "iss"))
    if oid and tid:
        user_key = f"oid:{tid}:{oid}"
    elif iss is None or is_entra_issuer(iss):  # no iss (a client principal may lack it): the strict reading
        raise MissingOid(
            "Entra ID tokens must carry the oid and tid claims, which Entra adds to a user's access token "
            "only when the client asks for the 'profile' scope: request 'profile' beside this API's scope"
        )
    elif sub and iss:
        user_key = f"sub:{iss}:{sub}"
    else:
        raise Unauthenticated("the token names no user (oid with tid, or sub)")
    return Principal(user_key, oid, roles, scopes, app_only)
