"""Where the Azure Monitor distro connects besides the ingestion endpoint, and how we keep that to loopback
when the ingestion endpoint is a local stand-in.

Found in the installed packages (azure-monitor-opentelemetry 1.8, -exporter 1.0.0b58,
opentelemetry-resource-detector-azure 0.3), all switched by environment variables only:

- statsbeat (exporter/statsbeat): the SDK's own health metrics, sent to Microsoft's Application Insights
  (`westus-0` / `westeurope-5.in.applicationinsights.azure.com`), and at start an Azure IMDS query
  (`169.254.169.254/metadata/instance/compute`) unless App Service/Functions/AKS variables are set.
  Off with APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL=true. (This version starts it only for an endpoint
  naming an Azure region, so not for 127.0.0.1; the variable does not depend on that.)
- OneSettings (exporter/_configuration): a worker polling `https://settings.sdk.monitor.azure.com` (first
  after 5-15 s) for remote feature switches (offline storage, statsbeat, live metrics). Off with
  APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED=true.
- resource detectors: the distro defaults OTEL_EXPERIMENTAL_RESOURCE_DETECTORS to
  `azure_app_service,azure_vm`; `azure_vm` queries IMDS unless FUNCTIONS_WORKER_RUNTIME, WEBSITE_SITE_NAME
  or AKS variables are set. `azure_app_service` reads variables only.
- live metrics (`rt.services.visualstudio.com`): off through `enable_live_metrics=False` (metrics.py).
- customer SDK stats: sent to the configured ingestion endpoint itself (every 15 min): no other host.
- Entra tokens: ManagedIdentityCredential calls IDENTITY_ENDPOINT (local_azure locally, App Service's
  endpoint in Azure).

Decisions:
- Always (unless the operator set it): resource detectors `azure_app_service` only. In Azure Functions
  this is what the distro's default already runs (`azure_vm` skips itself there), so the resource is
  unchanged; on any other machine it removes the IMDS probe.
- Loopback ingestion endpoint (local_azure's stand-in: `make run`, the tests): statsbeat and OneSettings
  off and the detectors forced, so nothing but the stand-in and the managed-identity endpoint is reached.
- Any other endpoint (Azure): statsbeat and OneSettings stay as the SDK ships them: they carry SDK health
  and configuration, no customer data, and IMDS is reachable there. An operator may still set the two
  variables as app settings.
The distro reads only the environment for these, so this module sets process environment variables
before configure_azure_monitor() runs.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import MutableMapping
from urllib.parse import urlsplit

RESOURCE_DETECTORS = "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"
STATSBEAT_DISABLED = "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL"
CONTROL_PLANE_DISABLED = "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED"
ENV_ONLY_DETECTORS = "azure_app_service"
LOCAL_ONLY = {STATSBEAT_DISABLED: "true", CONTROL_PLANE_DISABLED: "true", RESOURCE_DETECTORS: ENV_ONLY_DETECTORS}


def ingestion_endpoint(connection_string: str) -> str | None:
    """The connection string's IngestionEndpoint (keys are case-insensitive, as the exporter parses them)."""
    for part in connection_string.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "ingestionendpoint" and value.strip():
            return value.strip()
    return None


def is_loopback_endpoint(connection_string: str) -> bool:
    endpoint = ingestion_endpoint(connection_string)
    host = urlsplit(endpoint).hostname if endpoint else None
    if not host:
        return False  # the exporter's default is dc.services.visualstudio.com
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def egress_environment(connection_string: str, environ: MutableMapping[str, str]) -> dict[str, str]:
    """The variables to set before the distro starts (pure: `environ` is only read)."""
    if is_loopback_endpoint(connection_string):
        return {name: value for name, value in LOCAL_ONLY.items() if environ.get(name) != value}
    return {} if RESOURCE_DETECTORS in environ else {RESOURCE_DETECTORS: ENV_ONLY_DETECTORS}


def limit_egress(connection_string: str, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Apply egress_environment to the process (or `environ`); returns what it set."""
    target: MutableMapping[str, str] = os.environ if environ is None else environ
    changes = egress_environment(connection_string, target)
    target.update(changes)
    return changes
