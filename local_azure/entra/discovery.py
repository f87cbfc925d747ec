"""Entra's OpenID configuration documents (v1 and v2) for one tenant of the local issuer's origin.

MSAL checks the document's `issuer` against the authority it was given (msal-common: same scheme,
host and port; MSAL Python: the same string, or the same scheme and host), so the issuer lives on
the very origin the authority names. Multi-tenant aliases (`common`, `organizations`) get Entra's
`{tenantid}` placeholder, as Entra publishes them.
"""

from __future__ import annotations

from typing import Any

from local_azure.entra.issuer import v1_issuer, v2_issuer

MULTI_TENANT_ALIASES = ("common", "organizations", "consumers")
CLAIMS_SUPPORTED = (
    "sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
    "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
    "c_hash", "email",
)  # fmt: skip


def endpoints(origin: str, tenant: str, v2: bool) -> dict[str, str]:
    """The OAuth endpoints of one tenant, as discovery names them."""
    oauth = f"{origin}/{tenant}/oauth2" + ("/v2.0" if v2 else "")
    return {
        "authorization_endpoint": f"{oauth}/authorize",
        "token_endpoint": f"{oauth}/token",
        "end_session_endpoint": f"{oauth}/logout",
        "device_authorization_endpoint": f"{oauth}/devicecode",
        "jwks_uri": f"{origin}/{tenant}/discovery/v2.0/keys" if v2 else f"{origin}/{tenant}/discovery/keys",
    }


def discovery_document(origin: str, tenant: str, v2: bool) -> dict[str, Any]:
    """Entra's openid-configuration, field for field where it matters to MSAL and to validators."""
    named = "{tenantid}" if tenant.lower() in MULTI_TENANT_ALIASES else tenant
    document: dict[str, Any] = {
        **endpoints(origin, tenant, v2),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "issuer": v2_issuer(origin, named) if v2 else v1_issuer(origin, named),
        "request_uri_parameter_supported": False,
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "claims_supported": list(CLAIMS_SUPPORTED),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }
    if not v2:
        document["userinfo_endpoint"] = f"{origin}/{tenant}/openid/userinfo"
    return document
