"""What the issuer remembers between requests: sign-in sessions, pending sign-ins, authorization codes
and refresh tokens. In memory (a restart signs everyone out), bounded (expired entries are dropped on
every write), and pure: every method takes `now`, so expiry is tested without waiting.

Codes are single use, short-lived and bound to client, redirect URI and PKCE challenge; refresh tokens
rotate (redeeming one retires it). A reused code or refresh token is refused, never silently honoured.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from local_azure.entra.oauth_errors import invalid_grant
from local_azure.entra.scopes import Access

CODE_LIFETIME = 300.0  # Entra: about 10 minutes; shorter here so an expired code is easy to reach
SPA_REFRESH_LIFETIME = 24 * 3600.0  # Entra's fixed lifetime for SPA refresh tokens
SESSION_LIFETIME = 12 * 3600.0
PENDING_LIFETIME = 600.0
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 §4.1


@dataclass(frozen=True)
class User:
    """A signed-in user of the local tenant."""

    username: str
    oid: str
    name: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    """What one sign-in allowed one client to get: the user, tenant and access, and how it was asked."""

    client_id: str
    tenant: str
    user: User
    access: Access
    v2: bool = True


@dataclass(frozen=True)
class CodeGrant:
    grant: Grant
    redirect_uri: str
    code_challenge: str
    nonce: str | None


T = TypeVar("T")


@dataclass
class Expiring(Generic[T]):
    """Opaque random handles to values, each with an expiry."""

    entries: dict[str, tuple[T, float]] = field(default_factory=dict)

    def put(self, value: T, now: float, lifetime: float, handle: str | None = None) -> str:
        self.entries = {key: entry for key, entry in self.entries.items() if entry[1] > now}
        handle = handle or secrets.token_urlsafe(32)
        self.entries[handle] = (value, now + lifetime)
        return handle

    def get(self, handle: str, now: float) -> T | None:
        entry = self.entries.get(handle)
        return entry[0] if entry and entry[1] > now else None

    def drop(self, handle: str) -> None:
        self.entries.pop(handle, None)


def pkce_matches(verifier: str, challenge: str) -> bool:
    """S256 (RFC 7636 §4.6): BASE64URL(SHA256(verifier)) == challenge."""
    if not _VERIFIER.match(verifier):
        return False
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(digest, challenge)


@dataclass
class Codes:
    """Authorization codes: redeemed once, within CODE_LIFETIME; a second redemption is refused."""

    lifetime: float = CODE_LIFETIME
    live: Expiring[CodeGrant] = field(default_factory=Expiring)
    redeemed: Expiring[bool] = field(default_factory=Expiring)

    def issue(self, code: CodeGrant, now: float) -> str:
        return self.live.put(code, now, self.lifetime)

    def redeem(self, handle: str, now: float) -> CodeGrant:
        entry = self.live.entries.pop(handle, None)
        if entry is None:
            if self.redeemed.get(handle, now):
                raise invalid_grant(54005, "OAuth2 Authorization code was already redeemed, please retry with "
                                           "a new valid code or use an existing refresh token.")  # fmt: skip
            raise invalid_grant(9002313, "Invalid request. Request is malformed or invalid: the code is unknown.")
        code, expires_at = entry
        self.redeemed.put(True, now, self.lifetime, handle)
        if expires_at <= now:
            raise invalid_grant(70008, "The provided authorization code or refresh token has expired due to "
                                       "inactivity. Send a new interactive authorization request.")  # fmt: skip
        return code


@dataclass
class RefreshTokens:
    """Rotating refresh tokens: redeeming one retires it, and the retired one is refused afterwards."""

    lifetime: float = SPA_REFRESH_LIFETIME
    live: Expiring[Grant] = field(default_factory=Expiring)
    retired: Expiring[bool] = field(default_factory=Expiring)

    def issue(self, grant: Grant, now: float) -> str:
        return self.live.put(grant, now, self.lifetime)

    def redeem(self, handle: str, client_id: str, now: float) -> Grant:
        grant = self.live.get(handle, now)
        if grant is None:
            if self.retired.get(handle, now):
                raise invalid_grant(70043, "The refresh token has already been redeemed; refresh tokens rotate, "
                                           "use the one returned with it.")  # fmt: skip
            raise invalid_grant(9002313, "Invalid request. Request is malformed or invalid: the refresh token "
                                         "is unknown or expired.")  # fmt: skip
        if grant.client_id.lower() != client_id.lower():
            raise invalid_grant(70000, "The refresh token was issued to a different client.")
        self.live.drop(handle)
        self.retired.put(True, now, self.lifetime, handle)
        return grant


@dataclass
class Sessions:
    """Sign-in sessions behind the issuer's cookie: prompt=none succeeds only with one."""

    live: Expiring[tuple[User, str]] = field(default_factory=Expiring)

    def start(self, user: User, tenant: str, now: float) -> str:
        return self.live.put((user, tenant), now, SESSION_LIFETIME)

    def user(self, handle: str | None, now: float) -> tuple[User, str] | None:
        return self.live.get(handle, now) if handle else None

    def end(self, handle: str | None) -> None:
        if handle:
            self.live.drop(handle)
