"""The state of the issuer's OAuth endpoints: who signs, which clients exist, and what was granted."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from local_azure.entra.clients import ClientRegistry
from local_azure.entra.discovery import MULTI_TENANT_ALIASES
from local_azure.entra.grants import Codes, Expiring, RefreshTokens, Sessions, User
from local_azure.entra.issuance import Signer


@dataclass
class EntraService:
    signer: Signer
    home_tenant: str
    clients: ClientRegistry
    codes: Codes = field(default_factory=Codes)
    refresh_tokens: RefreshTokens = field(default_factory=RefreshTokens)
    sessions: Sessions = field(default_factory=Sessions)
    pending: Expiring[Any] = field(default_factory=Expiring)  # sign-ins waiting for the user's pick
    clock: Callable[[], float] = time.time

    @property
    def origin(self) -> str:
        return self.signer.origin

    def tenant(self, path_tenant: str) -> str:
        """The tenant a request signs into: the path's, or the home tenant for `common`-style aliases."""
        lowered = path_tenant.lower()
        return self.home_tenant if lowered in MULTI_TENANT_ALIASES else lowered

    def token_endpoints(self, path_tenant: str) -> tuple[str, str]:
        """The audiences a client assertion may name: this tenant's v2 and v1 token endpoints."""
        base = f"{self.origin}/{path_tenant}/oauth2"
        return f"{base}/v2.0/token", f"{base}/token"


def local_user(username: str, tenant: str, admin_role: str | None) -> User:
    """A user of the local tenant, by name: the same name always has the same `oid`."""
    oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"local_azure-user:{tenant}:{username.lower()}"))
    login = username if "@" in username else f"{username}@acs-local.test"
    return User(login, oid, username, (admin_role,) if admin_role else ())


ENTRA = web.AppKey("entra_service", EntraService)
