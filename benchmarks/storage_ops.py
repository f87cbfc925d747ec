"""Storage operations per app operation, counted at the storage endpoint (issue 23, item 4).

    python -m benchmarks.storage_ops

The real function_app (its registered functions called with real `azure.functions.HttpRequest`s, as
the Functions host would, or its cleanup run as the timer runs it) on a registry whose Table endpoint is
`local_azure.storage_proxy` in front of Azurite. Each scenario gets a fresh table and its own clock;
its setup is not counted; then the proxy's counts are zeroed, the operation runs once, and every round
trip it made to Table Storage is read back by method and kind (GET entity, GET query, POST insert, PUT,
MERGE, DELETE, each conditional (`if-match`) or not), with the ACS data-plane calls local_azure counted.

`tests/function_app/test_storage_ops.py` runs these same scenarios and holds the exact counts, so a change
that adds a round trip fails a test; this module publishes them (results/storage_ops.json, a Markdown
table on stdout) so the expected figures can be re-read after a change that means to move them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from benchmarks.app_world import ADMIN_ROLE, NOW, STALE, World, expect, user_key
from local_azure.process import LocalAzureProcess
from local_azure.storage_proxy import StorageProxyProcess

Step = Callable[[World], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    setup: Step
    act: Step


async def _ensure_table(world: World) -> None:
    await world.services.registry.ensure_table()


async def _steady(world: World) -> None:
    oid, _ = await world.user_with_identity(NOW - timedelta(minutes=1))
    world.notes["oid"] = oid


async def _due(world: World) -> None:
    oid, _ = await world.user_with_identity(NOW - timedelta(minutes=11))  # activity resolution is 10 minutes
    world.notes["oid"] = oid


async def _token_again(world: World) -> None:
    expect(await world.call("issue_user_token", "POST", "token", world.user_token(world.notes["oid"])), 200)


async def _token_first(world: World) -> None:
    expect(await world.call("issue_user_token", "POST", "token", world.user_token("user-" + uuid.uuid4().hex)), 201)


async def _user_setup(world: World) -> None:
    world.notes["oid"], world.notes["acs_id"] = await world.user_with_identity()


async def _delete_me(world: World) -> None:
    expect(await world.call("delete_me", "DELETE", "me", world.user_token(world.notes["oid"])), 204)


async def _admin_delete(world: World) -> None:
    params = {"id": world.notes["acs_id"]}
    expect(
        await world.call("delete_identity", "DELETE", "identities/{id}", world.admin_token(), route_params=params), 204
    )


async def _unowned_setup(world: World) -> None:
    answer = await world.call("create_identity", "POST", "identities", world.admin_token(), body={})
    expect(answer, 201)
    world.notes["acs_id"] = answer.body["communicationUserId"]


async def _erase(world: World) -> None:
    body = {"userKey": user_key(world.notes["oid"])}
    expect(await world.call("erase_user_identities", "POST", "users/erase", world.admin_token(), body=body), 204)


def _stale_setup(count: int) -> Step:
    async def setup(world: World) -> None:
        await world.services.registry.ensure_table()
        for _ in range(count):
            await world.user_with_identity(STALE)

    return setup


async def _cleanup_run(world: World) -> None:
    summary = await world.services.cleanup().run()
    world.notes["cleanup"] = repr(summary)


async def _listing_setup(world: World) -> None:
    for _ in range(5):
        await world.user_with_identity()


async def _list_page(world: World) -> None:
    answer = await world.call("list_identities", "GET", "identities", world.admin_token(), params={"pageSize": "5"})
    expect(answer, 200)
    if len(answer.body["items"]) != 5:
        raise AssertionError(f"expected a page of 5, got {len(answer.body['items'])}")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("token_steady", "POST /api/token, known user, activity recorded < 10 min ago", _steady, _token_again),
    Scenario("token_activity", "POST /api/token, known user, activity due (> 10 min ago)", _due, _token_again),
    Scenario("token_first_call", "POST /api/token, new user (creates the identity, 201)", _ensure_table, _token_first),
    Scenario("delete_me", "DELETE /api/me (revoke, delete, tombstone)", _user_setup, _delete_me),
    Scenario("admin_delete_owned", "DELETE /api/identities/{id}, a user's identity", _user_setup, _admin_delete),
    Scenario("admin_delete_unowned", "DELETE /api/identities/{id}, no owner", _unowned_setup, _admin_delete),
    Scenario("erasure", "POST /api/users/erase, a user with one identity", _user_setup, _erase),
    Scenario("cleanup_run_0", "cleanup run, nothing stale (the run's fixed cost)", _ensure_table, _cleanup_run),
    Scenario("cleanup_run_1", "cleanup run, 1 stale user identity", _stale_setup(1), _cleanup_run),
    Scenario("cleanup_run_2", "cleanup run, 2 stale user identities", _stale_setup(2), _cleanup_run),
    Scenario("listing_page", "GET /api/identities?pageSize=5, a page of 5", _listing_setup, _list_page),
)


@dataclass(frozen=True)
class Counted:
    storage: dict[str, int]
    acs: dict[str, int]

    @property
    def storage_total(self) -> int:
        return sum(self.storage.values())


async def count(
    scenario: Scenario,
    functions: Mapping[str, Callable[..., Any]],
    app_environment: Mapping[str, str],
    local_azure: LocalAzureProcess,
    proxy: StorageProxyProcess,
) -> Counted:
    """Run one scenario on a fresh table behind `proxy`: what its act cost at the storage endpoint and in ACS."""
    from token_service.services import build_services, reset_services
    from token_service.settings import Settings

    clock = [NOW]
    values = {**app_environment, "REGISTRY_TABLE": "ops" + uuid.uuid4().hex[:12], "STALE_IDENTITY_DAYS": "30"}
    services = build_services(Settings.from_env(values), clock=lambda: clock[0])
    await reset_services(services)
    world = World(functions, local_azure, services, clock)
    try:
        await scenario.setup(world)
        await asyncio.to_thread(proxy.reset)
        await asyncio.to_thread(local_azure.reset_stats)
        await scenario.act(world)
        storage = (await asyncio.to_thread(proxy.counts))["kinds"]
        acs = (await asyncio.to_thread(local_azure.stats))["totals"]
    finally:
        await reset_services()
    return Counted(dict(storage), {op: n for op, n in acs.items() if n})


async def count_all(
    functions: Mapping[str, Callable[..., Any]],
    app_environment: Mapping[str, str],
    local_azure: LocalAzureProcess,
    proxy: StorageProxyProcess,
) -> dict[str, Counted]:
    return {s.name: await count(s, functions, app_environment, local_azure, proxy) for s in SCENARIOS}


def markdown(results: Mapping[str, Counted]) -> str:
    """The published table: one row per scenario, storage round trips by kind, ACS calls."""
    kinds = sorted({kind for counted in results.values() for kind in counted.storage})
    header = ["operation", "storage round trips", *kinds, "ACS calls"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    descriptions = {s.name: s.description for s in SCENARIOS}
    for name, counted in results.items():
        acs = ", ".join(f"{op} {n}" for op, n in sorted(counted.acs.items())) or "none"
        cells = [descriptions[name], f"**{counted.storage_total}**", *(str(counted.storage.get(k, "")) for k in kinds)]
        lines.append("| " + " | ".join([*cells, acs]) + " |")
    return "\n".join(lines)


def per_cleanup_item(results: Mapping[str, Counted]) -> dict[str, int]:
    """Round trips one more stale identity adds to a run (run of 2 minus run of 1), by kind."""
    two, one = results["cleanup_run_2"].storage, results["cleanup_run_1"].storage
    return {
        kind: two.get(kind, 0) - one.get(kind, 0)
        for kind in sorted(set(two) | set(one))
        if two.get(kind, 0) != one.get(kind, 0)
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks.common import machine_info, relative, services, write_results

    parser = argparse.ArgumentParser(prog="python -m benchmarks.storage_ops", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    with services("storage-ops") as stack:
        proxy = StorageProxyProcess.start(
            f"http://127.0.0.1:{stack.azurite.table_port}", log_file=stack.workdir / "storage_proxy.log"
        )
        saved = dict(os.environ)
        try:
            env = stack.app_environment(TOKEN_RATE_PER_MINUTE="100000", AUTH_ADMIN_ROLE=ADMIN_ROLE)
            env["AzureWebJobsStorage"] = proxy.connection_string(stack.azurite.connection_string)
            os.environ.update(env)  # function_app checks its settings as it is imported
            import function_app

            functions = {str(f.get_function_name()): f.get_user_function() for f in function_app.app.get_functions()}
            results = asyncio.run(count_all(functions, env, stack.local_azure, proxy))
        finally:
            proxy.stop()
            os.environ.clear()
            os.environ.update(saved)  # the next benchmark (make bench) starts from the same environment
    table = markdown(results)
    item = per_cleanup_item(results)
    print(table)
    print(f"one more cleanup item adds: {item} (total {sum(item.values())})")
    path = write_results(
        "storage_ops",
        {
            "machine": machine_info(),
            "method": {
                "app": "function_app's registered functions called in process with azure.functions.HttpRequest; "
                "the cleanup as services.cleanup().run() (what the timer runs)",
                "storage": "local_azure.storage_proxy in front of Azurite's Table endpoint; counts by method and kind",
                "per_scenario": "fresh table and clock; setup not counted; counts zeroed; the operation once",
            },
            "scenarios": {
                s.name: {
                    "description": s.description,
                    "storage": results[s.name].storage,
                    "storage_total": results[s.name].storage_total,
                    "acs": results[s.name].acs,
                }
                for s in SCENARIOS
            },
            "per_cleanup_item": item,
            "markdown": table,
        },
    )
    print(f"wrote {relative(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
