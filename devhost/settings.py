"""local.settings.json: the one file both `func start` and the devhost read.

`Values` become process environment variables before the app is imported, as Core Tools does,
except that variables already set in the process win: `make run` and the tests inject the
generated endpoints of the local stand-ins that way without editing the file.
Keys for `authLevel` live in a top-level `DevHost` section that Core Tools ignores (it does
not enforce keys locally), so the app never sees them in its environment.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLE_NAME = "local.settings.sample.json"


class SettingsError(Exception):
    """local.settings.json is missing, unreadable, or has a malformed entry."""


@dataclass(frozen=True)
class HostKeys:
    """Function keys (name -> value) and the master key, as the Functions host keeps them."""

    function_keys: dict[str, str]
    master_key: str
    generated: bool = False

    def accepts_function_key(self, key: str) -> bool:
        """Function-level routes take any function key or the master key, as in Azure."""
        return any(secrets.compare_digest(key, value) for value in self.function_keys.values()) or (
            self.accepts_master_key(key)
        )

    def accepts_master_key(self, key: str) -> bool:
        return secrets.compare_digest(key, self.master_key)

    @property
    def default_function_key(self) -> str:
        return self.function_keys.get("default") or next(iter(self.function_keys.values()))


@dataclass(frozen=True)
class LocalSettings:
    """What the devhost needs from local.settings.json."""

    path: Path
    values: dict[str, str]
    cors_origins: tuple[str, ...] = ()
    cors_credentials: bool = False
    http_port: int | None = None
    keys: HostKeys = field(default_factory=lambda: generated_keys())


def generated_keys() -> HostKeys:
    """Random keys for one run, when local.settings.json has no DevHost section."""
    return HostKeys({"default": secrets.token_urlsafe(24)}, secrets.token_urlsafe(24), generated=True)


def ensure_settings_file(path: Path, app_dir: Path) -> bool:
    """Create local.settings.json from the sample when absent (as a fresh clone needs); True if created."""
    if path.exists():
        return False
    sample = app_dir / SAMPLE_NAME
    if not sample.exists():
        raise SettingsError(f"{path} is missing and there is no {sample} to create it from")
    shutil.copyfile(sample, path)
    return True


def load_settings(path: Path) -> LocalSettings:
    """Parse local.settings.json; every malformed entry is reported by name."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise SettingsError(f"{path} not found") from error
    except (OSError, ValueError) as error:
        raise SettingsError(f"{path}: cannot read it as JSON: {error}") from error
    if not isinstance(document, dict):
        raise SettingsError(f"{path}: the top level must be a JSON object")
    if document.get("IsEncrypted") is True:
        raise SettingsError(f"{path}: IsEncrypted is true; the devhost reads plain values only")
    values = _values(path, document.get("Values", {}))
    host = _section(path, document, "Host")
    return LocalSettings(
        path=path,
        values=values,
        cors_origins=parse_origins(host.get("CORS", "")),
        cors_credentials=_bool(path, "Host.CORSCredentials", host.get("CORSCredentials", False)),
        http_port=_port(path, host.get("LocalHttpPort")),
        keys=_keys(path, _section(path, document, "DevHost")),
    )


def apply_values(values: dict[str, str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """Copy Values into the environment without overriding variables already set; returns what was set."""
    target: Any = os.environ if environ is None else environ
    applied: dict[str, str] = {}
    for name, value in values.items():
        if name not in target:
            target[name] = value
            applied[name] = value
    return applied


def _section(path: Path, document: dict[str, Any], name: str) -> dict[str, Any]:
    section = document.get(name, {})
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: {name} must be a JSON object")
    return section


def _values(path: Path, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: Values must be a JSON object")
    values: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, (dict, list)):
            raise SettingsError(f"{path}: Values.{name} must be a string, number or boolean")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        values[name] = "" if value is None else text
    return values


def parse_origins(raw: Any) -> tuple[str, ...]:
    """A comma-separated origin list (Host.CORS, --cors), without blanks and trailing slashes."""
    return tuple(origin.strip().rstrip("/") for origin in str(raw or "").split(",") if origin.strip())


def _bool(path: Path, name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if str(raw).lower() in {"true", "false"}:
        return str(raw).lower() == "true"
    raise SettingsError(f"{path}: {name} must be true or false")


def _port(path: Path, raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        port = int(raw)
    except (TypeError, ValueError):
        port = -1
    if not 0 < port < 65536:
        raise SettingsError(f"{path}: Host.LocalHttpPort must be a port number")
    return port


def _keys(path: Path, section: dict[str, Any]) -> HostKeys:
    if not section:
        return generated_keys()
    function_keys = section.get("FunctionKeys", {})
    master = section.get("MasterKey", "")
    if not isinstance(function_keys, dict) or not function_keys or not all(
        isinstance(v, str) and v for v in function_keys.values()
    ):
        raise SettingsError(f"{path}: DevHost.FunctionKeys must map key names to non-empty strings")
    if not isinstance(master, str) or not master:
        raise SettingsError(f"{path}: DevHost.MasterKey must be a non-empty string")
    return HostKeys({str(k): v for k, v in function_keys.items()}, master)
