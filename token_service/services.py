"""Per-worker singletons: settings, the managed-identity credential, ACS and registry clients.

Created on first use (after the host has set the app settings) and reused by every invocation;
`reset_services` exists for tests that change settings or the clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from token_service.acs.gateway import AcsCall, AcsGateway
from token_service.auth.authenticator import CallerAuthenticator
from token_service.cleanup.run import CleanupPolicy, StaleIdentityCleanup
from token_service.clock import Clock, system_clock
from token_service.identities.service import IdentityService
from token_service.platform.credential_gate import FailFastCredential
from token_service.platform.credentials import acs_credential, storage_credential
from token_service.registry import Registry
from token_service.settings import Settings
from token_service.telemetry.metrics import start_telemetry, telemetry
from token_service.telemetry.request_log import record_acs_call


@dataclass
class Services:
    settings: Settings
    credential: FailFastCredential
    acs: AcsGateway
    background_acs: AcsGateway
    registry: Registry
    identities: IdentityService
    auth: CallerAuthenticator
    clock: Clock

    def cleanup(self, kind: str = "timer", **overrides: Any) -> StaleIdentityCleanup:
        """The stale-identity cleanup as the settings define it; `overrides` change policy fields (CLI
        flags, tests). `kind` names the run in the cleanup lease (timer, repair, cli)."""
        policy = replace(CleanupPolicy.from_settings(self.settings.cleanup), **overrides)
        return StaleIdentityCleanup(
            self.registry,
            self.background_acs,
            self.clock,
            policy,
            telemetry().cleanup_progress,
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
        identities=IdentityService(registry, acs, settings, clock),
        auth=CallerAuthenticator(settings.auth.issuers, settings.auth.audiences, settings.auth.platform_auth_enabled),
        clock=clock,
    )


_runtime: Services | None = None
_loop: asyncio.AbstractEventLoop | None = None


def get_services() -> Services:
    """The worker's runtime; rebuilt if the event loop changed (clients are bound to their loop)."""
    global _runtime, _loop
    loop = asyncio.get_running_loop()
    if _runtime is None or _loop is not loop:
        _runtime = build_services(Settings.from_env())
        _loop = loop
    return _runtime


async def reset_services(runtime: Services | None = None) -> None:
    """Close the current runtime and install `runtime` (or none: the next call builds from env)."""
    global _runtime, _loop
    if _runtime is not None and _runtime is not runtime:
        await _runtime.close()
    _runtime = runtime
    _loop = asyncio.get_running_loop() if runtime is not None else None
