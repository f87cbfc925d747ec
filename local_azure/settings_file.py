"""The settings file: how clients (tests, `make run`, the function app) find local_azure.

Written atomically once both servers listen, so a reader that sees the file (with the expected pid)
can use every URL in it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from local_azure import issuer
from local_azure.files import read_json, write_json_atomic

DEFAULT_NAME = "settings.json"


def default_path(data_dir: Path) -> Path:
    return data_dir / DEFAULT_NAME


def write(path: Path, settings: dict[str, Any]) -> None:
    write_json_atomic(path, settings, mode=0o600)


def read(path: Path) -> dict[str, Any]:
    value = read_json(path)
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object")
    return value


def wait_for(path: Path, pid: int, timeout: float, alive: Any = None) -> dict[str, Any]:
    """Poll until `path` holds settings written by process `pid`; `alive()` False aborts early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError("local_azure exited before writing its settings")
        try:
            settings = read(path)
        except (FileNotFoundError, ValueError, json.JSONDecodeError):
            settings = {}
        if settings.get("pid") == pid:
            return settings
        time.sleep(0.05)
    raise TimeoutError(f"no settings from pid {pid} in {path} after {timeout}s")


def build(
    *,
    pid: int,
    host: str,
    acs_port: int,
    local_port: int,
    access_key: str,
    resource_id: str,
    ca_cert_file: Path,
    identity_header: str,
    user_client_id: str,
    tenant_id: str,
    default_audience: str,
    teams_audience: str,
    data_dir: Path,
) -> dict[str, Any]:
    acs = f"https://{host}:{acs_port}"
    local = f"http://{host}:{local_port}"
    base = f"{local}/issuer"
    v1, v2 = issuer.v1_issuer(base, issuer.DEFAULT_TENANT_ID), issuer.v2_issuer(base, issuer.DEFAULT_TENANT_ID)
    return {
        "pid": pid,
        "acs_endpoint": acs,
        "acs_connection_string": f"endpoint={acs}/;accesskey={access_key}",
        "acs_resource_id": resource_id,
        "ca_cert_file": str(ca_cert_file.resolve()),
        "identity_endpoint": f"{local}/msi/token",
        "identity_header": identity_header,
        "managed_identity_client_id": user_client_id,
        "issuer": v2,  # the default mint shape (v2 user tokens)
        "issuer_v1": v1,
        "issuer_mint_url": f"{base}/mint",
        "auth_issuer": f"{v1},{v2}",  # AUTH_ISSUER / AUTH_AUDIENCE accepting both of Entra's token versions
        "auth_audience": f"{default_audience},{issuer.API_CLIENT_ID}",
        "app_id_uri": default_audience,
        "api_client_id": issuer.API_CLIENT_ID,
        "issuer_tenant_id": issuer.DEFAULT_TENANT_ID,
        "default_audience": issuer.API_CLIENT_ID,  # `aud` of default (v2) minted tokens
        "teams_audience": teams_audience,
        "acs_control_url": f"{acs}/_local/faults",
        "acs_token_check_url": f"{acs}/_local/tokens/check",
        "acs_jwks_url": f"{acs}/_local/jwks",
        "acs_identities_url": f"{acs}/_local/identities",
        "acs_stats_url": f"{acs}/_local/stats",
        "mi_faults_url": f"{local}/msi/_faults",
        "issuer_jwks_url": f"{base}/keys",
        "tenant_id": tenant_id,
        "data_dir": str(data_dir.resolve()),
    }
