"""Erase a user (a data-subject request an operator carries out): every identity the registry knows for
them is revoked and deleted, and their mapping removed. Idempotent: erasing nobody is done at once.

The tombstones say why (`deletedReason`) and who asked (`deletedBy`: the admin's hashed user key).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from token_service.clock import Clock
from token_service.identity_service import IdentityService
from token_service.registry import Conflict, IdentityState, Registry

ERASED_REASON = "erased-by-admin"


@dataclass(frozen=True)
class ErasureResult:
    deleted: list[str]


async def erase_user(
    registry: Registry, identities: IdentityService, clock: Clock, user_key: str, who: str
) -> ErasureResult:
    """The mapped identity first, then leftovers from the owner index; finally any mapping still there."""
    mapping = await registry.get_mapping(user_key)
    candidates = [mapping.acs_id] if mapping is not None and mapping.acs_id else []
    candidates += [acs_id for acs_id in await registry.owned_identity_ids(user_key) if acs_id not in candidates]
    deleted = []
    for acs_id in candidates:
        if await _erase_identity(registry, identities, clock, acs_id, who):
            deleted.append(acs_id)
    leftover = await registry.get_mapping(user_key)
    if leftover is not None:
        try:
            await registry.release_mapping(leftover)  # etag-conditional: a mapping re-made meanwhile stays
        except Conflict:
            pass
    return ErasureResult(deleted)


async def _erase_identity(registry: Registry, identities: IdentityService, clock: Clock, acs_id: str, who: str) -> bool:
    for _ in range(5):
        record = await registry.get_identity(acs_id)
        if record is None or record.state == IdentityState.DELETED:
            return False
        if record.state == IdentityState.ACTIVE:
            try:
                record = await registry.mark_deleting(replace(record, deleted_by=who), ERASED_REASON, clock())
            except Conflict:
                continue
            reason = ERASED_REASON
        else:
            await registry.note_deleted_by(acs_id, who)  # already being deleted: finish it, note who asked
            reason = record.deleted_reason or ERASED_REASON
        await identities.finish_deletion(record, reason)
        return True
    return False
