"""Identity lifecycle and token issuance: the domain rules, independent of HTTP.

Many instances share one registry, so the user's MAPPING row is the one truth of a user's identity
(acs id, state creating/active/deleting/idle, creation lease, last activity, per-user rate windows).
Nothing in memory decides: every token request costs one GET of the mapping and ONE etag-conditional
MERGE of it (If-Match the etag just read) that counts the request in the user's window (429 when full,
no ACS call) and, every ACTIVITY_RESOLUTION, records activity; only then is ACS called. That is one
round trip more than reading the mapping alone, and the least any design can do: a read alone cannot
exclude a concurrent deletion on another instance, and a limit shared by instances needs a write.
(The identity row is no longer read per request; it is written only when activity is due.) Invariants:

- at most one live ACS identity per user: the first caller claims the mapping (`creating`, under a
  lease) and creates; others wait (503 with the lease's real remaining time as Retry-After when it
  outlasts their wait). A deletion first marks the mapping `deleting` (conditional); while it says so,
  no identity is created: the next token request finishes the deletion itself (revoke, delete,
  tombstone: idempotent) and only then creates a new one, and a retried DELETE /api/me deletes the
  identity the mapping still names;
- a token issue and a deletion of the same identity are exclusive: both are conditional writes of the
  same mapping version, so at most one succeeds; the loser re-reads. The cleanup claims an owned
  identity the same way (Registry.claim_for_cleanup);
- crash debris is bounded and visible: the ACS create is sent once (no transport retry), logged
  (`identity_created`) as soon as ACS answers, and its identity and activity-index rows are written
  before the mapping points at it, so the cleanup can always find it. The one open window (killed
  between ACS's answer and the identity row) is stated in the README.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from token_service.acs.gateway import AcsGateway, IssuedToken
from token_service.acs.rules import TokenRequest
from token_service.clock import Clock, day_key
from token_service.errors import IdentityNotFound, NotConfigured, RegistryUnavailable, ServiceError
from token_service.identities.limits import UserLimits
from token_service.registry import Conflict, IdentityRecord, IdentityState, MappingState, Registry, UserMapping
from token_service.settings import Settings
from token_service.telemetry.request_log import hash_user

log = logging.getLogger("token_service.identity")

# How stale the recorded "last activity" may get before a token issue writes it again. Cleanup only
# considers identities idle for whole days, so minutes of slack never make a used identity stale.
ACTIVITY_RESOLUTION = timedelta(minutes=10)
CREATION_LEASE = timedelta(seconds=30)
WAIT_FOR_CREATOR = timedelta(seconds=15)
POLL_INTERVAL_SECONDS = 0.05
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class UserToken:
    communication_user_id: str
    token: IssuedToken
    created: bool


class IdentityService:
    """One per worker; holds clients only. Every decision is a conditional write of shared state."""

    def __init__(self, registry: Registry, acs: AcsGateway, settings: Settings, clock: Clock) -> None:
        self._registry = registry
        self._acs = acs
        self._settings = settings
        self._clock = clock
        self._limits = UserLimits(
            {
                "token": settings.limits.token_per_minute,
                "teams": settings.limits.teams_token_per_minute,
                "delete": settings.limits.delete_per_minute,
            }
        )

    # -- end users -----------------------------------------------------------------------------

    async def token_for_user(self, user_key: str, request: TokenRequest) -> UserToken:
        """Get-or-create the user's identity and issue a token for it."""
        # Real time, not the injectable clock: this bounds how long a request waits.
        deadline = time.monotonic() + WAIT_FOR_CREATOR.total_seconds()
        while True:
            mapping = await self._registry.read_mapping(user_key)
            now = self._clock()
            try:
                if mapping is not None and mapping.state == MappingState.DELETING:
                    await self._finish_user_deletion(mapping, "user-request")
                    continue
                if mapping is not None and mapping.state == MappingState.CREATING and mapping.acs_id is None:
                    lease = mapping.lease_until
                    if lease is not None and lease > now:  # another call is creating it right now
                        if time.monotonic() >= deadline:
                            wait = math.ceil((lease - now).total_seconds())
                            raise RegistryUnavailable("this user's identity is being created", retry_after=wait)
                        await asyncio.sleep(POLL_INTERVAL_SECONDS)
                        continue
                counted = self._limits.count(mapping, "token", now)
                if mapping is not None and mapping.state == MappingState.ACTIVE and mapping.acs_id is not None:
                    return await self._issue_for_mapping(mapping, counted, request, now)
                return await self._create_for_user(user_key, mapping, counted, request, now)
            except Conflict:
                # Someone changed the mapping under us: read again, after a short random pause so that
                # many concurrent calls of one user do not collide round after round.
                if time.monotonic() >= deadline:
                    raise RegistryUnavailable("this user's identity kept changing; try again", retry_after=1) from None
                await asyncio.sleep(random.uniform(0, POLL_INTERVAL_SECONDS))

    async def delete_for_user(self, user_key: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            mapping = await self._registry.read_mapping(user_key)
            live = (MappingState.ACTIVE, MappingState.DELETING)
            if mapping is None or mapping.acs_id is None or mapping.state not in live:
                raise IdentityNotFound("you have no identity")
            counted = self._limits.count(mapping, "delete", self._clock())
            await self._registry.note_pending_deletion(mapping.acs_id, "user-request")
            try:
                marked = await self._registry.mark_mapping_deleting(mapping, counted)
            except Conflict:
                continue
            await self._finish_user_deletion(marked, "user-request")
            return
        raise RegistryUnavailable("your identity kept changing; try again", retry_after=1)

    async def _issue_for_mapping(
        self, mapping: UserMapping, counted: dict[str, Any], request: TokenRequest, now: datetime
    ) -> UserToken:
        assert mapping.acs_id is not None
        due = mapping.last_activity is None or now - mapping.last_activity >= ACTIVITY_RESOLUTION
        fields = {**counted, "last_activity": now} if due else counted
        # The deciding write: it fails if a deletion (or anyone) wrote this mapping since we read it.
        written = await self._registry.update_mapping(mapping.user_key, mapping, fields)
        try:
            token = await self._acs.issue_token(mapping.acs_id, request.scopes, request.minutes)
        except IdentityNotFound:
            # Gone from ACS behind our back: retire it like a deletion, then the next round creates anew.
            await self._quietly(self._retire(written, "missing-in-acs"))
            raise Conflict("identity vanished from ACS") from None
        if due:
            await self._record_activity(mapping.acs_id, now, request.scopes)
        return UserToken(mapping.acs_id, token, created=False)

    async def _retire(self, mapping: UserMapping, reason: str) -> None:
        assert mapping.acs_id is not None
        await self._registry.note_pending_deletion(mapping.acs_id, reason)
        marked = await self._registry.mark_mapping_deleting(mapping)
        await self._finish_user_deletion(marked, reason)

    async def _record_activity(self, acs_id: str, now: datetime, scopes: tuple[str, ...]) -> None:
        """Keep the identity row and its activity index near the truth (the mapping), for the cleanup's
        index scan. Not deciding: the cleanup claims through the mapping, which already says `now`."""
        try:
            record = await self._registry.get_identity(acs_id)
            if record is not None and record.state == IdentityState.ACTIVE:
                await self._registry.touch_identity(record, now, scopes)
        except (Conflict, ServiceError):
            log.info("activity not recorded on the identity row; the mapping holds it")

    async def _create_for_user(
        self, user_key: str, mapping: UserMapping | None, counted: dict[str, Any], request: TokenRequest, now: datetime
    ) -> UserToken:
        claim = await self._registry.claim_mapping(user_key, now + CREATION_LEASE, mapping, counted)
        try:
            acs_id, token = await self._acs.create_identity(request.scopes, request.minutes)
        except BaseException:
            await self._quietly(self._registry.release_mapping(claim))
            raise
        assert token is not None
        self._log_created(acs_id, user_key)
        # The identity row (owner, activity index) first: from here on the cleanup can see it.
        record = self._new_record(acs_id, user_key, request, now)
        try:
            record = await self._registry.insert_identity(record)
        except (ServiceError, Conflict):
            await self._undo_create(acs_id)
            await self._quietly(self._registry.release_mapping(claim))  # waiters need not wait out the lease
            raise
        try:
            await self._registry.complete_mapping(claim, acs_id, now)
        except (ServiceError, Conflict):
            # Our claim was taken over (lease ran out) or the write failed: this identity is nobody's.
            await self._undo_create(acs_id)
            await self._quietly(self._registry.tombstone_record(record, "create-abandoned", self._clock()))
            raise
        return UserToken(acs_id, token, created=True)

    async def _finish_user_deletion(self, mapping: UserMapping, reason: str) -> None:
        """The mapping says `deleting`: finish deleting the identity it names (idempotent, any instance)."""
        assert mapping.acs_id is not None
        for _ in range(MAX_ATTEMPTS):
            record = await self._registry.get_identity(mapping.acs_id)
            if record is None:  # written by an older version, mapping first: finish the record, then delete
                record = await self._registry.insert_identity(
                    self._new_record(mapping.acs_id, mapping.user_key, None, self._clock())
                )
            if record.state == IdentityState.DELETED:
                await self._registry.remove_mapping(mapping.user_key, record.acs_id, None)
                return
            if record.state == IdentityState.ACTIVE:
                try:
                    record = await self._registry.mark_deleting(record, reason, self._clock())
                except Conflict:
                    continue
            await self.finish_deletion(record, record.deleted_reason or reason)
            return
        raise RegistryUnavailable("the identity kept changing; try again", retry_after=1)

    def _log_created(self, acs_id: str, user_key: str | None) -> None:
        """The moment ACS answered a create: an operator can reconcile any identity against this line."""
        line = {"event": "identity_created", "acs_id": acs_id, "user": hash_user(user_key)}
        log.info(json.dumps(line, separators=(",", ":")), extra=line)

    # -- administration ------------------------------------------------------------------------

    async def create_identity(self, request: TokenRequest | None) -> tuple[IdentityRecord, IssuedToken | None]:
        acs_id, token = await self._acs.create_identity(
            request.scopes if request else None, request.minutes if request else None
        )
        self._log_created(acs_id, None)
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
                if record.owner:
                    await self._claim_owner_activity(record)
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
                    if record.owner:  # the owner's mapping first: from here no token is issued for it
                        mapping = await self._registry.read_mapping(record.owner)
                        if mapping is not None and mapping.acs_id == acs_id and mapping.state == MappingState.ACTIVE:
                            await self._registry.note_pending_deletion(acs_id, reason)
                            await self._registry.mark_mapping_deleting(mapping)
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

    async def exchange_teams_token(self, entra_token: str, user_object_id: str, user_key: str) -> IssuedToken:
        """The Teams exchange has no identity of ours; the user's mapping row still counts it (global)."""
        app_id = self._settings.tokens.teams_app_id
        if not app_id:
            raise NotConfigured("TEAMS_APP_ID is not set, so Teams token exchange is off")
        for _ in range(MAX_ATTEMPTS):
            mapping = await self._registry.read_mapping(user_key)
            counted = self._limits.count(mapping, "teams", self._clock())
            try:
                await self._registry.update_mapping(user_key, mapping, counted)
            except Conflict:
                continue
            return await self._acs.exchange_teams_token(entra_token, app_id, user_object_id)
        raise RegistryUnavailable("your rate window kept changing; try again", retry_after=1)

    # -- helpers -------------------------------------------------------------------------------

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
        await self._registry.update_mapping(record.owner, mapping, {"last_activity": self._clock()})

    async def _touch(self, record: IdentityRecord, request: TokenRequest) -> IdentityRecord:
        """Record the issue before making it (conditional), so a cleanup deciding concurrently loses."""
        return await self._registry.touch_identity(record, self._clock(), request.scopes)

    def _new_record(self, acs_id: str, owner: str, request: TokenRequest | None, now: datetime) -> IdentityRecord:
        return IdentityRecord(
            acs_id=acs_id,
            owner=owner,
            created_at=now,
            last_token_at=now,
            scopes=request.scopes if request else (),
            state=IdentityState.ACTIVE,
            activity_day=day_key(now),
        )

    async def _forget_missing(self, record: IdentityRecord) -> None:
        """ACS answered 404 for a registered identity: tombstone it, deleting it first so that even a
        spurious 404 can never leave a live identity the registry calls deleted."""
        try:
            await self._acs.delete_identity(record.acs_id)
        except IdentityNotFound:
            pass
        await self._registry.tombstone_record(record, "missing-in-acs", self._clock())

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
