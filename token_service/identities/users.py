"""A signed-in user's own identity and tokens: get-or-create and issue, the Teams exchange, delete-me.

Many instances share one registry, so the user's MAPPING row is the one truth of a user's identity
(acs id, state creating/active/deleting/idle, creation lease, last activity, per-user rate windows).
Nothing in memory decides: every token request costs one GET of the mapping and ONE etag-conditional
MERGE of it (If-Match the etag just read) that counts the request in the user's window (429 when full,
no ACS call) and, every ACTIVITY_RESOLUTION, records activity; only then is ACS called. That is the
least any design can do: a read alone cannot exclude a concurrent deletion on another instance, and a
limit shared by instances needs a write. The identity row is not read per request; it is written only
when activity is due. Invariants:

- at most one live ACS identity per user: the first caller claims the mapping (`creating`, under a
  lease) and creates; others wait (503 with the lease's real remaining time as Retry-After when it
  outlasts their wait). A deletion first marks the mapping `deleting` (conditional); while it says so,
  no identity is created: the next token request, counted in the user's limit first (finishing costs
  ACS calls too), finishes the deletion itself (revoke, delete, tombstone: idempotent) and only then
  creates a new one, and a retried DELETE /api/me deletes the identity the mapping still names;
- an erasure (erasure.py) marks the mapping `erasing` and leaves it `erased`: while it holds, and for
  a call that began before it ended, nothing is issued or created (503 + Retry-After);
- a token issue and a deletion of the same identity are exclusive: both are conditional writes of the
  same mapping version, so at most one succeeds; the loser re-reads. The cleanup and the
  administration claim an owned identity the same way;
- crash debris is bounded and visible: the ACS create is sent once (no transport retry), logged
  (`identity_created`) as soon as ACS answers, and its identity and activity-index rows are written
  before the mapping points at it, so the cleanup can always find it. The one open window (killed
  between ACS's answer and the identity row) is stated in the README.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from token_service.acs.gateway import AcsGateway, IssuedToken
from token_service.acs.rules import TokenRequest
from token_service.clock import Clock
from token_service.errors import IdentityNotFound, NotConfigured, RegistryUnavailable, ServiceError
from token_service.identities.lifecycle import CREATE_ABANDONED, IdentityLifecycle, tidy_up
from token_service.identities.limits import WINDOW, UserLimits
from token_service.registry import (
    Conflict,
    IdentityState,
    MappingChange,
    MappingState,
    RateWindow,
    Registry,
    UserMapping,
)
from token_service.settings import Settings

log = logging.getLogger("token_service.identity")

# How stale the recorded "last activity" may get before a token issue writes it again. Cleanup only
# considers identities idle for whole days, so minutes of slack never make a used identity stale.
ACTIVITY_RESOLUTION = timedelta(minutes=10)
CREATION_LEASE = timedelta(seconds=30)
WAIT_FOR_CREATOR = timedelta(seconds=15)
POLL_INTERVAL_SECONDS = 0.05
MAX_ATTEMPTS = 20
ERASURE_SETTLE = timedelta(seconds=2)
# An erased marker refuses calls begun before it; none runs longer than host.json's functionTimeout
# (10 min), so past this the cleanup may purge it (cleanup/purge.py).
ERASED_MARKER_LIFETIME = timedelta(minutes=15)


def refuse_during_erasure(mapping: UserMapping | None, began: datetime) -> None:
    """An erasure holds the user (`erasing`), or finished after this call began (`erased`): the call
    neither issues nor creates, or an identity could outlive the erasure's answer. Clocks of instances
    may differ by a little: ERASURE_SETTLE covers that, so a call begun just after the erasure answered
    may be refused too (503, retried at once)."""
    if mapping is None:
        return
    if mapping.state == MappingState.ERASING:
        raise RegistryUnavailable("this user's data is being erased; try again", retry_after=1)
    erased = mapping.erased_at
    if mapping.state == MappingState.ERASED and (erased is None or began <= erased + ERASURE_SETTLE):
        message = "this user's data was erased while this request was in flight; try again"
        raise RegistryUnavailable(message, retry_after=3)


class IdentityVanished(Exception):
    """ACS no longer has the identity the user's mapping named. It is retired like a deletion, so the
    token request reads the mapping again and creates a new identity."""


@dataclass(frozen=True)
class UserToken:
    communication_user_id: str
    token: IssuedToken
    created: bool


class UserIdentities:
    """One per worker; holds clients only. Every decision is a conditional write of shared state."""

    def __init__(self, registry: Registry, acs: AcsGateway, settings: Settings, clock: Clock) -> None:
        self._registry = registry
        self._acs = acs
        self._settings = settings
        self._clock = clock
        self._lifecycle = IdentityLifecycle(registry, acs, clock)
        self._limits = UserLimits(
            {
                "token": settings.limits.token_per_minute,
                "teams": settings.limits.teams_token_per_minute,
                "delete": settings.limits.delete_per_minute,
            }
        )

    async def token_for_user(self, user_key: str, request: TokenRequest) -> UserToken:
        """Get-or-create the user's identity and issue a token for it."""
        # Real time (the loop's monotonic clock, virtual in the simulator), not the injectable clock:
        # this bounds how long a request waits.
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_CREATOR.total_seconds()
        charged = False  # this request's count is written in the mapping's window already
        began = self._clock()
        while True:
            mapping = await self._registry.read_mapping(user_key)
            now = self._clock()
            refuse_during_erasure(mapping, began)
            try:
                if mapping is not None and mapping.state == MappingState.DELETING:
                    # Counted first: finishing the deletion costs ACS calls, so it is within the limit too.
                    counted = self._count(mapping, now, charged)
                    written = await self._registry.update_mapping(user_key, mapping, MappingChange(window=counted))
                    charged = True
                    await self._finish_user_deletion(written, "user-request")
                    continue
                if mapping is not None and mapping.state == MappingState.CREATING and mapping.acs_id is None:
                    lease = mapping.lease_until
                    if lease is not None and lease > now:  # another call is creating it right now
                        if asyncio.get_running_loop().time() >= deadline:
                            wait = math.ceil((lease - now).total_seconds())
                            raise RegistryUnavailable("this user's identity is being created", retry_after=wait)
                        await asyncio.sleep(POLL_INTERVAL_SECONDS)
                        continue
                counted = self._count(mapping, now, charged)
                if mapping is not None and mapping.state == MappingState.ACTIVE and mapping.acs_id is not None:
                    return await self._issue_for_mapping(mapping, counted, request, now)
                return await self._create_for_user(user_key, mapping, counted, request, now)
            except (Conflict, IdentityVanished) as changed:
                # Someone changed the mapping under us (or ACS lost its identity, now retired): read again,
                # after a short random pause so that many concurrent calls of one user do not collide
                # round after round.
                if asyncio.get_running_loop().time() >= deadline:
                    message = "this user's identity kept changing; try again"
                    raise RegistryUnavailable(message, retry_after=1) from changed
                await asyncio.sleep(random.uniform(0, POLL_INTERVAL_SECONDS))

    def _count(self, mapping: UserMapping | None, now: datetime, charged: bool) -> RateWindow:
        """The token window that counts this request, counted once even when the request goes round
        again (after finishing a deletion it had to count first)."""
        window = mapping.windows.get("token") if mapping is not None and charged else None
        if window is not None and window.start <= now < window.start + WINDOW:
            return window
        return self._limits.admit(mapping, "token", now)

    async def delete_for_user(self, user_key: str) -> None:
        for _ in range(MAX_ATTEMPTS):
            mapping = await self._registry.read_mapping(user_key)
            live = (MappingState.ACTIVE, MappingState.DELETING)
            if mapping is None or mapping.acs_id is None or mapping.state not in live:
                raise IdentityNotFound("you have no identity")
            counted = self._limits.admit(mapping, "delete", self._clock())
            await self._registry.note_pending_deletion(mapping.acs_id, "user-request", self._clock())
            try:
                marked = await self._registry.mark_mapping_deleting(mapping, counted)
            except Conflict:
                continue
            await self._finish_user_deletion(marked, "user-request")
            return
        raise RegistryUnavailable("your identity kept changing; try again", retry_after=1)

    async def exchange_teams_token(self, entra_token: str, user_object_id: str, user_key: str) -> IssuedToken:
        """The Teams exchange has no identity of ours; the user's mapping row still counts it (global)."""
        app_id = self._settings.tokens.teams_app_id
        if not app_id:
            raise NotConfigured("TEAMS_APP_ID is not set, so Teams token exchange is off")
        began = self._clock()
        for _ in range(MAX_ATTEMPTS):
            mapping = await self._registry.read_mapping(user_key)
            refuse_during_erasure(mapping, began)
            counted = self._limits.admit(mapping, "teams", self._clock())
            try:
                await self._registry.update_mapping(user_key, mapping, MappingChange(window=counted))
            except Conflict:
                continue
            return await self._acs.exchange_teams_token(entra_token, app_id, user_object_id)
        raise RegistryUnavailable("your rate window kept changing; try again", retry_after=1)

    async def _issue_for_mapping(
        self, mapping: UserMapping, counted: RateWindow, request: TokenRequest, now: datetime
    ) -> UserToken:
        assert mapping.acs_id is not None
        due = mapping.last_activity is None or now - mapping.last_activity >= ACTIVITY_RESOLUTION
        change = MappingChange(window=counted, last_activity=now if due else None)
        # The deciding write: it fails if a deletion (or anyone) wrote this mapping since we read it.
        written = await self._registry.update_mapping(mapping.user_key, mapping, change)
        try:
            token = await self._acs.issue_token(mapping.acs_id, request.scopes, request.minutes)
        except IdentityNotFound as missing:
            await tidy_up(
                self._retire(written, "missing-in-acs"),
                otherwise="identity missing in ACS not retired yet; the next token request retires it",
            )
            raise IdentityVanished(mapping.acs_id) from missing
        if due:
            await self._record_activity(mapping.acs_id, now, request.scopes)
        return UserToken(mapping.acs_id, token, created=False)

    async def _retire(self, mapping: UserMapping, reason: str) -> None:
        assert mapping.acs_id is not None
        await self._registry.note_pending_deletion(mapping.acs_id, reason, self._clock())
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
        self, user_key: str, mapping: UserMapping | None, counted: RateWindow, request: TokenRequest, now: datetime
    ) -> UserToken:
        claim = await self._registry.claim_mapping(user_key, now + CREATION_LEASE, mapping, counted)
        unclaim = "the mapping's creation claim was not released; its lease will expire"
        try:
            acs_id, token = await self._acs.create_identity(request.scopes, request.minutes)
        except BaseException:
            await tidy_up(self._registry.release_mapping(claim), otherwise=unclaim)
            raise
        assert token is not None
        self._lifecycle.log_created(acs_id, user_key)
        # The identity row (owner, activity index) first: from here on the cleanup can see it.
        record = self._lifecycle.new_record(acs_id, user_key, request.scopes, now, token_issued=True)
        try:
            record = await self._registry.insert_identity(record)
        except (ServiceError, Conflict):
            await self._lifecycle.undo_create(record)
            # Released at once: waiters need not wait out the lease.
            await tidy_up(self._registry.release_mapping(claim), otherwise=unclaim)
            raise
        self._lifecycle.log_registered(acs_id)
        try:
            await self._registry.complete_mapping(claim, acs_id, now)
        except (ServiceError, Conflict):
            # Our claim was taken over (lease ran out) or the write failed: this identity is nobody's.
            await self._lifecycle.undo_create(record, CREATE_ABANDONED)
            raise
        return UserToken(acs_id, token, created=True)

    async def _finish_user_deletion(self, mapping: UserMapping, reason: str) -> None:
        """The mapping says `deleting`: finish deleting the identity it names (idempotent, any instance)."""
        assert mapping.acs_id is not None
        for _ in range(MAX_ATTEMPTS):
            record = await self._registry.get_identity(mapping.acs_id)
            if record is None:  # a mapping whose identity has no row: write the row, so a tombstone ends it
                new = self._lifecycle.new_record(mapping.acs_id, mapping.user_key, (), self._clock(), token_issued=True)
                record = await self._registry.insert_identity(new)
            if record.state == IdentityState.DELETED:
                await self._registry.remove_mapping(mapping.user_key, record.acs_id)
                return
            if record.state == IdentityState.ACTIVE:
                try:
                    record = await self._registry.mark_deleting(record, reason, self._clock())
                except Conflict:
                    continue
            await self._lifecycle.finish_deletion(record, record.deleted_reason or reason)
            return
        raise RegistryUnavailable("the identity kept changing; try again", retry_after=1)
