"""One cleanup run at a time: the cleanup lease and claims with an owner and an expiry, against real
Azurite and local_azure (the world and its helpers are test_cleanup.py's)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.function_app.test_cleanup import NOW, World
from tests.function_app.test_cleanup import world as world
from token_service.cleanup.run import StaleIdentityCleanup
from token_service.registry import (
    LEASE_KEY,
    ActivityEntry,
    CleanupClaim,
    CleanupLease,
    CleanupLeaseHeld,
    IdentityState,
    Registry,
)


def acs_calls(world: World) -> tuple[int, int]:
    operations = world.caller.local_azure.stats()["operations"]
    return sum(operations["revoke"].values()), sum(operations["delete"].values())


async def test_a_second_run_does_not_start_and_names_the_holder(world: World) -> None:
    await world.populate(stale_users=2, stale_admin=0, fresh_users=0)
    holder = world.runtime.registry.cleanup_lease("instance-a pid 41 timer")
    await holder.acquire()
    world.caller.local_azure.reset_stats()

    with pytest.raises(CleanupLeaseHeld) as held:
        await world.cleanup().run()
    assert held.value.holder.owner == "instance-a pid 41 timer"
    assert "instance-a pid 41 timer until " in str(held.value)
    assert acs_calls(world) == (0, 0), "a run that did not get the lease touched ACS"

    await holder.release()
    summary = await world.cleanup().run()
    assert summary.deleted == 2
    await world.assert_converged()


async def test_the_lease_of_a_dead_run_is_taken_over_once_expired(world: World) -> None:
    await world.populate(stale_users=1, stale_admin=1, fresh_users=1)
    table = world.runtime.registry._table
    expired = datetime.now(UTC) - timedelta(seconds=1)
    await table.create({"PartitionKey": LEASE_KEY, "RowKey": LEASE_KEY, "owner": "dead pid 7 timer",
                        "token": "dead", "until": expired})  # fmt: skip
    summary = await world.cleanup().run()
    assert summary.deleted == 2
    await world.assert_converged()
    assert await table.get(LEASE_KEY, LEASE_KEY) is None, "the run did not give the lease back"


async def test_a_run_that_loses_its_lease_starts_no_new_work(world: World) -> None:
    """Another run takes the lease over (as after an expiry while this one stalled): at its next renewal
    this run sees it, starts nothing more, and leaves the rest consistent for the next run."""
    await world.populate(stale_users=3, stale_admin=2, fresh_users=1)
    runtime = world.runtime
    cleanup: StaleIdentityCleanup | None = None
    usurper = CleanupLease(runtime.registry._table, "usurper pid 2 cli")

    class StealingRegistry(Registry):
        async def claim_for_cleanup(
            self, entry: ActivityEntry, reason: str, now: datetime, claim: CleanupClaim | None = None
        ) -> bool:
            if not usurper.held:
                row = await self._table.get(LEASE_KEY, LEASE_KEY)
                await self._table.replace({**row, "owner": "usurper", "token": "usurper"}, row.metadata["etag"])
                assert cleanup is not None
                for _ in range(200):  # wait (bounded) for the renewal to notice
                    if cleanup.lease_lost:
                        break
                    await asyncio.sleep(0.05)
                await self._table.delete(LEASE_KEY, LEASE_KEY)
                await usurper.acquire()
            return await super().claim_for_cleanup(entry, reason, now, claim)

    policy = runtime.cleanup().policy
    cleanup = StaleIdentityCleanup(
        StealingRegistry(runtime.registry._table), runtime.background_acs, runtime.clock,
        replace(policy, concurrency=1, lease_seconds=0.6),
    )  # fmt: skip
    summary = await cleanup.run()
    assert cleanup.lease_lost
    assert (summary.deleted, summary.stopped_early) == (1, "lease_lost")
    row = await runtime.registry._table.get(LEASE_KEY, LEASE_KEY)
    assert row is not None and row["owner"] == "usurper pid 2 cli", "the losing run deleted the new holder's lease"
    await usurper.release()
    await world.cleanup().run()
    await world.assert_converged()


async def test_a_live_runs_claim_is_skipped_and_an_expired_one_resumed(world: World) -> None:
    await world.populate(stale_users=1, stale_admin=1, fresh_users=0)
    registry = world.runtime.registry
    entries = [entry async for entry in registry.stale_activity("99991231")]
    held = entries[0]
    other = CleanupClaim("instance-b pid 9 timer run 1234", NOW + timedelta(minutes=5))
    assert await registry.claim_for_cleanup(held, "stale", NOW, other)
    world.caller.local_azure.reset_stats()

    first = await world.cleanup().run()
    assert first.skipped_live_claims == 1
    assert first.deleted == 1  # the other, unclaimed identity
    record = await registry.get_identity(held.acs_id)
    assert record is not None and record.state == IdentityState.DELETING
    assert held.acs_id in {i["id"] for i in world.caller.local_azure.identities(live_only=True)}
    assert acs_calls(world) == (1, 1), "the run touched an identity another live run holds"

    world.clock[0] = NOW + timedelta(minutes=6)  # that run died: its claim expired
    second = await world.cleanup().run()
    assert (second.resumed, second.deleted, second.skipped_live_claims) == (1, 1, 0)
    world.clock[0] = NOW
    await world.assert_converged()


async def test_claims_carry_the_run_and_an_expiry(world: World) -> None:
    await world.populate(stale_users=1, stale_admin=0, fresh_users=0)
    acs_id = next(iter(world.stale_ids))
    world.caller.local_azure.set_faults(fail_after={"calls": 1, "status": 503})
    cleanup = world.cleanup()
    summary = await cleanup.run()  # revoke done, delete failed: the claim stays, given back at the end
    assert summary.failed == 1
    claim = await world.runtime.registry.get_claim(acs_id)
    assert claim is not None and claim.state == IdentityState.DELETING
    assert claim.claimed_by == cleanup.owner
    assert " pid " in cleanup.owner and " timer run " in cleanup.owner
    assert claim.claim_until is not None and claim.claim_until <= NOW, "an ended run kept its claim live"
    world.caller.local_azure.reset_faults()
    assert (await world.cleanup().run()).resumed == 1
    await world.assert_converged()


async def test_the_repair_pass_finishes_started_deletions_only(world: World) -> None:
    """A request marked an identity deleting and died: the hourly repair pass finishes it, and leaves
    stale identities to the daily run."""
    await world.populate(stale_users=1, stale_admin=0, fresh_users=1)
    registry = world.runtime.registry
    record, _ = await world.runtime.admin.create_identity(None)
    await registry.mark_deleting(record, "admin", NOW)  # then the instance was killed

    summary = await world.runtime.cleanup("repair", repair_only=True).run()
    assert (summary.resumed, summary.deleted, summary.stale) == (1, 1, 0)
    assert " repair run " in summary.owner
    tombstone = await registry.get_identity(record.acs_id)
    assert tombstone is not None and tombstone.state == IdentityState.DELETED
    assert [acs_id async for acs_id, _ in registry.pending_deletions()] == []
    stale_user_id = next(iter(world.stale_users.values()))
    assert stale_user_id in {i["id"] for i in world.caller.local_azure.identities(live_only=True)}
    await world.cleanup().run()
    await world.assert_converged()
