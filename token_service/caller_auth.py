"""Who is calling: bearer JWTs from the configured OIDC issuer, validated here with PyJWT.

Checked: signature against the issuer's JWKS (fetched via OIDC discovery, cached, refreshed at most
once a minute for an unknown `kid`), `alg` pinned to RS256, issuer, audience, expiry and not-before.
Optionally App Service Authentication's X-MS-CLIENT-PRINCIPAL, only where the platform guarantees it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

from token_service.errors import Forbidden, Unauthenticated
from token_service.transport import ca_bundle

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60
JWKS_TTL_SECONDS = 3600
JWKS_MIN_REFRESH_SECONDS = 60
# Validated tokens, by their exact text: a client sends the same bearer until it expires, and the RSA
# check is the costliest step of a request. An entry lives until the token's exp (plus the leeway
# decode allows) but never longer than the JWKS cache keeps a key, so it accepts nothing the key cache
# would not; a different byte anywhere is a different key, so nothing forged can hit.
VALIDATED_TTL_SECONDS = 300
VALIDATED_MAX_ENTRIES = 4096
OID_CLAIM_URI = "http://schemas.microsoft.com/identity/claims/objectidentifier"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. `user_key` is `oid` where present, else `sub`."""

    user_key: str
    object_id: str | None
    roles: frozenset[str]

    def require_role(self, role: str) -> None:
        if role not in self.roles:
            raise Forbidden(f"this needs the '{role}' app role")


class JwksCache:
    """The issuer's signing keys by kid, fetched through OIDC discovery."""

    def __init__(self, issuer: str, timeout_seconds: float = 5.0) -> None:
        self._discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str) -> Any:
        now = time.monotonic()
        if kid in self._keys and now - self._fetched_at < JWKS_TTL_SECONDS:
            return self._keys[kid]
        async with self._lock:
            stale = time.monotonic() - self._fetched_at >= JWKS_TTL_SECONDS
            may_refresh = time.monotonic() - self._fetched_at >= JWKS_MIN_REFRESH_SECONDS
            if stale or (kid not in self._keys and may_refresh):
                await self._refresh()
        if kid not in self._keys:
            raise Unauthenticated("the token's signing key is not one of the issuer's keys")
        return self._keys[kid]

    async def _refresh(self) -> None:
        try:
            connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=ca_bundle()))
            async with aiohttp.ClientSession(timeout=self._timeout, connector=connector) as session:
                async with session.get(self._discovery_url) as response:
                    response.raise_for_status()
                    jwks_uri = (await response.json(content_type=None))["jwks_uri"]
                async with session.get(jwks_uri) as response:
                    response.raise_for_status()
                    jwks = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError):
            if self._keys:
                return  # keep serving with the keys we have
            raise Unauthenticated("the token issuer's keys could not be fetched") from None
        keys: dict[str, Any] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("kid") and jwk.get("kty") == "RSA" and jwk.get("use", "sig") == "sig":
                keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
        self._keys = keys
        self._fetched_at = time.monotonic()


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
    def __init__(self, issuer: str, audience: str, platform_auth_enabled: bool = False) -> None:
        self._issuer = issuer.rstrip("/")
        self._audience = audience
        self._platform_auth_enabled = platform_auth_enabled
        self._jwks = JwksCache(issuer)
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
        raise Unauthenticated("no bearer token")

    async def _from_jwt(self, token: str) -> Principal:
        known = self._validated.get(token)
        if known is not None:
            return known
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthenticated("the token's algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the token has no key id")
        key = await self._jwks.key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated("the token is from another issuer") from None
        except jwt.PyJWTError:
            raise Unauthenticated("the token is not valid") from None
        principal = _principal(claims.get("oid"), claims.get("sub"), claims.get("roles"))
        self._validated.put(token, principal, float(claims["exp"]))
        return principal


def _principal(oid: Any, sub: Any, roles: Any) -> Principal:
    key = oid if isinstance(oid, str) and oid else sub
    if not isinstance(key, str) or not key or len(key) > 256:
        raise Unauthenticated("the token names no user (oid or sub)")
    role_set = frozenset(role for role in roles if isinstance(role, str)) if isinstance(roles, list) else frozenset()
    return Principal(key, oid if isinstance(oid, str) and oid else None, role_set)


def _from_client_principal(encoded: str) -> Principal:
    """App Service Authentication's header: base64 JSON with a claims list (typ/val pairs)."""
    try:
        data = json.loads(base64.b64decode(encoded, validate=False))
        claims = [(c["typ"], c["val"]) for c in data.get("claims", [])]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise Unauthenticated("X-MS-CLIENT-PRINCIPAL is malformed") from None
    role_type = data.get("role_typ", "roles")
    values: dict[str, str] = {}
    roles: list[str] = []
    for typ, val in claims:
        if typ in (role_type, "roles"):
            roles.append(val)
        else:
            values.setdefault(typ, val)
    oid = values.get("oid") or values.get(OID_CLAIM_URI)
    sub = values.get("sub") or values.get("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier")
    return _principal(oid, sub, roles)
