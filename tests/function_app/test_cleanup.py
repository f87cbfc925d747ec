"""The stale-identity cleanup against real local_azure and Azurite, with a controllable clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.function_app.clocked import NOW, OLD, ClockedRuntime, clocked_runtime
from tests.function_app.harness import Caller, new_user
from token_service.acs.gateway import AcsCall, AcsGateway
from token_service.cleanup.decisions import MARKER_GRACE
from token_service.cleanup.policy import CleanupPolicy, CleanupSummary
from token_service.cleanup.run import StaleIdentityCleanup
from token_service.errors import UpstreamThrottled
from token_service.http.inputs import checked_token_request
from token_service.identities.erasure import erase_user
from token_service.registry import (
    ActivityEntry,
    CleanupClaim,
    IdentityState,
    MappingState,
    RateWindow,
    Registry,
    UserMapping,
)


@dataclass
class World(ClockedRuntime):
    """The identities made for the test, stale and fresh, on a clocked runtime."""

    stale_users: dict[str, str] = field(default_factory=dict)  # user -> acs id
    stale_admin: list[str] = field(default_factory=list)
    fresh_users: dict[str, str] = field(default_factory=dict)

    @property
    def stale_ids(self) -> set[str]:
        return set(self.stale_users.values()) | set(self.stale_admin)

    @property
    def fresh_ids(self) -> set[str]:
        return set(self.fresh_users.values())

    async def populate(self, stale_users: int = 2, stale_admin: int = 1, fresh_users: int = 1) -> None:
        for _ in range(stale_users):
            user = new_user()
            self.stale_users[user] = await self.user_identity(user, OLD)
        for _ in range(stale_admin):
            self.stale_admin.append(await self.admin_identity(OLD))
        for _ in range(fresh_users):
            user = new_user()
            self.fresh_users[user] = await self.user_identity(user, NOW - timedelta(days=2))
        self.clock[0] = NOW

    def cleanup(self, **changes: Any) -> StaleIdentityCleanup:
        return self.runtime.cleanup(**changes)

    async def assert_converged(self) -> None:
        """The state an uninterrupted run leaves: stale gone everywhere, fresh untouched, no leftovers."""
        live = {identity["id"] for identity in self.caller.local_azure.identities(live_only=True)}
        assert not (self.stale_ids & live), "a stale identity is still live in ACS"
        assert self.fresh_ids <= live, "a fresh identity was deleted in ACS"
        registry = self.runtime.registry
        for acs_id in self.stale_ids:
            record = await registry.get_identity(acs_id)
            assert record is not None and record.state == IdentityState.DELETED, (acs_id, record)
            assert record.deleted_reason == "stale"
        for user in self.stale_users:
            left = await registry.read_mapping(user)
            assert left is None or left.state == MappingState.IDLE, left
        for user, acs_id in self.fresh_users.items():
            record = await registry.get_identity(acs_id)
            assert record is not None and record.state == IdentityState.ACTIVE
            mapping = await registry.read_mapping(user)
            assert mapping is not None and mapping.acs_id == acs_id
        assert [acs_id async for acs_id, _ in registry.pending_deletions()] == []
        indexed = {entry.acs_id async for entry in registry.stale_activity("99991231")}
        assert indexed == self.fresh_ids


@pytest.fixture
async def world(caller: Caller, app_environment: dict[str, str], acs_faults: Any) -> AsyncIterator[World]:
    yield World(*await clocked_runtime(app_environment, "cleanup"), caller)


async def test_only_stale_identities_go_and_their_users_start_over(world: World) -> None:
    await world.populate(stale_users=2, stale_admin=1, fresh_users=1)
    refreshed_user = new_user()
    refreshed_id = await world.user_identity(refreshed_user, OLD)
    await world.user_identity(refreshed_user, NOW - timedelta(hours=1))  # used again recently
    world.fresh_users[refreshed_user] = refreshed_id
    world.clock[0] = NOW

    summary = await world.cleanup().run()

    assert (summary.stale, summary.revoked, summary.deleted, summary.failed) == (3, 3, 3, 0)
    assert summary.scanned == 3  # the index held only candidates: the fresh rows were never read
    await world.assert_converged()
    user = next(iter(world.stale_users))
    reply = await world.caller.call("issue_user_token", "POST", "token", token=world.caller.user_token(user))
    assert reply.status == 201
    assert reply.json["communicationUserId"] != world.stale_users[user]


async def test_dry_run_changes_nothing(world: World) -> None:
    await world.populate()
    live_before = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    summary = await world.cleanup(dry_run=True).run()
    assert summary.dry_run is True
    assert set(summary.would_delete) == world.stale_ids
    assert (summary.revoked, summary.deleted) == (0, 0)
    assert {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)} == live_before
    for acs_id in world.stale_ids:
        record = await world.runtime.registry.get_identity(acs_id)
        assert record is not None and record.state == IdentityState.ACTIVE


async def test_token_issued_while_the_run_decides_wins(world: World) -> None:
    """The index says stale; just before the claim the user gets a token. The identity must survive."""
    await world.populate(stale_users=1, stale_admin=0, fresh_users=0)
    user, acs_id = next(iter(world.stale_users.items()))
    runtime = world.runtime

    class RacingRegistry(Registry):
        async def claim_for_cleanup(
            self, entry: ActivityEntry, reason: str, now: datetime, claim: CleanupClaim | None = None
        ) -> bool:
            world.clock[0] = NOW
            request = checked_token_request(None, None, runtime.settings)
            await runtime.users.token_for_user(user, request)  # real token issue, real storage
            return await super().claim_for_cleanup(entry, reason, now, claim)

    registry = RacingRegistry(runtime.registry._table)
    cleanup = StaleIdentityCleanup(registry, runtime.background_acs, runtime.clock, CleanupPolicy(30, 100, 60, False))
    summary = await cleanup.run()
    assert (summary.stale, summary.deleted, summary.survived) == (1, 0, 1)
    record = await runtime.registry.get_identity(acs_id)
    assert record is not None and record.state == IdentityState.ACTIVE
    assert acs_id in {i["id"] for i in world.caller.local_azure.identities(live_only=True)}


async def test_throttling_errors_and_latency_converge_within_budgeted_runs(world: World) -> None:
    await world.populate(stale_users=3, stale_admin=3, fresh_users=1)
    world.caller.local_azure.reset_stats()
    world.caller.local_azure.set_faults(
        latency_ms=50,
        error_rate=0.2,
        rate_limits={"revoke": {"limit": 2, "window_seconds": 1}, "delete": {"limit": 2, "window_seconds": 1}},
    )
    summaries: list[CleanupSummary] = []
    # Each stale identity needs a revoke and a delete that both pass the 20% error rate (0.64 a run), so
    # one survives n runs with probability 0.36^n: 8 runs failed about once in 500 suites; 20 runs make
    # that ~1e-9. Convergence usually takes 2-3 runs (the loop stops there).
    for _ in range(20):
        summary = await world.cleanup(time_budget_seconds=2.0, acs_calls_per_second=50).run()
        summaries.append(summary)
        if summary.stale == 0 and summary.resumed == 0:
            break
    await world.assert_converged()
    revokes = world.caller.local_azure.stats()["operations"]["revoke"]
    assert revokes.get("429", 0) > 0, f"the rate limit was never hit, so this tested nothing: {revokes}"


async def test_per_run_cap_leaves_the_rest_for_the_next_run(world: World) -> None:
    await world.populate(stale_users=2, stale_admin=2, fresh_users=1)
    first = await world.cleanup(max_per_run=3).run()
    assert (first.deleted, first.stopped_early) == (3, "max_per_run")
    second = await world.cleanup(max_per_run=3).run()
    assert second.deleted == 1
    await world.assert_converged()


INTERRUPTIONS = (
    [("503", k) for k in range(0, 10)] + [("drop", k) for k in range(0, 10)] + [("cancel", k) for k in (1, 3, 5, 7, 9)]
)


@pytest.mark.parametrize(("kind", "after_calls"), INTERRUPTIONS)
async def test_interrupted_run_then_rerun_converges(world: World, kind: str, after_calls: int) -> None:
    """Interrupted after k ACS calls (3 user-owned + 2 admin stale identities make 10 calls), then rerun."""
    await world.populate(stale_users=3, stale_admin=2, fresh_users=2)
    local = world.caller.local_azure
    if kind == "cancel":
        task: asyncio.Task[CleanupSummary] | None = None
        calls = 0

        def count(call: AcsCall) -> None:
            nonlocal calls
            calls += 1
            if calls == after_calls and task is not None:
                task.cancel()

        gateway = AcsGateway(
            world.runtime.settings.acs.endpoint, world.runtime.credential, max_retry_after=0, on_call=count
        )
        cleanup = StaleIdentityCleanup(
            world.runtime.registry, gateway, world.runtime.clock, CleanupPolicy(30, 100, 60, False)
        )
        task = asyncio.create_task(cleanup.run())
        with pytest.raises(asyncio.CancelledError):
            await task
        await gateway.close()
    else:
        status: Any = 503 if kind == "503" else "drop"
        local.set_faults(fail_after={"calls": after_calls, "status": status})
        interrupted = await world.cleanup().run()
        assert interrupted.deleted < 5
        local.reset_faults()
    final = await world.cleanup().run()
    assert final.failed == 0
    await world.assert_converged()


@pytest.mark.parametrize("mapping_marked", [True, False])
async def test_repair_finishes_a_user_deletion_killed_between_mapping_and_identity_row(
    world: World, mapping_marked: bool
) -> None:
    """DELETE /api/me writes the deleting index, then the mapping (`deleting`), then the identity row. Killed
    after the mapping, the identity row still says active but no token may be issued any more: the repair
    pass must finish the deletion. Killed before the mapping (control), nothing began: it only drops the
    marker and the identity lives on."""
    user = new_user()
    acs_id = await world.user_identity(user, NOW)
    registry = world.runtime.registry
    await registry.note_pending_deletion(acs_id, "user-request", NOW)
    if mapping_marked:
        mapping = await registry.read_mapping(user)
        assert mapping is not None
        await registry.mark_mapping_deleting(mapping)
    world.clock[0] = NOW + MARKER_GRACE  # the request that wrote the marker cannot still be running
    summary = await world.cleanup(kind="repair", repair_only=True).run()
    record = await registry.get_identity(acs_id)
    live = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    assert [marker async for marker, _ in registry.pending_deletions()] == []
    assert summary.resumed == 1
    if mapping_marked:
        assert record is not None and record.state == IdentityState.DELETED
        assert acs_id not in live and summary.deleted == 1
    else:
        assert record is not None and record.state == IdentityState.ACTIVE
        assert acs_id in live and summary.deleted == 0


async def test_a_repair_pass_between_a_user_deletions_marker_and_its_mapping_keeps_the_marker(world: World) -> None:
    """DELETE /api/me writes the deleting index, then marks the mapping. A repair pass that reads the
    marker in between sees an active row and an active mapping; if it dropped the marker and the request
    were then killed, nothing would finish the deletion. The marker is kept while the request may still
    run, so the next pass (within the hour) finishes it."""
    user = new_user()
    acs_id = await world.user_identity(user, NOW)
    runtime = world.runtime

    class Killed(Exception):
        pass

    class RacingRegistry(Registry):
        async def mark_mapping_deleting(self, mapping: UserMapping, window: RateWindow | None = None) -> UserMapping:
            await world.cleanup(kind="repair", repair_only=True).run()  # the pass reads the fresh marker
            await super().mark_mapping_deleting(mapping, window)
            raise Killed  # the request dies right after the mapping says deleting

    runtime.users._registry = RacingRegistry(runtime.registry._table)
    with pytest.raises(Killed):
        await runtime.users.delete_for_user(user)
    world.clock[0] = NOW + timedelta(minutes=30)  # the next repair pass
    summary = await world.cleanup(kind="repair", repair_only=True).run()
    live = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    assert acs_id not in live, f"the deletion was never finished: {summary}"
    record = await runtime.registry.get_identity(acs_id)
    assert record is not None and record.state == IdentityState.DELETED
    assert [marker async for marker, _ in runtime.registry.pending_deletions()] == []


async def test_a_spurious_404_on_revoke_never_tombstones_a_live_identity(world: World) -> None:
    """ACS answers 404 to the revoke of an identity it still has: the cleanup must still delete it, and
    only a 404 on the delete means "gone"."""
    await world.populate(stale_users=1, stale_admin=1, fresh_users=0)
    world.caller.local_azure.set_faults(fail_after={"calls": 0, "status": 404, "ops": ["revoke"]})
    summary = await world.cleanup().run()
    world.caller.local_azure.reset_faults()
    live = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    assert not (world.stale_ids & live), f"tombstoned but live in ACS: {summary}"
    assert summary.deleted == 2
    await world.assert_converged()


async def test_a_spurious_404_on_revoke_never_ends_a_users_deletion_early(world: World) -> None:
    user = new_user()
    acs_id = await world.user_identity(user, NOW)
    world.caller.local_azure.set_faults(fail_after={"calls": 0, "status": 404, "ops": ["revoke"]})
    try:
        await world.runtime.users.delete_for_user(user)
    finally:
        world.caller.local_azure.reset_faults()
    live = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    assert acs_id not in live, "tombstoned but live in ACS"


async def test_an_identity_whose_last_request_failed_at_acs_is_still_cleaned_up(world: World) -> None:
    """A token request writes the mapping's activity before calling ACS; the identity row only after
    ACS succeeds. When a user's last request fails at ACS, the mapping stays newer than the row: the
    cleanup must judge by the mapping's time (and re-index the row to it), not count it "in use" forever."""
    user, recent_user = new_user(), new_user()
    acs_id = await world.user_identity(user, NOW - timedelta(days=200))
    recent_id = await world.user_identity(recent_user, NOW - timedelta(days=200))
    world.caller.local_azure.set_faults(rate_limits={"issue": {"limit": 0, "window_seconds": 60}})
    for key, days in ((user, 100), (recent_user, 10)):
        with pytest.raises(UpstreamThrottled):
            await world.user_identity(key, NOW - timedelta(days=days))
    world.caller.local_azure.reset_faults()
    world.clock[0] = NOW
    first = await world.cleanup().run()
    second = await world.cleanup().run()
    live = {identity["id"] for identity in world.caller.local_azure.identities(live_only=True)}
    assert acs_id not in live, f"never deleted: {first} / {second}"
    record = await world.runtime.registry.get_identity(acs_id)
    assert record is not None and record.state == IdentityState.DELETED
    assert (first.deleted, first.survived) == (1, 1), first
    # The one used 10 days ago survives, re-indexed to that day: the next run does not read it again.
    assert recent_id in live
    recent = await world.runtime.registry.get_identity(recent_id)
    assert recent is not None and recent.last_activity == NOW - timedelta(days=10)
    assert (second.scanned, second.deleted) == (0, 0), second


async def test_tombstones_past_their_retention_and_old_erasure_markers_are_purged(world: World) -> None:
    """Tombstones are kept TOMBSTONE_RETENTION_DAYS (default 30) for audit, then the cleanup removes them
    and their index rows; an erasure's bare marker goes once no request begun before it can run."""
    registry = world.runtime.registry
    old_user, recent_user, erased_user, fresh_erased = new_user(), new_user(), new_user(), new_user()
    old_id = await world.user_identity(old_user, NOW - timedelta(days=50))
    recent_id = await world.user_identity(recent_user, NOW - timedelta(days=20))
    for user, days in ((old_user, 40), (recent_user, 10)):
        world.clock[0] = NOW - timedelta(days=days)
        await world.runtime.users.delete_for_user(user)
    world.clock[0] = NOW - timedelta(hours=1)
    await erase_user(registry, world.runtime.acs, world.runtime.clock, erased_user, "admin-hash")
    world.clock[0] = NOW
    await erase_user(registry, world.runtime.acs, world.runtime.clock, fresh_erased, "admin-hash")

    summary = await world.cleanup().run()
    assert await registry.get_identity(old_id) is None, f"a tombstone past its retention stays: {summary}"
    kept = await registry.get_identity(recent_id)
    assert kept is not None and kept.state == IdentityState.DELETED
    rows = [dict(entity) async for entity in registry._table._table.list_entities()]
    assert [row for row in rows if old_id in (row["PartitionKey"], row["RowKey"])] == [], "its index rows stay"
    assert await registry.read_mapping(erased_user) is None, "an erasure marker an hour old stays"
    marker = await registry.read_mapping(fresh_erased)
    assert marker is not None and marker.state == MappingState.ERASED
    assert (summary.purged, summary.erasures_purged) == (1, 1)
