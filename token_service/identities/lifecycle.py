"""The steps of an identity's life that a user's own calls and the administration share.

A create is logged the moment ACS answers and undone when its registry rows cannot be written; a
deletion ends the same way whoever began it (revoke, delete in ACS, tombstone), idempotently, so any
instance may finish a deletion another began.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable
from datetime import datetime

from token_service.acs.gateway import AcsGateway
from token_service.clock import Clock, day_key
from token_service.errors import IdentityNotFound, ServiceError
from token_service.registry import IdentityRecord, IdentityState, Registry, owner_id
from token_service.telemetry.request_log import hash_user

log = logging.getLogger("token_service.identity")

# Why a create was undone (its registry rows could not be written, or its claim was taken over): the
# reason on its tombstone, and on the repair marker when ACS refused the compensating delete.
CREATE_UNDONE = "create-undone"
CREATE_ABANDONED = "create-abandoned"
UNDO_REASONS = (CREATE_UNDONE, CREATE_ABANDONED)


class IdentityLifecycle:
    """One per worker, inside UserIdentities and IdentityAdmin; holds clients only."""

    def __init__(self, registry: Registry, acs: AcsGateway, clock: Clock) -> None:
        self._registry = registry
        self._acs = acs
        self._clock = clock

    def new_record(
        self, acs_id: str, owner: str | None, scopes: tuple[str, ...], now: datetime, *, token_issued: bool
    ) -> IdentityRecord:
        return IdentityRecord(
            acs_id=acs_id,
            owner=owner_id(owner) if owner else None,
            created_at=now,
            last_token_at=now if token_issued else None,
            scopes=scopes,
            state=IdentityState.ACTIVE,
            activity_day=day_key(now),
        )

    def log_created(self, acs_id: str, user_key: str | None) -> None:
        """The moment ACS answered a create: an operator can reconcile any identity against this line."""
        line = {"event": "identity_created", "acs_id": acs_id, "user": hash_user(user_key)}
        log.info(json.dumps(line, separators=(",", ":")), extra=line)

    def log_registered(self, acs_id: str) -> None:
        """Its registry row exists: an identity_created line without this one (or an undo) is an orphan."""
        line = {"event": "identity_registered", "acs_id": acs_id}
        log.info(json.dumps(line, separators=(",", ":")), extra=line)

    async def undo_create(self, record: IdentityRecord, reason: str = CREATE_UNDONE) -> None:
        """A registry write failed after ACS created the identity: delete it again, so none is orphaned,
        then tombstone whatever of its rows were written, so no row says "active" for an identity ACS no
        longer has. If storage is gone for that too, the row written first (its activity index, see
        Registry.insert_identity) lets the cleanup find and tombstone it once it is stale. A tombstone is
        written only once ACS's delete succeeded: it must never name a live identity."""
        acs_id = record.acs_id
        not_found = 0
        for attempt in range(3):
            try:
                await self._acs.delete_identity(acs_id)
                line = {"event": "identity_create_undone", "acs_id": acs_id}
                log.warning(json.dumps(line, separators=(",", ":")), extra=line)
                break
            except IdentityNotFound:
                not_found += 1
                if not_found == 2:  # ACS made it a moment ago: one 404 contradicts that, a second is believed
                    break
            except ServiceError:
                await asyncio.sleep(0.2 * (attempt + 1))
        else:
            await self._leave_undo_to_repair(acs_id, reason)
            return
        await tidy_up(
            self._registry.tombstone_unregistered(record, reason, self._clock()),
            otherwise="undone identity not tombstoned; the cleanup finds it by its activity row",
        )

    async def _leave_undo_to_repair(self, acs_id: str, reason: str) -> None:
        """ACS refused the compensating deletes: a deleting-index marker hands the identity to the repair
        pass, which deletes it in ACS (StaleIdentityCleanup resumes markers whose reason is an undo). Only
        if storage refuses the marker too is the identity an orphan, named by this ERROR line alone."""
        try:
            await self._registry.note_pending_deletion(acs_id, reason, self._clock())
        except Exception:
            log.error(
                "orphaned ACS identity: registry write, compensating delete and repair marker all failed",
                extra={"event": "orphan_identity", "acs_id": acs_id},
            )
            return
        line = {"event": "identity_undo_pending", "acs_id": acs_id}
        log.warning(json.dumps(line, separators=(",", ":")), extra=line)

    async def finish_deletion(self, record: IdentityRecord, reason: str) -> None:
        """The ACS half of a deletion, then the tombstone; an identity ACS no longer has counts as deleted."""
        await revoke_and_delete(self._acs, record.acs_id)
        await self._registry.tombstone(record, reason, self._clock())


async def revoke_and_delete(acs: AcsGateway, acs_id: str) -> None:
    """Revoke, then delete; an identity ACS no longer has counts as deleted. Only the delete's 404 says
    so: a revoke's 404 may be spurious, and the delete is sent regardless. A delete's 404 just after a
    revoke succeeded contradicts it, so the delete is asked once more."""
    revoked = True
    try:
        await acs.revoke_tokens(acs_id)
    except IdentityNotFound:
        revoked = False
    for _ in range(2 if revoked else 1):
        try:
            await acs.delete_identity(acs_id)
            return
        except IdentityNotFound:
            pass


async def tidy_up(step: Awaitable[object], *, otherwise: str) -> None:
    """Run a tidying step while another failure is being handled, so that its own failure cannot hide
    that one: if it fails, log `otherwise` (what stays undone, and what tidies it instead)."""
    try:
        await step
    except Exception as error:
        log.info("%s (%s)", otherwise, type(error).__name__)
