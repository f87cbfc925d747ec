"""App settings, read once and validated, so a bad deployment fails at start naming the setting."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from token_service.acs.rules import ACS_SCOPES, MAX_TOKEN_MINUTES, MIN_TOKEN_MINUTES

ACS_CREDENTIALS = ("managed_identity", "developer")
DEFAULT_CLEANUP_RATE = 10  # per second, for revokes and for deletes: 300 of ACS's 500 per 30 s
DEFAULT_CLEANUP_BUDGET = 240  # seconds: below host.json's functionTimeout (10 min) with room to finish
SCOPE_TOKEN = r"[\x21\x23-\x5B\x5D-\x7E]{1,128}"  # RFC 6749 §3.3 scope-token: one name, no spaces


class SettingsError(ValueError):
    """A missing or malformed app setting; the message names it."""


@dataclass(frozen=True)
class StorageSettings:
    """Where the registry lives: a connection string (Azurite) or an identity-based account endpoint."""

    connection_string: str | None
    table_endpoint: str | None
    client_id: str | None


@dataclass(frozen=True)
class Settings:
    acs_endpoint: str
    azure_client_id: str | None
    storage: StorageSettings
    registry_table: str
    auth_issuers: tuple[str, ...]
    auth_audiences: tuple[str, ...]
    auth_required_scope: str
    auth_admin_role: str
    teams_app_id: str | None
    allowed_scopes: frozenset[str]
    default_token_minutes: int
    token_rate_per_minute: int
    teams_token_rate_per_minute: int
    delete_rate_per_minute: int
    stale_identity_days: int
    cleanup_schedule: str
    cleanup_repair_schedule: str
    cleanup_dry_run: bool
    cleanup_max_per_run: int
    cleanup_time_budget_seconds: float
    cleanup_acs_calls_per_second: float
    platform_auth_enabled: bool
    acs_credential: str = "managed_identity"
    app_insights_connection_string: str | None = None  # metrics go to Application Insights when set
    app_insights_authentication_string: str | None = None  # "ClientId=<id>;Authorization=AAD": Entra auth

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        default_minutes = reader.integer("DEFAULT_TOKEN_MINUTES", 60, MIN_TOKEN_MINUTES, MAX_TOKEN_MINUTES)
        return cls(
            acs_endpoint=reader.https_url("COMMUNICATION_SERVICES_ENDPOINT"),
            azure_client_id=reader.optional("AZURE_CLIENT_ID"),
            storage=_storage_settings(reader),
            registry_table=reader.matching("REGISTRY_TABLE", "acsidentities", r"[A-Za-z][A-Za-z0-9]{2,62}"),
            auth_issuers=reader.exact_urls("AUTH_ISSUER"),
            auth_audiences=reader.listed("AUTH_AUDIENCE"),
            auth_required_scope=reader.matching("AUTH_REQUIRED_SCOPE", "access_as_user", SCOPE_TOKEN),
            auth_admin_role=reader.optional("AUTH_ADMIN_ROLE") or "TokenService.Admin",
            teams_app_id=reader.optional("TEAMS_APP_ID"),
            allowed_scopes=reader.scopes("ALLOWED_SCOPES", "chat,voip"),
            default_token_minutes=default_minutes,
            token_rate_per_minute=reader.integer("TOKEN_RATE_PER_MINUTE", 30, 1, 100_000),
            teams_token_rate_per_minute=reader.integer("TEAMS_TOKEN_RATE_PER_MINUTE", 30, 1, 100_000),
            delete_rate_per_minute=reader.integer("DELETE_RATE_PER_MINUTE", 5, 1, 100_000),
            stale_identity_days=reader.integer("STALE_IDENTITY_DAYS", 30, 1, 3650),
            # Required, no default: the host resolves the timer's %CLEANUP_SCHEDULE% from app settings and
            # starts without the timer when it is missing, whatever a default here would say.
            cleanup_schedule=reader.matching("CLEANUP_SCHEDULE", None, r"\S+( \S+){5}"),
            cleanup_repair_schedule=reader.matching("CLEANUP_REPAIR_SCHEDULE", None, r"\S+( \S+){5}"),
            cleanup_dry_run=reader.boolean("CLEANUP_DRY_RUN", False),
            **_cleanup_pacing(reader),  # type: ignore[arg-type]  # three typed fields, checked there
            platform_auth_enabled=reader.boolean("WEBSITE_AUTH_ENABLED", False),
            acs_credential=reader.choice("ACS_CREDENTIAL", "managed_identity", ACS_CREDENTIALS),
            app_insights_connection_string=reader.optional("APPLICATIONINSIGHTS_CONNECTION_STRING"),
            app_insights_authentication_string=reader.optional("APPLICATIONINSIGHTS_AUTHENTICATION_STRING"),
        )


def _cleanup_pacing(reader: _Reader) -> dict[str, float | int]:
    """Pace, time budget and per-run cap, which must agree: each identity is one revoke and one delete,
    each paced at `rate`/s, so a run reaches at most rate x budget identities. A cap above that could
    never be reached (it promised work the budget cannot do), so it is refused, naming the arithmetic.
    Defaults: 10/s x 240 s = 2,400; 10/s is 300 of ACS's 500 revokes (and deletes) per 30 s, leaving 40%
    of each window to users' calls."""
    rate = reader.integer("CLEANUP_ACS_CALLS_PER_SECOND", DEFAULT_CLEANUP_RATE, 1, 10_000)
    budget = reader.integer("CLEANUP_TIME_BUDGET_SECONDS", DEFAULT_CLEANUP_BUDGET, 1, 86_400)
    cap = reader.integer("CLEANUP_MAX_PER_RUN", rate * budget, 1, 10_000_000)
    if cap > rate * budget:
        raise SettingsError(
            f"CLEANUP_MAX_PER_RUN: {cap} cannot be reached in one run: at most CLEANUP_ACS_CALLS_PER_SECOND "
            f"x CLEANUP_TIME_BUDGET_SECONDS = {rate} x {budget} = {rate * budget}"
        )
    return {
        "cleanup_max_per_run": cap,
        "cleanup_time_budget_seconds": float(budget),
        "cleanup_acs_calls_per_second": float(rate),
    }


def _storage_settings(reader: _Reader) -> StorageSettings:
    connection_string = reader.optional("AzureWebJobsStorage")
    if connection_string:
        if "AccountName=" not in connection_string and "TableEndpoint=" not in connection_string:
            raise SettingsError("AzureWebJobsStorage: not a storage connection string (no AccountName/TableEndpoint)")
        return StorageSettings(connection_string, None, None)
    table_uri = reader.optional("AzureWebJobsStorage__tableServiceUri")
    account = reader.optional("AzureWebJobsStorage__accountName")
    if not table_uri and account:
        if not re.fullmatch(r"[a-z0-9]{3,24}", account):
            raise SettingsError("AzureWebJobsStorage__accountName: 3-24 lowercase letters and digits")
        table_uri = f"https://{account}.table.core.windows.net"
    if not table_uri:
        raise SettingsError(
            "AzureWebJobsStorage: missing (set a connection string, or AzureWebJobsStorage__accountName "
            "/ AzureWebJobsStorage__tableServiceUri for an identity-based connection)"
        )
    client_id = reader.optional("AzureWebJobsStorage__clientId") or reader.optional("AZURE_CLIENT_ID")
    return StorageSettings(None, reader.url_value("AzureWebJobsStorage__tableServiceUri", table_uri), client_id)


class _Reader:
    """Typed access to the environment; every error names the setting."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def optional(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise SettingsError(f"{name}: missing")
        return value

    def url(self, name: str) -> str:
        return self.url_value(name, self.required(name))

    def url_value(self, name: str, value: str) -> str:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SettingsError(f"{name}: not an http(s) URL")
        return value.rstrip("/")

    def listed(self, name: str) -> tuple[str, ...]:
        """A required comma-separated list, order kept, duplicates dropped."""
        values = tuple(dict.fromkeys(part.strip() for part in self.required(name).split(",") if part.strip()))
        if not values:
            raise SettingsError(f"{name}: missing")
        return values

    def exact_urls(self, name: str) -> tuple[str, ...]:
        """Issuers compared exactly with `iss`, so never normalised: Entra's v1 issuer ends with '/', v2's not."""
        values = self.listed(name)
        for value in values:
            self.url_value(name, value)
        return values

    def https_url(self, name: str) -> str:
        value = self.url(name)
        if not value.startswith("https://"):
            raise SettingsError(f"{name}: must be https (bearer tokens are never sent over plain http)")
        return value

    def matching(self, name: str, default: str | None, pattern: str) -> str:
        """A value matching `pattern`; without a default the setting is required."""
        value = self.optional(name) or default
        if value is None:
            raise SettingsError(f"{name}: missing")
        if not re.fullmatch(pattern, value):
            raise SettingsError(f"{name}: malformed value {value!r}")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.optional(name) or default
        if value not in allowed:
            raise SettingsError(f"{name}: {value!r} is none of {', '.join(allowed)}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}: not an integer") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}: must be between {low} and {high}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise SettingsError(f"{name}: not a boolean (true/false)")

    def scopes(self, name: str, default: str) -> frozenset[str]:
        raw = self.optional(name) or default
        scopes = frozenset(part.strip() for part in raw.split(",") if part.strip())
        unknown = scopes - ACS_SCOPES
        if not scopes or unknown:
            raise SettingsError(f"{name}: unknown scopes {sorted(unknown)}; allowed: {sorted(ACS_SCOPES)}")
        return scopes
