"""Identity administration: create, read, issue for, revoke and delete any identity by its ACS id.

The same rules as a user's own calls hold here. An issue is recorded on the identity row before it is
made (etag-conditional), and for a user's identity the owner's mapping is written first, as a user's
issue writes it, so an issue and a concurrent deletion or cleanup claim never both succeed. A deletion
marks the owner's mapping and then the identity row `deleting` before ACS is touched, so a failure
halfway is finished by the next attempt, the owner's next token request or the cleanup, never forgotten.
"""

from __future__ import annotations

from token_service.acs.gateway import AcsGateway, IssuedToken
from token_service.acs.rules import TokenRequest
from token_service.clock import Clock
from token_service.errors import IdentityNotFound, RegistryUnavailable, ServiceError
from token_service.identities.lifecycle import IdentityLifecycle
from token_service.registry import Conflict, IdentityRecord, IdentityState, MappingChange, MappingState, Registry

MAX_ATTEMPTS = 5


class IdentityAdmin:
    """One per worker; holds clients only."""

    def __init__(self, registry: Registry, acs: AcsGateway, clock: Clock) -> None:
        self._registry = registry
        self._acs = acs
        self._clock = clock
        self._lifecycle = IdentityLifecycle(registry, acs, clock)

    async def create_identity(self, request: TokenRequest | None) -> tuple[IdentityRecord, IssuedToken | None]:
        acs_id, token = await self._acs.create_identity(
            request.scopes if request else None, request.minutes if request else None
        )
        self._lifecycle.log_created(acs_id, None)
        scopes = request.scopes if request else ()
        record = self._lifecycle.new_record(acs_id, None, scopes, self._clock(), token_issued=token is not None)
        try:
            record = await self._registry.insert_identity(record)
        except (ServiceError, Conflict):
            await self._lifecycle.undo_create(record)
            raise
        self._lifecycle.log_registered(acs_id)
        return record, token

    async def get_record(self, acs_id: str) -> IdentityRecord:
        record = await self._registry.get_identity(acs_id)
        if record is None:
            raise IdentityNotFound("no identity with this id in the registry")
        return record

    async def issue_for_identity(self, acs_id: str, request: TokenRequest) -> IssuedToken:
        for _ in range(MAX_ATTEMPTS):
            record = await self._live_record(acs_id)
            try:
                if record.owner:
                    await self._claim_owner_activity(record)
                # Recorded before it is made (conditional), so a cleanup deciding concurrently loses.
                record = await self._registry.touch_identity(record, self._clock(), request.scopes)
            except Conflict:
                continue
            try:
                return await self._acs.issue_token(acs_id, request.scopes, request.minutes)
            except IdentityNotFound:
                await self._forget_missing(record)
                raise
        raise RegistryUnavailable("the identity kept changing; try again", retry_after=1)

    async def revoke(self, acs_id: str) -> None:
        record = await self._live_record(acs_id)
        try:
            await self._acs.revoke_tokens(acs_id)
        except IdentityNotFound:
            await self._forget_missing(record)
            raise

    async def delete(self, acs_id: str, reason: str) -> None:
        """Revoke, delete in ACS, then tombstone. Marked 'deleting' first, so a failure halfway is finished
        by the next attempt or by the cleanup run, never forgotten."""
        for _ in range(MAX_ATTEMPTS):
            record = await self._live_record(acs_id, allow_deleting=True)
            if record.state == IdentityState.ACTIVE:
                try:
                    if record.owner:  # the owner's mapping first: from here no token is issued for it
                        mapping = await self._registry.read_mapping(record.owner)
                        if mapping is not None and mapping.acs_id == acs_id and mapping.state == MappingState.ACTIVE:
                            await self._registry.note_pending_deletion(acs_id, reason, self._clock())
                            await self._registry.mark_mapping_deleting(mapping)
                    record = await self._registry.mark_deleting(record, reason, self._clock())
                except Conflict:
                    continue
            await self._lifecycle.finish_deletion(record, reason)
            return
        raise RegistryUnavailable("the identity kept changing; try again", retry_after=1)

    async def _live_record(self, acs_id: str, allow_deleting: bool = False) -> IdentityRecord:
        record = await self._registry.get_identity(acs_id)
        live = (IdentityState.ACTIVE, IdentityState.DELETING) if allow_deleting else (IdentityState.ACTIVE,)
        if record is None or record.state not in live:
            raise IdentityNotFound("no live identity with this id")
        return record

    async def _claim_owner_activity(self, record: IdentityRecord) -> None:
        """An admin issue for a user's identity: the same conditional mapping write a user's issue makes."""
        assert record.owner is not None
        mapping = await self._registry.read_mapping(record.owner)
        if mapping is None or mapping.acs_id != record.acs_id or mapping.state != MappingState.ACTIVE:
            raise IdentityNotFound("no live identity with this id")
        await self._registry.update_mapping(record.owner, mapping, MappingChange(last_activity=self._clock()))

    async def _forget_missing(self, record: IdentityRecord) -> None:
        """ACS answered 404 for a registered identity: tombstone it, deleting it first so that even a
        spurious 404 can never leave a live identity the registry calls deleted."""
        try:
            await self._acs.delete_identity(record.acs_id)
        except IdentityNotFound:
            pass
        await self._registry.tombstone(record, "missing-in-acs", self._clock())
