"""Erase a user (a data-subject request an operator carries out): afterwards no identity of theirs is
live and no row names them, and nothing a token call of theirs was doing meanwhile can leave one.

Exclusive with the user's token calls through their mapping row, the one truth of their identity:
1. the mapping is marked `erasing` (etag-conditional, or inserted when there is none). From then on a
   token call neither issues nor creates (it answers 503 + Retry-After); one that had written the
   mapping before may still get a token from ACS, for an identity deleted in step 3. A live creation
   lease is waited out first (its creator then completes or gives up; an expired one is taken over),
   so no create is in flight once the mark holds;
2. the identities to erase: the one the mapping names and every one the owner index knows (leftovers,
   a creator's whose lease was taken over), read again at the end for a creator that was late;
3. each is revoked and deleted in ACS (a 404 means gone; a row that is missing is no excuse) and its
   row replaced by a tombstone that names nobody (`owner` removed; `deletedBy`: the admin's hashed key);
4. the owner-index rows go, and the mapping is replaced by a bare `erased` marker (when, nothing else),
   conditional on the erasure's own version. A token call that began before `erased_at` (and has only
   now reached the row) is refused rather than allowed to create; one begun after it starts afresh.
   The cleanup purges the marker once no such call can still run (users.py: ERASED_MARKER_LIFETIME).
Idempotent: erasing nobody, or again, answers the same. An ACS failure midway leaves the mapping
`erasing` (the user gets no token meanwhile); the retried erasure finishes it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from token_service.acs.gateway import AcsGateway
from token_service.clock import Clock
from token_service.errors import RegistryUnavailable
from token_service.identities.lifecycle import revoke_and_delete
from token_service.registry import ERASED_REASON, Conflict, IdentityState, MappingState, Registry, UserMapping

POLL_SECONDS = 0.05
# A creation lease is 30 s (identities/users.py): an erasure waits that out, and a little more.
WAIT_SECONDS = 40.0


@dataclass(frozen=True)
class ErasureResult:
    deleted: list[str]


async def erase_user(registry: Registry, acs: AcsGateway, clock: Clock, user_key: str, who: str) -> ErasureResult:
    held = await _hold(registry, clock, user_key)
    candidates = [held.acs_id] if held.acs_id else []
    candidates += [acs_id for acs_id in await registry.owned_identity_ids(user_key) if acs_id not in candidates]
    deleted = [acs_id for acs_id in candidates if await _erase_identity(registry, acs, clock, acs_id, who)]
    late = [acs_id for acs_id in await registry.owned_identity_ids(user_key) if acs_id not in candidates]
    deleted += [acs_id for acs_id in late if await _erase_identity(registry, acs, clock, acs_id, who)]
    await registry.drop_owner_index(user_key)
    await _finish(registry, clock, user_key, held)
    return ErasureResult(deleted)


async def _hold(registry: Registry, clock: Clock, user_key: str) -> UserMapping:
    """Mark the mapping `erasing`: re-read on every conflict (token calls stop writing it once it
    holds), wait while a live creation lease runs."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        mapping = await registry.read_mapping(user_key)
        if mapping is not None and mapping.state == MappingState.ERASING:
            return mapping  # an earlier erasure that did not finish, or one running now: idempotent
        creating = mapping is not None and mapping.state == MappingState.CREATING and mapping.acs_id is None
        if creating and mapping is not None and mapping.lease_until is not None and mapping.lease_until > clock():
            await asyncio.sleep(POLL_SECONDS)
            continue
        try:
            return await registry.mark_mapping_erasing(user_key, mapping)
        except Conflict:
            await asyncio.sleep(random.uniform(0, POLL_SECONDS))
    raise RegistryUnavailable("the user's identity kept changing; try the erasure again", retry_after=5)


async def _erase_identity(registry: Registry, acs: AcsGateway, clock: Clock, acs_id: str, who: str) -> bool:
    """Revoke, delete in ACS, then a tombstone naming nobody. True if this erasure deleted it."""
    record = await registry.get_identity(acs_id)
    if record is not None and record.state == IdentityState.DELETED:
        if record.owner:
            await registry.tombstone_erased(acs_id, record, who, clock())  # strip the name it still has
        return False
    if record is not None:
        await registry.mark_erasing_identity(acs_id, ERASED_REASON, clock())
    await revoke_and_delete(acs, acs_id)
    await registry.tombstone_erased(acs_id, record, who, clock())
    return True


async def _finish(registry: Registry, clock: Clock, user_key: str, held: UserMapping) -> None:
    for _ in range(20):
        try:
            await registry.finish_erasure(held, clock())
            return
        except Conflict:
            current = await registry.read_mapping(user_key)
            if current is None or current.state != MappingState.ERASING:
                return  # a concurrent erasure of the same user finished first
            held = current
    raise RegistryUnavailable("the user's mapping kept changing; try the erasure again", retry_after=5)
