"""The local tenant's app registrations: which clients may sign in, where they may be sent back, how
confidential clients prove who they are, and which app roles of our API they were granted.

Two clients, as a project that uses this service registers them in Entra: the demo SPA (public client,
redirect URIs of the pages `make run` serves, PKCE required) and an operator daemon (client credentials
with a secret or a certificate, granted the API's admin app role). Redirect URIs match exactly, as
Entra matches them for the SPA platform.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from local_azure.entra.issuer import ADMIN_ROLE, DEFAULT_CLIENT_APP_ID, OPERATOR_CLIENT_ID
from local_azure.signing import b64url

DEFAULT_SPA_PORTS = (7071, 7072)  # `make run`: the app (devhost) and the demo page beside `func start`


def spa_redirect_uris(ports: Iterable[int]) -> tuple[str, ...]:
    """The demo page's redirect URIs on the given ports, by both loopback names."""
    return tuple(f"http://{name}:{port}/demo/" for port in ports for name in ("localhost", "127.0.0.1"))


@dataclass(frozen=True)
class ClientApp:
    """One app registration. A client without secret and certificate is public (a SPA)."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...] = ()
    secret: str | None = None
    certificates: tuple[x509.Certificate, ...] = ()
    app_roles: tuple[str, ...] = ()  # application permissions on our API (admin-consented)

    @property
    def public(self) -> bool:
        return self.secret is None and not self.certificates

    def secret_matches(self, presented: str) -> bool:
        return self.secret is not None and hmac.compare_digest(self.secret.encode(), presented.encode())

    def certificate_for(self, x5t: str | None, x5t_s256: str | None) -> x509.Certificate | None:
        """The registered certificate an assertion's header names (SHA-1 `x5t` or SHA-256 `x5t#S256`);
        base64url with or without padding (MSAL Python pads)."""
        x5t, x5t_s256 = (value.rstrip("=") if isinstance(value, str) else None for value in (x5t, x5t_s256))
        for certificate in self.certificates:
            if x5t_s256 and x5t_s256 == b64url(certificate.fingerprint(hashes.SHA256())):
                return certificate
            if x5t and x5t == b64url(certificate.fingerprint(hashes.SHA1())):  # noqa: S303 - Entra's x5t
                return certificate
        return None


@dataclass(frozen=True)
class ClientRegistry:
    clients: dict[str, ClientApp] = field(default_factory=dict)

    def get(self, client_id: str | None) -> ClientApp | None:
        return self.clients.get((client_id or "").lower())


def local_clients(
    redirect_uris: Sequence[str], operator_secret: str, operator_certificate: x509.Certificate
) -> ClientRegistry:
    spa = ClientApp(DEFAULT_CLIENT_APP_ID, "ACS token service demo (SPA)", redirect_uris=tuple(redirect_uris))
    operator = ClientApp(
        OPERATOR_CLIENT_ID,
        "ACS token service operator (daemon)",
        secret=operator_secret,
        certificates=(operator_certificate,),
        app_roles=(ADMIN_ROLE,),
    )
    return ClientRegistry({app.client_id: app for app in (spa, operator)})


def certificate_sha1(certificate: x509.Certificate) -> str:
    """The hex SHA-1 thumbprint, as the Azure portal shows it and MSAL's `thumbprint` takes it."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
