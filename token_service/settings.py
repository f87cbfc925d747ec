"""App settings, read once and validated, so a bad deployment fails at start naming the setting."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from token_service.acs.rules import ACS_SCOPES, MAX_TOKEN_MINUTES, MIN_TOKEN_MINUTES
from token_service.scalars import ascii_integer

ACS_CREDENTIALS = ("managed_identity", "developer")
DEFAULT_CLEANUP_RATE = 10  # per second, for revokes and for deletes: 300 of ACS's 500 per 30 s
DEFAULT_CLEANUP_BUDGET = 240  # seconds: below host.json's functionTimeout (10 min) with room to finish
SCOPE_TOKEN = r"[\x21\x23-\x5B\x5D-\x7E]{1,128}"  # RFC 6749 §3.3 scope-token: one name, no spaces


class SettingsError(ValueError):
    """A missing or malformed app setting; the message names it."""


@dataclass(frozen=True)
class AcsSettings:
    """The ACS resource and how the app signs in to it."""

    endpoint: str
    credential: str  # one of ACS_CREDENTIALS
    client_id: str | None  # AZURE_CLIENT_ID: the user-assigned identity (None: the system-assigned one)


@dataclass(frozen=True)
class StorageSettings:
    """Where the registry lives: a connection string (Azurite) or an identity-based account endpoint."""

    connection_string: str | None
    table_endpoint: str | None
    client_id: str | None
    table: str


@dataclass(frozen=True)
class AuthSettings:
    """Who the callers are: trusted issuers and audiences, the user routes' scope, the admin role."""

    issuers: tuple[str, ...]
    audiences: tuple[str, ...]
    required_scope: str
    admin_role: str
    platform_auth_enabled: bool  # WEBSITE_AUTH_ENABLED: App Service Authentication vouches for callers


@dataclass(frozen=True)
class TokenSettings:
    """What a token request may ask for, and the Teams app whose users may exchange their tokens."""

    allowed_scopes: frozenset[str]
    default_minutes: int
    teams_app_id: str | None


@dataclass(frozen=True)
class RateLimits:
    """Per-user calls per minute, shared by every instance through the registry."""

    token_per_minute: int
    teams_token_per_minute: int
    delete_per_minute: int


@dataclass(frozen=True)
class CleanupSettings:
    """The stale-identity cleanup: what is stale, when it runs, and its pace (CleanupPolicy.from_settings).

    Pace, time budget and per-run cap agree: each identity is one revoke and one delete, each paced at
    `acs_calls_per_second`, so a run reaches at most pace x budget identities, and a larger cap is refused.
    """

    stale_days: int
    schedule: str
    repair_schedule: str
    dry_run: bool
    max_per_run: int
    time_budget_seconds: float
    acs_calls_per_second: float
    tombstone_retention_days: int = 30


@dataclass(frozen=True)
class TelemetrySettings:
    """Application Insights: metrics are exported when a connection string is set."""

    connection_string: str | None = None
    authentication_string: str | None = None  # "ClientId=<id>;Authorization=AAD": Entra auth
    client_id: str | None = None  # AZURE_CLIENT_ID: the identity when the authentication string names none


@dataclass(frozen=True)
class Settings:
    acs: AcsSettings
    storage: StorageSettings
    auth: AuthSettings
    tokens: TokenSettings
    limits: RateLimits
    cleanup: CleanupSettings
    telemetry: TelemetrySettings

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        reader = _Reader(os.environ if env is None else env)
        client_id = reader.optional("AZURE_CLIENT_ID")
        return cls(
            acs=AcsSettings(
                endpoint=reader.https_url("COMMUNICATION_SERVICES_ENDPOINT"),
                credential=reader.choice("ACS_CREDENTIAL", "managed_identity", ACS_CREDENTIALS),
                client_id=client_id,
            ),
            storage=_storage_settings(reader, client_id),
            auth=AuthSettings(
                issuers=reader.exact_urls("AUTH_ISSUER"),
                audiences=reader.listed("AUTH_AUDIENCE"),
                required_scope=reader.matching("AUTH_REQUIRED_SCOPE", "access_as_user", SCOPE_TOKEN),
                admin_role=reader.optional("AUTH_ADMIN_ROLE") or "TokenService.Admin",
                platform_auth_enabled=reader.boolean("WEBSITE_AUTH_ENABLED", False),
            ),
            tokens=TokenSettings(
                allowed_scopes=reader.scopes("ALLOWED_SCOPES", "chat,voip"),
                default_minutes=reader.integer("DEFAULT_TOKEN_MINUTES", 60, MIN_TOKEN_MINUTES, MAX_TOKEN_MINUTES),
                teams_app_id=reader.optional("TEAMS_APP_ID"),
            ),
            limits=RateLimits(
                token_per_minute=reader.integer("TOKEN_RATE_PER_MINUTE", 30, 1, 100_000),
                teams_token_per_minute=reader.integer("TEAMS_TOKEN_RATE_PER_MINUTE", 30, 1, 100_000),
                delete_per_minute=reader.integer("DELETE_RATE_PER_MINUTE", 5, 1, 100_000),
            ),
            cleanup=_cleanup_settings(reader),
            telemetry=TelemetrySettings(
                connection_string=reader.optional("APPLICATIONINSIGHTS_CONNECTION_STRING"),
                authentication_string=reader.optional("APPLICATIONINSIGHTS_AUTHENTICATION_STRING"),
                client_id=client_id,
            ),
        )


def _cleanup_settings(reader: _Reader) -> CleanupSettings:
    """Defaults: 10/s x 240 s = 2,400 identities a run; 10/s is 300 of ACS's 500 revokes (and deletes)
    per 30 s, leaving 40% of each window to users' calls. A cap above pace x budget promises work the
    budget cannot do, so it is refused, naming the arithmetic."""
    stale_days = reader.integer("STALE_IDENTITY_DAYS", 30, 1, 3650)
    retention = reader.integer("TOMBSTONE_RETENTION_DAYS", 30, 1, 3650)
    # Required, no default: the host resolves the timer's %CLEANUP_SCHEDULE% from app settings and
    # starts without the timer when it is missing, whatever a default here would say.
    schedule = reader.matching("CLEANUP_SCHEDULE", None, r"\S+( \S+){5}")
    repair_schedule = reader.matching("CLEANUP_REPAIR_SCHEDULE", None, r"\S+( \S+){5}")
    dry_run = reader.boolean("CLEANUP_DRY_RUN", False)
    rate = reader.integer("CLEANUP_ACS_CALLS_PER_SECOND", DEFAULT_CLEANUP_RATE, 1, 10_000)
    budget = reader.integer("CLEANUP_TIME_BUDGET_SECONDS", DEFAULT_CLEANUP_BUDGET, 1, 86_400)
    cap = reader.integer("CLEANUP_MAX_PER_RUN", rate * budget, 1, 10_000_000)
    if cap > rate * budget:
        raise SettingsError(
            f"CLEANUP_MAX_PER_RUN: {cap} cannot be reached in one run: at most CLEANUP_ACS_CALLS_PER_SECOND "
            f"x CLEANUP_TIME_BUDGET_SECONDS = {rate} x {budget} = {rate * budget}"
        )
    return CleanupSettings(
        stale_days=stale_days,
        schedule=schedule,
        repair_schedule=repair_schedule,
        dry_run=dry_run,
        max_per_run=cap,
        time_budget_seconds=float(budget),
        acs_calls_per_second=float(rate),
        tombstone_retention_days=retention,
    )


def _storage_settings(reader: _Reader, app_client_id: str | None) -> StorageSettings:
    """Identity-based storage signs in as AzureWebJobsStorage__clientId, else as the app's identity."""
    table = reader.matching("REGISTRY_TABLE", "acsidentities", r"[A-Za-z][A-Za-z0-9]{2,62}")
    connection_string = reader.optional("AzureWebJobsStorage")
    if connection_string:
        if "AccountName=" not in connection_string and "TableEndpoint=" not in connection_string:
            raise SettingsError("AzureWebJobsStorage: not a storage connection string (no AccountName/TableEndpoint)")
        return StorageSettings(connection_string, None, None, table)
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
    client_id = reader.optional("AzureWebJobsStorage__clientId") or app_client_id
    return StorageSettings(None, reader.url_value("AzureWebJobsStorage__tableServiceUri", table_uri), client_id, table)


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
        value = ascii_integer(raw, 18)
        if value is None:
            raise SettingsError(f"{name}: not an integer (ASCII digits)")
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
