"""The settings file: how clients (tests, `make run`, the demo page, the quickstart) find local_azure.

Written atomically once both servers listen, so a reader that sees the file (with the expected pid)
can use every URL in it. `LocalAzureSettings` is its typed form; its JSON keys are the field names,
so the file format stays what `make run`, the demo page and the quickstart read.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
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
    issuer_origin: str  # https://127.0.0.1:<port>: the issuer's own origin, Entra's path layout below it
    authority: str  # <origin>/<tenant>: MSAL's `authority` (knownAuthorities: the origin's host:port)
    issuer_mint_url: str
    auth_issuer: str  # both issuers, comma-separated: what AUTH_ISSUER accepts locally
    auth_audience: str  # the App ID URI and the client id: what AUTH_AUDIENCE accepts locally
    app_id_uri: str
    api_client_id: str
    issuer_tenant_id: str
    api_scope: str  # the delegated scope a SPA asks for
    spa_client_id: str
    spa_redirect_uris: str  # comma-separated, as registered for the SPA client
    operator_client_id: str
    operator_client_secret: str
    operator_certificate_file: str  # PEM certificate of the operator daemon's certificate credential
    operator_key_file: str  # its private key (PEM, mode 0600)
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


def wait_for(path: Path, pid: int, timeout: float, alive: Callable[[], bool] | None = None) -> LocalAzureSettings:
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
    issuer_port: int,
    spa_redirect_uris: Sequence[str],
    operator_secret: str,
    operator_cert_file: Path,
    operator_key_file: Path,
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
    origin = f"https://{host}:{issuer_port}"
    tenant = issuer.DEFAULT_TENANT_ID
    v1, v2 = issuer.v1_issuer(origin, tenant), issuer.v2_issuer(origin, tenant)
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
        issuer_origin=origin,
        authority=f"{origin}/{tenant}",
        issuer_mint_url=f"{local}/issuer/mint",
        auth_issuer=f"{v1},{v2}",  # AUTH_ISSUER / AUTH_AUDIENCE accepting both of Entra's token versions
        auth_audience=f"{default_audience},{issuer.API_CLIENT_ID}",
        app_id_uri=default_audience,
        api_client_id=issuer.API_CLIENT_ID,
        issuer_tenant_id=tenant,
        api_scope=issuer.API_SCOPE,
        spa_client_id=issuer.DEFAULT_CLIENT_APP_ID,
        spa_redirect_uris=",".join(spa_redirect_uris),
        operator_client_id=issuer.OPERATOR_CLIENT_ID,
        operator_client_secret=operator_secret,
        operator_certificate_file=str(operator_cert_file.resolve()),
        operator_key_file=str(operator_key_file.resolve()),
        default_audience=issuer.API_CLIENT_ID,  # `aud` of default (v2) minted tokens
        teams_audience=teams_audience,
        acs_control_url=f"{acs}/_local/faults",
        acs_token_check_url=f"{acs}/_local/tokens/check",
        acs_jwks_url=f"{acs}/_local/jwks",
        acs_identities_url=f"{acs}/_local/identities",
        acs_stats_url=f"{acs}/_local/stats",
        mi_faults_url=f"{local}/msi/_faults",
        issuer_jwks_url=f"{origin}/{tenant}/discovery/v2.0/keys",
        tenant_id=tenant_id,
        data_dir=str(data_dir.resolve()),
    )
