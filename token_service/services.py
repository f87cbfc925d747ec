"""The worker's services: settings, the managed-identity credential, ACS and registry clients, telemetry.

`start_worker` parses the settings once, when function_app is imported; `get_services` builds the
services from them on first use and every invocation reuses them. `reset_services` exists for tests
that change settings or the clock.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from token_service.acs.gateway import AcsCall, AcsGateway
from token_service.auth.authenticator import CallerAuthenticator
from token_service.clock import Clock, system_clock
from token_service.identities.admin import IdentityAdmin
from token_service.identities.users import UserIdentities
from token_service.platform.credential_gate import FailFastCredential
from token_service.platform.credentials import acs_credential, storage_credential
from token_service.registry import Registry
from token_service.settings import Settings, SettingsError
from token_service.telemetry.metrics import Telemetry, start_telemetry
from token_service.telemetry.request_log import record_acs_call

if TYPE_CHECKING:  # imported by cleanup(): a request never needs the cleanup's modules (cold start)
    from token_service.cleanup.run import StaleIdentityCleanup

log = logging.getLogger("token_service.startup")  # what stopped a worker from starting

# The Functions host forwards INFO logs to Application Insights; azure-core would log every HTTP
# request's headers there and azure-identity every token fetch. Our own request line says what matters.
NOISY_SDK_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity")


@dataclass
class Services:
    settings: Settings
    credential: FailFastCredential
    acs: AcsGateway
    background_acs: AcsGateway
    registry: Registry
    users: UserIdentities
    admin: IdentityAdmin
    auth: CallerAuthenticator
    clock: Clock
    telemetry: Telemetry

    def cleanup(self, kind: str = "timer", **overrides: Any) -> StaleIdentityCleanup:
        """The stale-identity cleanup as the settings define it; `overrides` change policy fields (CLI
        flags, tests). `kind` names the run in the cleanup lease (timer, repair, cli)."""
        from token_service.cleanup.run import CleanupPolicy, StaleIdentityCleanup

        policy = replace(CleanupPolicy.from_settings(self.settings.cleanup), **overrides)
        return StaleIdentityCleanup(
            self.registry,
            self.background_acs,
            self.clock,
            policy,
            self.telemetry.cleanup_progress,
            kind=kind,
        )

    async def close(self) -> None:
        await self.acs.close()
        await self.background_acs.close()
        await self.registry.close()
        await self.credential.close()


def build_services(settings: Settings, clock: Clock = system_clock) -> Services:
    # The managed identity (token_service/platform/credentials.py says why not DefaultAzureCredential).
    # Behind FailFastCredential: while the managed identity fails, requests get 503 at once instead of
    # each waiting out its own slow attempt.
    credential = FailFastCredential(acs_credential(settings))
    metrics = start_telemetry(settings.telemetry)

    def on_request_call(call: AcsCall) -> None:
        record_acs_call(call)
        metrics.acs_call(call, "request")

    acs = AcsGateway(settings.acs.endpoint, credential, on_call=on_request_call)
    # The cleanup paces itself and handles 429 itself, so its client never sleeps on Retry-After.
    background_acs = AcsGateway(
        settings.acs.endpoint,
        credential,
        max_retry_after=0,
        timeout_seconds=30,
        on_call=lambda call: metrics.acs_call(call, "cleanup"),
    )
    if settings.storage.connection_string:
        registry = Registry.from_connection_string(settings.storage.connection_string, settings.storage.table)
    else:
        assert settings.storage.table_endpoint is not None
        table_credential = credential
        if settings.storage.client_id != settings.acs.client_id:
            table_credential = FailFastCredential(storage_credential(settings))
        registry = Registry.from_endpoint(settings.storage.table_endpoint, settings.storage.table, table_credential)
    return Services(
        settings=settings,
        credential=credential,
        acs=acs,
        background_acs=background_acs,
        registry=registry,
        users=UserIdentities(registry, acs, settings, clock),
        admin=IdentityAdmin(registry, acs, clock),
        auth=CallerAuthenticator(settings.auth.issuers, settings.auth.audiences, settings.auth.platform_auth_enabled),
        clock=clock,
        telemetry=metrics,
    )


_settings: Settings | None = None
_services: Services | None = None
_loop: asyncio.AbstractEventLoop | None = None


def start_worker() -> Settings:
    """Once per worker, as function_app is imported: quiet the SDK loggers and parse the settings.

    A bad setting fails the import, so the host reports the app as failed at start, with a log line that
    names the setting, rather than at the first request. The services are built from these settings.
    """
    global _settings
    for name in NOISY_SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        _settings = Settings.from_env()
    except SettingsError as error:
        log.critical("invalid app setting: %s", error)
        raise
    return _settings


def get_services() -> Services:
    """The worker's services: the one place they are built, from start_worker's settings (or the
    environment, when no worker start parsed them: tests after reset_services).

    Rebuilt when the running event loop is another one: the SDK clients are bound to the loop that made
    them. A worker runs one loop; tests run one per test module or session, in one process.
    """
    global _services, _settings, _loop
    loop = asyncio.get_running_loop()
    if _services is None or _loop is not loop:
        if _settings is None:
            _settings = Settings.from_env()
        _services = build_services(_settings)
        _loop = loop
    return _services


async def reset_services(services: Services | None = None) -> None:
    """Close the current services and install `services` (or none: the next call builds from the
    environment, read again)."""
    global _services, _settings, _loop
    if _services is not None and _services is not services:
        await _services.close()
    _services = services
    _settings = services.settings if services is not None else None
    _loop = asyncio.get_running_loop() if services is not None else None
