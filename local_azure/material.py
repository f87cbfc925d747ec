"""Everything generated at first start and reused on restart: ids, secrets, signing keys, TLS files.

Nothing here is a literal: a fresh data dir gets fresh values, so no secret ever lives in the repo.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from local_azure.files import read_json, write_json_atomic
from local_azure.signing import SigningKey, load_or_create_signing_key
from local_azure.tls import TlsFiles, load_or_create_tls


@dataclass(frozen=True)
class ManagedIdentity:
    """A managed identity as App Service knows it: client (application) id and object (principal) id."""

    client_id: str
    object_id: str


@dataclass(frozen=True)
class Material:
    resource_id: str
    access_key: str
    tenant_id: str
    identity_header: str
    system_identity: ManagedIdentity
    user_identity: ManagedIdentity
    acs_key: SigningKey
    mi_key: SigningKey
    issuer_key: SigningKey
    operator_secret: str  # the operator daemon's client secret (client credentials)
    operator_key: SigningKey  # the daemon's certificate credential: its key and self-signed certificate
    tls: TlsFiles


def _new_identity() -> dict[str, str]:
    return {"client_id": str(uuid.uuid4()), "object_id": str(uuid.uuid4())}


def _ids(path: Path) -> dict[str, object]:
    """The stored ids and secrets; ones added since the data dir was made are generated and stored too."""
    stored: object = read_json(path) if path.exists() else {}
    if not isinstance(stored, dict):
        raise ValueError(f"{path} is not a JSON object")
    missing = {name: value for name, value in _new_ids().items() if name not in stored}
    if missing:
        stored = {**stored, **missing}
        write_json_atomic(path, stored, mode=0o600)
    return stored


def _new_ids() -> dict[str, object]:
    return {
        "resource_id": str(uuid.uuid4()),
        "access_key": base64.b64encode(secrets.token_bytes(64)).decode("ascii"),
        "tenant_id": str(uuid.uuid4()),
        "identity_header": secrets.token_urlsafe(32),
        "system_identity": _new_identity(),
        "user_identity": _new_identity(),
        "acs_kid": str(100 + secrets.randbelow(900)),
        "mi_kid": secrets.token_hex(8),
        "issuer_kid": secrets.token_hex(8),
        "operator_secret": secrets.token_urlsafe(32),
        "operator_kid": secrets.token_hex(8),
    }


def _identity(value: object) -> ManagedIdentity:
    if not isinstance(value, dict):
        raise ValueError("malformed managed identity in material.json")
    return ManagedIdentity(str(value["client_id"]), str(value["object_id"]))


def operator_credential_files(data_dir: Path) -> tuple[Path, Path]:
    """The operator daemon's certificate and private key (PEM), for MSAL's certificate credential."""
    keys = data_dir / "keys"
    return keys / "operator-client-cert.pem", keys / "operator-client-key.pem"


def load_or_create_material(data_dir: Path) -> Material:
    """Load the data dir's material, creating whatever is missing."""
    keys = data_dir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    ids = _ids(keys / "material.json")
    return Material(
        resource_id=str(ids["resource_id"]),
        access_key=str(ids["access_key"]),
        tenant_id=str(ids["tenant_id"]),
        identity_header=str(ids["identity_header"]),
        system_identity=_identity(ids["system_identity"]),
        user_identity=_identity(ids["user_identity"]),
        acs_key=load_or_create_signing_key(keys, "acs-signing", str(ids["acs_kid"])),
        mi_key=load_or_create_signing_key(keys, "mi-signing", str(ids["mi_kid"])),
        issuer_key=load_or_create_signing_key(keys, "issuer-signing", str(ids["issuer_kid"])),
        operator_secret=str(ids["operator_secret"]),
        operator_key=load_or_create_signing_key(keys, "operator-client", str(ids["operator_kid"])),
        tls=load_or_create_tls(keys),
    )
