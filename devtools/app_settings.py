"""The function app's settings for a local run, from what local_azure and Azurite generated.

One mapping for `make run`, the tests and the benchmarks, so a new generated setting is added once.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from local_azure.settings_file import LocalAzureSettings


def app_settings(
    local_azure: LocalAzureSettings,
    storage_connection_string: str,
    extra: Mapping[str, str] | None = None,
    *,
    audience: bool = True,
) -> dict[str, str]:
    """App settings (and the client environment) pointing the app at the local stand-ins.

    `audience=False` leaves AUTH_AUDIENCE to local.settings.json (`make run`: the developer's file decides);
    `extra` is the caller's own settings (table name, limits...), applied last.
    """
    values = {
        **local_azure.client_environment(),  # SSL_CERT_FILE, REQUESTS_CA_BUNDLE, IDENTITY_ENDPOINT/HEADER
        "COMMUNICATION_SERVICES_ENDPOINT": local_azure.acs_endpoint,
        "AUTH_ISSUER": local_azure.auth_issuer,  # Entra v1 and v2 issuers of the dev tenant
        "AzureWebJobsStorage": storage_connection_string,
        "DEV_ISSUER_MINT_URL": local_azure.issuer_mint_url,
        # The demo page's MSAL configuration (devhost/demo.py): the local issuer as a SPA sees it.
        "DEMO_MSAL_AUTHORITY": local_azure.authority,
        "DEMO_MSAL_KNOWN_AUTHORITIES": urllib.parse.urlsplit(local_azure.issuer_origin).netloc,
        "DEMO_MSAL_CLIENT_ID": local_azure.spa_client_id,
        "DEMO_MSAL_SCOPE": local_azure.api_scope,
    }
    if audience:
        values["AUTH_AUDIENCE"] = local_azure.auth_audience  # App ID URI (v1) and client id (v2)
    return {**values, **(extra or {})}
