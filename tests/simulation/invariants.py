"""The promises (docs/promises.md) as checks on the models' state; tests/simulation/README.md maps each
to its sentence. Safety checks run after every model call; the eventual ones after the healing phase.
Each violation is one line naming the invariant, so a failing seed says which promise broke.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.simulation.acs_model import PREFIX
from tests.simulation.actors import Actor
from tests.simulation.world import TOKEN_LIMIT, Outcome, World
from token_service.registry import user_partition


def short(acs_id: str) -> str:
    """The model's ids differ only in their counter: `id#5`."""
    return "id#" + acs_id[len(PREFIX) : len(PREFIX) + 8].lstrip("0")


ONE_IDENTITY = "one-identity-per-user"
NO_TOKEN_AFTER_DELETION = "no-token-after-deletion-began"
USER_LIMIT = "per-user-limit-across-instances"
NEVER_500 = "bad-conditions-never-500"
STALE_DELETED = "stale-deleted-within-two-runs"
NO_GHOST = "no-active-row-without-acs-identity"
TOMBSTONE_TRUE = "tombstoned-means-deleted-in-acs"
ERASED = "erased-user-leaves-nothing"
ORPHANS_BOUNDED = "orphans-only-from-unanswered-creates"


@dataclass
class Invariants:
    world: World
    actors: list[Actor] = field(default_factory=list)
    erasures: list[tuple[str, int]] = field(default_factory=list)  # user, call count when it answered
    violations: list[str] = field(default_factory=list)
    began: dict[str, int] = field(default_factory=dict)  # acs id -> call count when its deletion was seen
    _issues_seen: int = 0
    orphans: int = 0

    def fail(self, name: str, detail: str) -> None:
        line = f"{name}: {detail}"
        if line not in self.violations:
            self.violations.append(line)
            self.world.weather.trace.append(f"  VIOLATION {line}")

    # -- after every call ----------------------------------------------------------------------

    def safety(self) -> None:
        world, step = self.world, self.world.weather.calls
        identities, mappings = self._rows()
        for acs_id, row in identities.items():
            if row.get("state") in ("deleting", "deleted"):
                self.began.setdefault(acs_id, step)
        for row in mappings.values():
            if row.get("state") == "deleting" and row.get("acs_id"):
                self.began.setdefault(row["acs_id"], step)
        for acs_id, _, actor in world.acs.issued[self._issues_seen :]:
            began = self.began.get(acs_id)
            if began is not None and actor is not None and actor.started > began:
                self.fail(
                    NO_TOKEN_AFTER_DELETION, f"{actor.route} of {actor.user} began after {short(acs_id)}'s deletion"
                )
        self._issues_seen = len(world.acs.issued)
        live_per_user: dict[str, int] = defaultdict(int)
        for identity in world.acs.identities.values():
            if not identity.live or identity.created_for is None:
                continue
            mapping = mappings.get(user_partition(identity.created_for), {})
            mapped = mapping.get("acs_id") == identity.acs_id
            # Unmapped, it is the user's while its creator runs or if the creator answered with a token;
            # a create whose request failed (answer lost, registry refused, undo pending) is nobody's: the
            # orphan invariant holds it after healing.
            creator = identity.creator
            users = creator is not None and not creator.instance.dead and creator.result in (None, "ok")
            if mapped or (users and identity.acs_id not in world.acs.unanswered):
                live_per_user[identity.created_for] += 1
        for user, count in live_per_user.items():
            if count > 1:
                self.fail(ONE_IDENTITY, f"{user} has {count} live identities")
        self._limits()

    def _limits(self) -> None:
        """Fixed one-minute windows admit `limit` each, so any 60 s span sees at most twice that."""
        reached: dict[str, list[datetime]] = defaultdict(list)
        for actor in self.actors:
            if actor.route == "token" and actor.user and actor.first_acs_at is not None:
                reached[actor.user].append(actor.first_acs_at)
        for user, times in reached.items():
            times.sort()
            for i in range(len(times) - 2 * TOKEN_LIMIT):
                if times[i + 2 * TOKEN_LIMIT] - times[i] < timedelta(minutes=1):
                    self.fail(USER_LIMIT, f"{user}: {2 * TOKEN_LIMIT + 1} token requests reached ACS within 60 s")
                    break

    def outcome(self, outcome: Outcome) -> None:
        if outcome.result.startswith("UNEXPECTED"):
            self.fail(NEVER_500, f"{outcome.op} of {outcome.actor.user}: {outcome.result}")

    # -- after healing -------------------------------------------------------------------------

    def eventual(self) -> None:
        acs = self.world.acs
        identities, mappings = self._rows()
        for acs_id, identity in acs.identities.items():
            if not identity.live:
                continue
            row = identities.get(acs_id)
            if row is None:
                if self._excused(acs_id, identities):
                    self.orphans += 1
                else:
                    self.fail(
                        ORPHANS_BOUNDED, f"{short(acs_id)} is live in ACS, no row names it, its create was answered"
                    )
            elif row.get("state") == "deleted":
                self.fail(
                    TOMBSTONE_TRUE, f"{short(acs_id)} is tombstoned ({row.get('deleted_reason')}) but live in ACS"
                )
            else:
                self.fail(STALE_DELETED, f"{short(acs_id)} ({row.get('state')}) is live after two cleanup runs")
        live = acs.live_ids()
        for acs_id, row in identities.items():
            if row.get("state") == "active" and acs_id not in live:
                self.fail(NO_GHOST, f"identity row {short(acs_id)} is active, ACS has no such identity")
        for row in mappings.values():
            if row.get("state") == "active" and row.get("acs_id") not in live:
                self.fail(NO_GHOST, f"mapping of {row.get('user_key')} is active for an identity ACS does not have")
        self._erasures(identities)

    def _erasures(self, identities: dict[str, dict[str, Any]]) -> None:
        for user, answered in self.erasures:
            if any(a.user == user and a.started > answered for a in self.actors):
                continue  # the user came back after the erasure: a new identity is theirs
            for identity in self.world.acs.identities.values():
                if identity.live and identity.created_for == user and not self._excused(identity.acs_id, identities):
                    self.fail(ERASED, f"{user} erased, yet an identity made for them is live")
            for (pk, _rk), row in self.world.table.rows.items():
                if any(value == user for value in row.values.values()):
                    self.fail(ERASED, f"{user} erased, yet row {pk[:12]}.. still names them (raw key)")
                    break

    def _excused(self, acs_id: str, identities: dict[str, dict[str, Any]]) -> bool:
        """The stated window: no row names it and its caller never got ACS's answer (killed or hung up)."""
        identity = self.world.acs.identities[acs_id]
        unanswered = acs_id in self.world.acs.unanswered or (
            identity.created_by is not None and identity.created_by.dead
        )
        return unanswered and acs_id not in identities

    def _rows(self) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        identities: dict[str, dict[str, Any]] = {}
        mappings: dict[str, dict[str, Any]] = {}
        for (pk, rk), row in self.world.table.rows.items():
            if pk != rk:
                continue
            if pk.startswith(PREFIX):
                identities[pk] = row.values
            elif pk.startswith("user_"):
                mappings[pk] = row.values
        return identities, mappings
