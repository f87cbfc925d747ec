"""Identity lifecycle and token issuance: the domain rules, independent of HTTP.

Invariants it keeps:
- one ACS identity per user: the first caller claims the user's mapping row, concurrent callers wait
  for it; an expired or lost token never creates a new identity;
- nothing orphaned: if the registry write after an ACS create fails, the ACS identity is deleted again;
- a token issue and a deletion of the same identity are exclusive (etag-conditional writes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from token_service.acs_gateway import AcsGateway, IssuedToken
from token_service.clock import Clock, day_key
from token_service.errors import IdentityNotFound, NotConfigured, RegistryUnavailable, ServiceError
from token_service.registry import Conflict, IdentityRecord, IdentityState, MappingState, Registry, UserMapping
from token_service.settings import Settings
from token_service.token_rules import TokenRequest

log = logging.getLogger("token_service.identity")

# How stale the registry's "last token issued" may get before a token issue writes it again. Cleanup
# only considers identities idle for whole days, so minutes of slack never make a used identity stale.
ACTIVITY_RESOLUTION = timedelta(minutes=10)
CREATION_LEASE = timedelta(seconds=30)
WAIT_FOR_CREATOR = timedelta(seconds=15)
POLL_INTERVAL_SECONDS = 0.05


@dataclass(frozen=True)
class UserToken:
    communication_user_id: str
    token: IssuedToken
    created: bool


@dataclass
class _Known:
    acs_id: str
    recorded_activity: datetime


class IdentityService:
    """One per worker. Keeps a small cache of user -> identity so a hot user costs one ACS call."""

    def __init__(self, registry: Registry, acs: AcsGateway, settings: Settings, clock: Clock) -> None:
        self._registry = registry
        self._acs = acs
        self._settings = settings
        self._clock = clock
        self._known: dict[str, _Known] = {}

    # -- end users -----------------------------------------------------------------------------

    async def token_for_user(self, user_key: str, request: TokenRequest) -> UserToken:
        """Get-or-create the user's identity and issue a token for it."""
        known = self._known.get(user_key)
        if known is not None and self._clock() - known.recorded_activity < ACTIVITY_RESOLUTION:
            try:
                token = await self._acs.issue_token(known.acs_id, request.scopes, request.minutes)
                return UserToken(known.acs_id, token, created=False)
            except IdentityNotFound:
                self._known.pop(user_key, None)
        # Real time, not the injectable clock: this bounds how long a request waits.
        deadline = time.monotonic() + WAIT_FOR_CREATOR.total_seconds()
        while time.monotonic() < deadline:
            mapping = await self._registry.get_mapping(user_key)
            try:
                if mapping is None or mapping.state != MappingState.ACTIVE or mapping.acs_id is None:
                    result = await self._create_or_wait(user_key, mapping, request)
                else:
                    result = await self._issue_for_mapping(user_key, mapping, request)
            except Conflict:
                result = None  # someone changed the rows under us: read again
            if result is not None:
                return result
        raise RegistryUnavailable("timed out waiting for this user's identity to be created", retry_after=1)

    async def delete_for_user(self, user_key: str) -> None:
        mapping = await self._registry.get_mapping(user_key)
        if mapping is None or mapping.acs_id is None:
            raise IdentityNotFound("you have no identity")
        await self.delete(mapping.acs_id, "user-request")

    async def _create_or_wait(
        self, user_key: str, mapping: UserMapping | None, request: TokenRequest
    ) -> UserToken | None:
        now = self._clock()
        lease = mapping.lease_until if mapping is not None and mapping.state == MappingState.CREATING else None
        if lease is not None and lease > now:
            await asyncio.sleep(POLL_INTERVAL_SECONDS)  # another call is creating it right now
            return None
        claim = await self._registry.claim_mapping(user_key, now + CREATION_LEASE, mapping)
        return await self._create_for_claim(claim, request)

    async def _create_for_claim(self, claim: UserMapping, request: TokenRequest) -> UserToken:
        try:
            acs_id, token = await self._acs.create_identity(request.scopes, request.minutes)
        except BaseException:
            await self._quietly(self._registry.release_mapping(claim))
            raise
        assert token is not None
        now = self._clock()
        try:
            mapping = await self._registry.complete_mapping(claim, acs_id)
        except (ServiceError, Conflict):
            await self._undo_create(acs_id)
            await self._quietly(self._registry.release_mapping(claim))  # waiters need not wait out the lease
            raise
        try:
            await self._registry.insert_identity(self._new_record(acs_id, claim.user_key, request, now, mapping.etag))
        except Conflict:
            pass  # a concurrent caller saw the completed mapping and wrote the identity row first
        except ServiceError:
            # The mapping now names an identity we delete: the next call finds it gone and starts afresh.
            await self._undo_create(acs_id)
            raise
        self._known[claim.user_key] = _Known(acs_id, now)
        return UserToken(acs_id, token, created=True)

    async def _issue_for_mapping(self, user_key: str, mapping: UserMapping, request: TokenRequest) -> UserToken:
        assert mapping.acs_id is not None
        record = await self._registry.get_identity(mapping.acs_id)
        if record is None:  # a crash between mapping and identity row: finish the record
            record = await self._registry.insert_identity(
                self._new_record(mapping.acs_id, user_key, request, self._clock(), mapping.etag)
            )
        if record.state != IdentityState.ACTIVE:
            # Being deleted (cleanup or a delete in flight): the user gets a fresh identity instead.
            claim = await self._registry.claim_mapping(user_key, self._clock() + CREATION_LEASE, mapping)
            return await self._create_for_claim(claim, request)
        record = await self._touch(record, request)
        try:
            token = await self._acs.issue_token(record.acs_id, request.scopes, request.minutes)
        except IdentityNotFound:
            await self._forget_missing(record)
            raise Conflict("identity vanished from ACS") from None
        self._known[user_key] = _Known(record.acs_id, record.last_activity)
        return UserToken(record.acs_id, token, created=False)

    # -- administration ------------------------------------------------------------------------

    async def create_identity(self, request: TokenRequest | None) -> tuple[IdentityRecord, IssuedToken | None]:
        acs_id, token = await self._acs.create_identity(
            request.scopes if request else None, request.minutes if request else None
        )
        now = self._clock()
        record = IdentityRecord(
            acs_id=acs_id,
            owner=None,
            created_at=now,
            last_token_at=now if token else None,
            scopes=request.scopes if request else (),
            state=IdentityState.ACTIVE,
            activity_day=day_key(now),
        )
        try:
            record = await self._registry.insert_identity(record)
        except (ServiceError, Conflict):
            await self._undo_create(acs_id)
            raise
        return record, token

    async def get_record(self, acs_id: str) -> IdentityRecord:
        record = await self._registry.get_identity(acs_id)
        if record is None:
            raise IdentityNotFound("no identity with this id in the registry")
        return record

    async def issue_for_identity(self, acs_id: str, request: TokenRequest) -> IssuedToken:
        for _ in range(5):
            record = await self._live_record(acs_id)
            try:
                record = await self._touch(record, request)
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
        for _ in range(5):
            record = await self._live_record(acs_id, allow_deleting=True)
            if record.state == IdentityState.ACTIVE:
                try:
                    record = await self._registry.mark_deleting(record, reason, self._clock())
                except Conflict:
                    continue
            await self.finish_deletion(record, reason)
            return
        raise RegistryUnavailable("the identity kept changing; try again", retry_after=1)

    async def finish_deletion(self, record: IdentityRecord, reason: str) -> None:
        """The ACS half of a deletion, idempotent: an identity ACS no longer has counts as deleted."""
        try:
            await self._acs.revoke_tokens(record.acs_id)
            await self._acs.delete_identity(record.acs_id)
        except IdentityNotFound:
            pass
        await self._registry.tombstone_record(record, reason, self._clock())
        if record.owner:
            self._known.pop(record.owner, None)

    async def exchange_teams_token(self, entra_token: str, user_object_id: str) -> IssuedToken:
        app_id = self._settings.teams_app_id
        if not app_id:
            raise NotConfigured("TEAMS_APP_ID is not set, so Teams token exchange is off")
        return await self._acs.exchange_teams_token(entra_token, app_id, user_object_id)

    # -- helpers -------------------------------------------------------------------------------

    async def _live_record(self, acs_id: str, allow_deleting: bool = False) -> IdentityRecord:
        record = await self._registry.get_identity(acs_id)
        live = (IdentityState.ACTIVE, IdentityState.DELETING) if allow_deleting else (IdentityState.ACTIVE,)
        if record is None or record.state not in live:
            raise IdentityNotFound("no live identity with this id")
        return record

    async def _touch(self, record: IdentityRecord, request: TokenRequest) -> IdentityRecord:
        """Record the issue before making it, so a cleanup deciding concurrently loses the etag race."""
        now = self._clock()
        if now - record.last_activity < ACTIVITY_RESOLUTION and record.scopes == request.scopes:
            return record
        return await self._registry.touch_identity(record, now, request.scopes)

    def _new_record(
        self, acs_id: str, owner: str, request: TokenRequest, now: datetime, mapping_etag: str | None
    ) -> IdentityRecord:
        return IdentityRecord(
            acs_id=acs_id,
            owner=owner,
            created_at=now,
            last_token_at=now,
            scopes=request.scopes,
            state=IdentityState.ACTIVE,
            activity_day=day_key(now),
            mapping_etag=mapping_etag,
        )

    async def _forget_missing(self, record: IdentityRecord) -> None:
        """ACS answered 404 for a registered identity: tombstone it, deleting it first so that even a
        spurious 404 can never leave a live identity the registry calls deleted."""
        try:
            await self._acs.delete_identity(record.acs_id)
        except IdentityNotFound:
            pass
        await self._registry.tombstone_record(record, "missing-in-acs", self._clock())
        if record.owner:
            self._known.pop(record.owner, None)

    async def _undo_create(self, acs_id: str) -> None:
        """The registry write failed after ACS created the identity: delete it again, so none is orphaned."""
        for attempt in range(3):
            try:
                await self._acs.delete_identity(acs_id)
                log.warning("identity_create_undone", extra={"event": "identity_create_undone", "acs_id": acs_id})
                return
            except IdentityNotFound:
                return
            except ServiceError:
                await asyncio.sleep(0.2 * (attempt + 1))
        log.error(
            "orphaned ACS identity: registry write and compensating delete both failed",
            extra={"event": "orphan_identity", "acs_id": acs_id},
        )

    @staticmethod
    async def _quietly(awaitable: object) -> None:
        try:
            await awaitable  # type: ignore[misc]
        except Exception:
            log.info("mapping release failed; its lease will expire")
