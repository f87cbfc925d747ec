"""Who is calling: bearer JWTs from the configured OIDC issuer(s), validated here with PyJWT.

Checked: `alg` pinned to RS256; `iss` exactly one of AUTH_ISSUER (looked up before any key fetch, so
a foreign issuer never makes us fetch anything); signature against that issuer's keys (auth_keys);
`aud` one of AUTH_AUDIENCE; expiry and not-before. Then the claim rules (auth_claims): access tokens
only, the user key, app-only vs user. Route rules (scope, role) are the blueprints' call on the
Principal. Optionally App Service Authentication's X-MS-CLIENT-PRINCIPAL, only where the platform
guarantees it.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Mapping, Sequence

import jwt

from token_service.auth.claims import Principal, principal_from_claims
from token_service.auth.keys import TIMEOUT_SECONDS, KeyRing
from token_service.errors import NoToken, Unauthenticated
from token_service.json_text import loads_shallow

__all__ = ["CallerAuthenticator", "Principal", "ValidatedTokens"]

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60
# Validated tokens, by their exact text: a client sends the same bearer until it expires, and the RSA
# check is the costliest step of a request. An entry lives until the token's exp (plus the leeway
# decode allows) but never longer than five minutes; a different byte anywhere is a different key, so
# nothing forged can hit.
VALIDATED_TTL_SECONDS = 300
VALIDATED_MAX_ENTRIES = 4096
CLIENT_PRINCIPAL_DEPTH = 3  # {"claims": [{"typ": ..., "val": ...}]}
OID_CLAIM_URI = "http://schemas.microsoft.com/identity/claims/objectidentifier"
# App Service Authentication names some claims by URI: the JWT claim each stands for.
CLIENT_PRINCIPAL_CLAIMS = {
    OID_CLAIM_URI: "oid",
    "http://schemas.microsoft.com/identity/claims/tenantid": "tid",
    "http://schemas.microsoft.com/identity/claims/scope": "scp",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": "sub",
}


class ValidatedTokens:
    """Principals of recently validated bearer tokens (bounded; oldest entries dropped first)."""

    def __init__(self, ttl_seconds: float = VALIDATED_TTL_SECONDS, max_entries: int = VALIDATED_MAX_ENTRIES) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: dict[str, tuple[float, Principal]] = {}

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if time.time() >= entry[0]:
            del self._entries[token]
            return None
        return entry[1]

    def put(self, token: str, principal: Principal, expires_at: float) -> None:
        until = min(expires_at + LEEWAY_SECONDS, time.time() + self._ttl)
        if len(self._entries) >= self._max:
            now = time.time()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            while len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
        self._entries[token] = (until, principal)


class CallerAuthenticator:
    def __init__(
        self,
        issuers: Sequence[str],
        audiences: Sequence[str],
        platform_auth_enabled: bool = False,
        *,
        keys_timeout_seconds: float = TIMEOUT_SECONDS,
    ) -> None:
        self._issuers = frozenset(issuers)
        self._audiences = list(audiences)
        self._platform_auth_enabled = platform_auth_enabled
        self.keys = KeyRing(list(issuers), timeout_seconds=keys_timeout_seconds)
        self._validated = ValidatedTokens()

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        authorization = headers.get("authorization") or headers.get("Authorization")
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("use 'Authorization: Bearer <token>'")
            return await self._from_jwt(token.strip())
        principal = headers.get("x-ms-client-principal") or headers.get("X-MS-CLIENT-PRINCIPAL")
        if principal and self._platform_auth_enabled:
            return _from_client_principal(principal)
        raise NoToken("no bearer token")

    async def _from_jwt(self, token: str) -> Principal:
        known = self._validated.get(token)
        if known is not None:
            return known
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise Unauthenticated("the bearer token is not a JWT") from error
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated("the token's algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the token has no key id")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise Unauthenticated("the token is from another issuer")
        key = await self.keys.key_for(issuer, kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audiences,
                issuer=issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthenticated("the token has expired") from error
        except jwt.ImmatureSignatureError as error:
            raise Unauthenticated("the token is not valid yet") from error
        except jwt.InvalidAudienceError as error:
            raise Unauthenticated("the token is for another audience") from error
        except jwt.InvalidIssuerError as error:
            raise Unauthenticated("the token is from another issuer") from error
        except jwt.PyJWTError as error:
            raise Unauthenticated("the token is not valid") from error
        principal = principal_from_claims(claims)
        self._validated.put(token, principal, float(claims["exp"]))
        return principal


def _from_client_principal(encoded: str) -> Principal:
    """App Service Authentication's header: base64 JSON with a claims list (typ/val pairs), put back into
    JWT claim names and judged by the same rules as a bearer token."""
    try:
        data = loads_shallow(base64.b64decode(encoded, validate=False), CLIENT_PRINCIPAL_DEPTH)
        pairs = [(c["typ"], c["val"]) for c in data.get("claims", [])]
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as error:
        raise Unauthenticated("X-MS-CLIENT-PRINCIPAL is malformed") from error
    role_type = data.get("role_typ", "roles")
    if not isinstance(role_type, str) or not all(isinstance(typ, str) for typ, _ in pairs):
        raise Unauthenticated("X-MS-CLIENT-PRINCIPAL is malformed (claim types are strings)")
    claims: dict[str, object] = {}
    roles: list[str] = []
    for typ, val in pairs:
        if typ in (role_type, "roles"):
            roles.append(val)
        else:
            claims.setdefault(CLIENT_PRINCIPAL_CLAIMS.get(typ, typ), val)
    if roles:
        claims["roles"] = roles
    return principal_from_claims(claims)
