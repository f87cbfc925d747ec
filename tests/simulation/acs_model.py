"""An in-memory ACS Identity resource behind the same methods as `token_service.acs.gateway.AcsGateway`.

Held to local_azure by tests/simulation/test_contract_acs.py. What it keeps: identities created,
revoked, deleted; 404 (IdentityNotFound) for an unknown or deleted identity on issue, revoke and
delete; 400 (InvalidRequest) for an id that is not this resource's; 429 (UpstreamThrottled with
retry_after), 503 (UpstreamUnavailable) and a spurious 404 when the weather says so; a response lost
after the operation took effect answers as a dropped connection does through the gateway
(UpstreamUnavailable), and a create whose caller was killed after ACS made it leaves the identity
(real ACS may finish a create its caller hung up on; local_azure drops it, see the contract suite).

It also remembers what the invariants need: each identity's history and which user's request made it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.simulation.actors import Actor, Instance, current_actor
from tests.simulation.weather import Calm, Fault, Weather
from token_service.acs.gateway import IssuedToken
from token_service.errors import (
    IdentityNotFound,
    InvalidRequest,
    UpstreamThrottled,
    UpstreamUnavailable,
)

RESOURCE = "00000000-5151-4ac5-9000-000000000001"
PREFIX = f"8:acs:{RESOURCE}_"
DEFAULT_MINUTES = 1440


@dataclass
class AcsIdentity:
    acs_id: str
    created_at: datetime
    created_for: str | None  # the user whose request created it (None: admin or unknown)
    created_by: Instance | None
    last_issue_at: datetime
    revoked_at: datetime | None = None
    deleted_at: datetime | None = None
    creator: Actor | None = None  # the request that created it (how it ended: Actor.result)

    @property
    def live(self) -> bool:
        return self.deleted_at is None


@dataclass
class AcsModel:
    clock: Callable[[], datetime]
    weather: Weather = field(default_factory=Calm)
    identities: dict[str, AcsIdentity] = field(default_factory=dict)
    retry_after: int = 2
    issued: list[tuple[str, datetime, Actor | None]] = field(default_factory=list)
    unanswered: set[str] = field(default_factory=set)  # creates whose caller never got the answer
    _created: int = 0

    async def close(self) -> None:
        return None

    async def create_identity(
        self, scopes: Sequence[str] | None, minutes: int | None
    ) -> tuple[str, IssuedToken | None]:
        await self._before("create")
        self._created += 1
        acs_id = f"{PREFIX}{self._created:08x}-0000-4000-8000-000000000000"
        actor = current_actor()
        now = self.clock()
        self.identities[acs_id] = AcsIdentity(
            acs_id, now, actor.user if actor else None, actor.instance if actor else None, now, creator=actor
        )
        token = self._token(acs_id, minutes) if scopes else None
        try:
            await self._after("create")
        except BaseException:
            self.unanswered.add(acs_id)
            raise
        return acs_id, token

    async def issue_token(self, user_id: str, scopes: Sequence[str], minutes: int | None) -> IssuedToken:
        await self._before("issue", user_id)
        identity = self._live(user_id)
        identity.last_issue_at = self.clock()
        token = self._token(user_id, minutes)
        await self._after("issue")
        return token

    async def revoke_tokens(self, user_id: str) -> None:
        await self._before("revoke", user_id)
        self._live(user_id).revoked_at = self.clock()
        await self._after("revoke")

    async def delete_identity(self, user_id: str) -> None:
        await self._before("delete", user_id)
        self._live(user_id).deleted_at = self.clock()
        await self._after("delete")

    async def exchange_teams_token(self, entra_token: str, app_id: str, user_object_id: str) -> IssuedToken:
        """Not simulated (no identity of ours is involved): the workloads never call it."""
        raise NotImplementedError("the simulation has no Teams tenant")

    # -- internals ---------------------------------------------------------------------------

    def live_ids(self) -> set[str]:
        return {acs_id for acs_id, identity in self.identities.items() if identity.live}

    def _live(self, acs_id: str) -> AcsIdentity:
        identity = self.identities.get(acs_id)
        if identity is None or not identity.live:
            raise IdentityNotFound("the identity does not exist in ACS")
        return identity

    def _token(self, acs_id: str, minutes: int | None) -> IssuedToken:
        now = self.clock()
        self.issued.append((acs_id, now, current_actor()))
        expires = now + timedelta(minutes=minutes or DEFAULT_MINUTES)
        return IssuedToken(f"sim-token-{len(self.issued)}", expires.isoformat(timespec="microseconds"))

    async def _before(self, op: str, acs_id: str | None = None) -> None:
        if acs_id is not None and not acs_id.startswith(PREFIX):
            await self.weather.before("acs", op)
            raise InvalidRequest("ACS rejected the request (InvalidIdentity)")
        actor = current_actor()
        if actor is not None:
            if actor.first_acs_at is None:
                actor.first_acs_at = self.clock()
            actor.acs_calls.append(op)
        fault = await self.weather.before("acs", op)
        if fault is Fault.THROTTLED:
            raise UpstreamThrottled(f"ACS throttled {op}", retry_after=self.retry_after)
        if fault is Fault.UNAVAILABLE:
            raise UpstreamUnavailable(f"ACS {op} failed (503)", retry_after=1)
        if fault is Fault.NOT_FOUND:
            raise IdentityNotFound("the identity does not exist in ACS")

    async def _after(self, op: str) -> None:
        if await self.weather.after("acs", op) is Fault.LOST:
            raise UpstreamUnavailable(f"ACS {op}: connection failed", retry_after=5)
