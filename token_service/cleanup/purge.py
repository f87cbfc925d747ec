"""What the registry keeps only for a while: tombstones (TOMBSTONE_RETENTION_DAYS, for audit) and the
bare marker an erasure leaves in a user's mapping row (until no request begun before it can run).

Both are found through their day indexes (deleted_<day>, erased_<day>), never by scanning the table,
oldest first. Each purge removes the pointers a row has (owner and created index) before the row and
the day index row last, so a run cut short finds the rest again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from token_service.cleanup.policy import CleanupPolicy, CleanupSummary
from token_service.clock import Clock, day_key
from token_service.identities.users import ERASED_MARKER_LIFETIME
from token_service.registry import Registry


async def purge_expired(
    registry: Registry, clock: Clock, policy: CleanupPolicy, summary: CleanupSummary, deadline: float
) -> None:
    """Tombstones deleted before the retention cutoff's day, then erasure markers past their lifetime.
    A dry run counts them and changes nothing."""
    now = clock()
    cutoff = now - timedelta(days=policy.tombstone_retention_days)
    budget = policy.max_per_run
    async for day, acs_id in registry.deleted_before(day_key(cutoff)):
        if budget <= 0 or asyncio.get_running_loop().time() >= deadline:
            return
        budget -= 1
        if policy.dry_run:
            summary.purged += 1
        elif await registry.purge_tombstone(day, acs_id, cutoff):
            summary.purged += 1
    older_than = now - ERASED_MARKER_LIFETIME
    async for day, key in registry.erased_markers(day_key(older_than + timedelta(days=1))):
        if budget <= 0 or asyncio.get_running_loop().time() >= deadline:
            return
        budget -= 1
        if policy.dry_run:
            summary.erasures_purged += 1
        elif await registry.purge_erased_marker(day, key, older_than):
            summary.erasures_purged += 1
