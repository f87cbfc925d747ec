"""The host's own storage: AzureWebJobsStorage's `azure-webjobs-hosts` container and the host id.

The Functions host keeps singleton locks (blob leases) and timer schedule status there, under
`locks/{hostId}/...` and `timers/{hostId}/...`; two hosts with one storage account and one host id
share them, which is what makes a timer fire once per occurrence across instances.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

from azure.storage.blob.aio import BlobServiceClient, ContainerClient

HOSTS_CONTAINER = "azure-webjobs-hosts"
HOST_ID_SETTING = "AzureFunctionsWebHost__hostid"
MAX_HOST_ID_LENGTH = 32


def stable_hash(value: str) -> int:
    """The host's Utility.GetStableHash: 23, then *31 + each UTF-16 code unit, as a wrapping int32."""
    result = 23
    data = value.encode("utf-16-le")
    for index in range(0, len(data), 2):
        result = (result * 31 + (data[index] | data[index + 1] << 8)) & 0xFFFFFFFF
    return result - (1 << 32) if result >= 1 << 31 else result


def host_id(app_dir: Path, environ: Mapping[str, str] | None = None, machine: str | None = None) -> str:
    """AzureFunctionsWebHost__hostid when set; else the site name (App Service); else, as Core Tools
    runs locally, `{machine name, letters and digits}-{abs(stable hash of the app path)}`; truncated
    to 32 characters, lower-cased, trailing '-' trimmed (ScriptHostIdProvider)."""
    env = os.environ if environ is None else environ
    configured = env.get(HOST_ID_SETTING) or env.get(HOST_ID_SETTING.replace("__", ":"))
    if configured:
        return configured
    site = env.get("WEBSITE_SITE_NAME")
    if site:
        candidate = site
    else:
        name = "".join(c for c in (machine or socket.gethostname()) if c.isalnum())
        candidate = f"{name}-{abs(stable_hash(str(app_dir)))}"
    return candidate[:MAX_HOST_ID_LENGTH].lower().rstrip("-")


def hosts_container(environ: Mapping[str, str] | None = None) -> ContainerClient | None:
    """The `azure-webjobs-hosts` container of AzureWebJobsStorage (a connection string), or None."""
    env = os.environ if environ is None else environ
    connection = env.get("AzureWebJobsStorage", "").strip()
    if not connection or "=" not in connection:
        return None
    service = BlobServiceClient.from_connection_string(connection)
    return service.get_container_client(HOSTS_CONTAINER)
