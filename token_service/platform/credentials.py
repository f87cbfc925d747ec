"""Which Entra credential the app uses for ACS and Table Storage: the managed identity, or, only when
asked for explicitly, the developer's own sign-in.

`ManagedIdentityCredential`, not `DefaultAzureCredential`: the latter prefers an environment credential
whenever AZURE_CLIENT_SECRET and friends are set, and without a managed identity falls through to the CLI
and other developer credentials, so a deployment could run as someone else without saying so. In Azure
the managed identity is App Service's IDENTITY_ENDPOINT; locally local_azure serves the same endpoint.

ACS_CREDENTIAL=developer uses the Azure CLI's sign-in (`az login`), else the Azure Developer CLI's
(`azd auth login`), to run locally against a real ACS resource. Never a silent fallback from one mode
to the other.
"""

from __future__ import annotations

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import (
    AzureCliCredential,
    AzureDeveloperCliCredential,
    ChainedTokenCredential,
    ManagedIdentityCredential,
)

from token_service.settings import Settings

MANAGED_IDENTITY = "managed_identity"
DEVELOPER = "developer"


def developer_credential() -> AsyncTokenCredential:
    """The signed-in developer (Azure CLI, then Azure Developer CLI); no managed identity, no env secrets."""
    return ChainedTokenCredential(AzureCliCredential(), AzureDeveloperCliCredential())


def acs_credential(settings: Settings) -> AsyncTokenCredential:
    """The credential for ACS: the (user-assigned when AZURE_CLIENT_ID is set) managed identity by default."""
    if settings.acs.credential == DEVELOPER:
        return developer_credential()
    return ManagedIdentityCredential(client_id=settings.acs.client_id)


def storage_credential(settings: Settings) -> AsyncTokenCredential:
    """The credential for identity-based Table Storage (AzureWebJobsStorage__clientId names the identity)."""
    if settings.acs.credential == DEVELOPER:
        return developer_credential()
    return ManagedIdentityCredential(client_id=settings.storage.client_id)
