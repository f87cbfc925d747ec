"""Which trusted issuers are Entra ID: their user tokens must name the user by `oid` and `tid`.

Entra's `sub` is pairwise (one value per user per client application), and `oid` appears in a user's
access token only when the client asked for the `profile` scope. A `sub:` fallback for Entra would
turn one person into a user per client app and token version (with v1 and v2 issuers configured, up to
three identities and three rate windows). So Entra tokens without both claims are refused
(401 missing_oid), and `sub:` keys are kept for issuers that are not Entra.

An issuer is Entra when it is on one of Entra's authority hosts (public cloud, US Government, China
operated by 21Vianet, External ID's ciamlogin.com), or when it is a loopback issuer in Entra's tenant
form (`.../<tenant GUID>/` for v1, `.../<tenant GUID>/v2.0` for v2): local_azure's dev issuer, which
mints Entra's token shapes. Azure AD B2C (b2clogin.com) and every other issuer are not.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

ENTRA_HOSTS = frozenset(
    {
        "login.microsoftonline.com",  # v2, public cloud
        "sts.windows.net",  # v1, public cloud and US Government
        "login.microsoftonline.us",  # v2, US Government
        "login.partner.microsoftonline.cn",  # v2, China (21Vianet)
        "login.chinacloudapi.cn",  # v2, China (older name)
        "sts.chinacloudapi.cn",  # v1, China
    }
)
ENTRA_HOST_SUFFIXES = (".ciamlogin.com",)  # Entra External ID tenants
# Entra's issuer path: the tenant GUID, then `/` (v1) or `/v2.0` (v2); the dev issuer puts /issuer first.
_TENANT_PATH = re.compile(r"(/[^/]+)*/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/(v2\.0)?", re.I)


def is_entra_issuer(issuer: str) -> bool:
    parts = urlsplit(issuer)
    host = (parts.hostname or "").lower()
    if host in ENTRA_HOSTS or host.endswith(ENTRA_HOST_SUFFIXES):
        return True
    return _is_loopback(host) and _TENANT_PATH.fullmatch(parts.path) is not None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
