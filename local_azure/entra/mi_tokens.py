"""Managed-identity access tokens (Entra ID shaped RS256 JWTs) and their verification by resources.

The issuer is stable across restarts (`https://sts.windows.net/<tenant>/`, as Entra v1 tokens say), so
a client's cached token keeps working when local_azure restarts with the same data dir.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from local_azure.material import ManagedIdentity
from local_azure.signing import SigningKey

COMMUNICATION = "https://communication.azure.com"
STORAGE = "https://storage.azure.com"
MONITOR = "https://monitor.azure.com"  # Application Insights ingestion with Entra auth (appinsights.py)
RESOURCES = (COMMUNICATION, STORAGE, MONITOR)


def normalise_resource(resource: str) -> str | None:
    """The audience for a requested resource (trailing slash and `/.default` ignored), or None if unknown."""
    base = resource.removesuffix("/.default").rstrip("/")
    return base if base in RESOURCES else None


@dataclass(frozen=True)
class MiToken:
    access_token: str
    expires_on: int


class MiTokens:
    """Mints tokens for this process's managed identities and verifies them for a resource."""

    def __init__(self, key: SigningKey, tenant_id: str, lifetime_seconds: int) -> None:
        self._key = key
        self.tenant_id = tenant_id
        self.issuer = f"https://sts.windows.net/{tenant_id}/"
        self.lifetime_seconds = lifetime_seconds

    def mint(self, identity: ManagedIdentity, audience: str, now: float | None = None) -> MiToken:
        iat = int(time.time() if now is None else now)
        exp = iat + self.lifetime_seconds
        claims = {
            "aud": audience,
            "iss": self.issuer,
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "appid": identity.client_id,
            "oid": identity.object_id,
            "sub": identity.object_id,
            "tid": self.tenant_id,
            "idtyp": "app",
            "uti": uuid.uuid4().hex,
            "ver": "1.0",
        }
        return MiToken(self._key.sign(claims, x5t=True), exp)

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """Claims of a valid token for `audience`; raises jwt.PyJWTError otherwise."""
        return jwt.decode(
            token,
            self._key.public_key,
            algorithms=["RS256"],
            audience=audience,
            issuer=self.issuer,
            options={"require": ["exp", "nbf", "iat", "aud", "iss"]},
        )
