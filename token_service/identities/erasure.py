"""Erase a user (a data-subject request an operator carries out): every identity the registry knows for
them is revoked and deleted, and their mapping removed. Idempotent: erasing nobody is done at once.

The tombstones say why (`deletedReason`) and who asked (`deletedBy`: the admin's hashed user key).
"""

from __future__ import annotations

from dataclasses import dataclass

from token_service.errors import IdentityNotFound
from token_service.identities.admin import IdentityAdmin
from token_service.registry import Conflict, IdentityState, MappingState, Registry

ERASED_REASON = "erased-by-admin"


@dataclass(frozen=True)
class ErasureResult:
    deleted: list[str]


async def erase_user(registry: Registry, admin: IdentityAdmin, user_key: str, who: str) -> ErasureResult:
    """The mapped identity first, then leftovers from the owner index; finally the mapping row itself (in
    any state: an idle row still names the user and keeps their rate windows)."""
    mapping = await registry.read_mapping(user_key)
    candidates = [mapping.acs_id] if mapping is not None and mapping.acs_id else []
    candidates += [acs_id for acs_id in await registry.owned_identity_ids(user_key) if acs_id not in candidates]
    deleted = [acs_id for acs_id in candidates if await _erase_identity(registry, admin, acs_id, who)]
    leftover = await registry.read_mapping(user_key)
    if leftover is not None and leftover.state not in (MappingState.CREATING, MappingState.ACTIVE):
        try:
            await registry.erase_mapping(leftover)  # etag-conditional: a mapping re-made meanwhile stays
        except Conflict:
            pass
    return ErasureResult(deleted)


async def _erase_identity(registry: Registry, admin: IdentityAdmin, acs_id: str, who: str) -> bool:
    """The administration's own deletion (the owner's mapping first, so no token is issued meanwhile),
    then who asked on the tombstone."""
    record = await registry.get_identity(acs_id)
    if record is None or record.state == IdentityState.DELETED:
        return False
    try:
        await admin.delete(acs_id, ERASED_REASON)
    except IdentityNotFound:
        return False
    await registry.note_deleted_by(acs_id, who)
    return True
