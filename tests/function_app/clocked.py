"""A runtime on a private registry table with a movable clock, and identities made at a chosen time.

Shared by the cleanup and operator tests: staleness and listing windows are about when things happened,
so each identity is made with the clock set to that moment, against real local_azure and Azurite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tests.function_app.harness import Caller
from token_service.http.inputs import checked_token_request
from token_service.services import Services, build_services, reset_services
from token_service.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=60)


@dataclass
class ClockedRuntime:
    runtime: Services
    clock: list[datetime]
    caller: Caller

    async def user_identity(self, key: str, at: datetime) -> str:
        """The identity of user `key`, its token issued at `at` (the clock is then put back)."""
        previous, self.clock[0] = self.clock[0], at
        try:
            request = checked_token_request(None, None, self.runtime.settings)
            return (await self.runtime.users.token_for_user(key, request)).communication_user_id
        finally:
            self.clock[0] = previous

    async def admin_identity(self, at: datetime) -> str:
        """An identity no user owns, created at `at` (the clock is then put back)."""
        previous, self.clock[0] = self.clock[0], at
        try:
            record, _ = await self.runtime.admin.create_identity(None)
            return record.acs_id
        finally:
            self.clock[0] = previous


async def clocked_runtime(app_environment: dict[str, str], table_prefix: str) -> tuple[Services, list[datetime]]:
    """The process's runtime, rebuilt on a fresh table with a clock at NOW that tests move."""
    clock = [NOW]
    table = table_prefix + uuid.uuid4().hex[:10]
    settings = Settings.from_env({**app_environment, "REGISTRY_TABLE": table, "STALE_IDENTITY_DAYS": "30"})
    runtime = build_services(settings, clock=lambda: clock[0])
    await reset_services(runtime)
    return runtime, clock
