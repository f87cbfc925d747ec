"""The settings file: how clients (tests, `make run`, the demo page, the quickstart) find local_azure.

Written atomically once both servers listen, so a reader that sees the file (with the expected pid)
can use every URL in it. `LocalAzureSettings` is its typed form; its JSON keys are the field names,
so the file format stays what `make run`, the demo page and the quickstart read.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_azure.entra import issuer
from local_azure.files import read_json, write_json_atomic

DEFAULT_NAME = "settings.json"
DEFAULT_DATA_DIR = Path(".local") / "azure"  # `make run` and `make local-azure`, relative to the project root


@dataclass(frozen=True)
class LocalAzureSettings:
    """What a running local_azure published: its endpoints, dev credentials and local control URLs."""

    pid: int
    acs_endpoint: str
    acs_connection_string: str
    acs_resource_id: str
    ca_cert_file: str
    identity_endpoint: str
    identity_header: str
    managed_identity_client_id: str
    issuer: str  # Entra v2 shape: the default of minted tokens
    issuer_v1: str
    issuer_mint_url: str
    auth_issuer: str  # both issuers, comma-separated: what AUTH_ISSUER accepts locally
    auth_audience: str  # the App ID URI and the client id: what AUTH_AUDIENCE accepts locally
    app_id_uri: str
    api_client_id: str
    issuer_tenant_id: str
    default_audience: str
    teams_audience: str
    acs_control_url: str
    acs_token_check_url: str
    acs_jwks_url: str
    acs_identities_url: str
    acs_stats_url: str
    mi_faults_url: str
    issuer_jwks_url: str
    tenant_id: str
    data_dir: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: Any) -> LocalAzureSettings:
        """The file's object; ValueError names the first missing or mistyped key."""
        if not isinstance(value, Mapping):
            raise ValueError("local_azure settings are not a JSON object")
        fields: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            item = value.get(field.name)
            wanted = int if field.name == "pid" else str
            if not isinstance(item, wanted) or isinstance(item, bool):
                raise ValueError(f"local_azure settings: {field.name!r} is missing or not a {wanted.__name__}")
            fields[field.name] = item
        return cls(**fields)

    def client_environment(self) -> dict[str, str]:
        """Environment that makes SDK clients trust the CA and use the managed-identity endpoint."""
        return {
            "SSL_CERT_FILE": self.ca_cert_file,
            "REQUESTS_CA_BUNDLE": self.ca_cert_file,
            "IDENTITY_ENDPOINT": self.identity_endpoint,
            "IDENTITY_HEADER": self.identity_header,
        }


def default_path(data_dir: Path = DEFAULT_DATA_DIR) -> Path:
    return data_dir / DEFAULT_NAME


def write(path: Path, settings: LocalAzureSettings) -> None:
    write_json_atomic(path, settings.to_json(), mode=0o600)


def read(path: Path) -> LocalAzureSettings:
    """Raises OSError (absent), ValueError (not settings, including malformed JSON)."""
    return LocalAzureSettings.from_json(read_json(path))


def read_if_present(path: Path | None = None) -> LocalAzureSettings | None:
    """The settings of a local_azure started earlier (default: `make run`'s), or None if there are none."""
    try:
        return read(path or default_path())
    except (OSError, ValueError):
        return None


def wait_for(
    path: Path, pid: int, timeout: float, alive: Callable[[], bool] | None = None
) -> LocalAzureSettings:
    """Poll until `path` holds settings written by process `pid`; `alive()` False aborts early."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise RuntimeError("local_azure exited before writing its settings")
        try:
            settings: LocalAzureSettings | None = read(path)
        except (FileNotFoundError, ValueError, json.JSONDecodeError):
            settings = None
        if settings is not None and settings.pid == pid:
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
) -> LocalAzureSettings:
    acs = f"https://{host}:{acs_port}"
    local = f"http://{host}:{local_port}"
    base = f"{local}/issuer"
    v1, v2 = issuer.v1_issuer(base, issuer.DEFAULT_TENANT_ID), issuer.v2_issuer(base, issuer.DEFAULT_TENANT_ID)
    return LocalAzureSettings(
        pid=pid,
        acs_endpoint=acs,
        acs_connection_string=f"endpoint={acs}/;accesskey={access_key}",
        acs_resource_id=resource_id,
        ca_cert_file=str(ca_cert_file.resolve()),
        identity_endpoint=f"{local}/msi/token",
        identity_header=identity_header,
        managed_identity_client_id=user_client_id,
        issuer=v2,  # the default mint shape (v2 user tokens)
        issuer_v1=v1,
        issuer_mint_url=f"{base}/mint",
        auth_issuer=f"{v1},{v2}",  # AUTH_ISSUER / AUTH_AUDIENCE accepting both of Entra's token versions
        auth_audience=f"{default_audience},{issuer.API_CLIENT_ID}",
        app_id_uri=default_audience,
        api_client_id=issuer.API_CLIENT_ID,
        issuer_tenant_id=issuer.DEFAULT_TENANT_ID,
        default_audience=issuer.API_CLIENT_ID,  # `aud` of default (v2) minted tokens
        teams_audience=teams_audience,
        acs_control_url=f"{acs}/_local/faults",
        acs_token_check_url=f"{acs}/_local/tokens/check",
        acs_jwks_url=f"{acs}/_local/jwks",
        acs_identities_url=f"{acs}/_local/identities",
        acs_stats_url=f"{acs}/_local/stats",
        mi_faults_url=f"{local}/msi/_faults",
        issuer_jwks_url=f"{base}/keys",
        tenant_id=tenant_id,
        data_dir=str(data_dir.resolve()),
    )
