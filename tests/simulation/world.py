"""N instances of the real app code on one shared TableModel and AcsModel, on the virtual-time loop.

Each instance (a `Node`) has its own Registry, UserIdentities and IdentityAdmin, wired as
build_services wires them; cleanup runs and repair passes are the real StaleIdentityCleanup. Every
operation runs in a task whose Actor names its instance, so a kill cancels exactly that instance's
tasks; a killed instance is replaced by a fresh one (a new process) for later operations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.simulation.acs_model import AcsModel
from tests.simulation.actors import ACTOR, Actor, Instance
from tests.simulation.scheduler import SeededWeather
from tests.simulation.table_model import Paging, TableModel
from token_service.acs.rules import TokenRequest
from token_service.cleanup.policy import CleanupPolicy
from token_service.cleanup.run import StaleIdentityCleanup
from token_service.errors import ServiceError
from token_service.identities.admin import IdentityAdmin
from token_service.identities.erasure import erase_user
from token_service.identities.users import UserIdentities
from token_service.registry import LEASE_SECONDS, CleanupLease, CleanupLeaseHeld, Registry, user_partition
from token_service.settings import Settings

BASE = datetime(2031, 1, 1, tzinfo=UTC)
STALE_DAYS = 30
TOKEN_LIMIT = 2
SETTINGS_ENV = {
    "COMMUNICATION_SERVICES_ENDPOINT": "https://127.0.0.1:9/",  # never called: the model stands in
    "AzureWebJobsStorage__tableServiceUri": "https://127.0.0.1:9",
    "AUTH_ISSUER": "https://127.0.0.1:9/issuer",
    "AUTH_AUDIENCE": "api://simulation",
    "TOKEN_RATE_PER_MINUTE": str(TOKEN_LIMIT),
    "DELETE_RATE_PER_MINUTE": "5",
    "STALE_IDENTITY_DAYS": str(STALE_DAYS),
    "CLEANUP_SCHEDULE": "0 0 3 * * *",
    "CLEANUP_REPAIR_SCHEDULE": "0 30 * * * *",
}
SETTINGS = Settings.from_env(SETTINGS_ENV)
REQUEST = TokenRequest(("chat",), 60)


class SimRegistry(Registry):
    """The real Registry; its cleanup lease runs on the simulated clock (in the app it is the wall clock,
    which the simulator's clock stands for: both only move forward)."""

    def __init__(self, table: Any, clock: Callable[[], datetime]) -> None:
        super().__init__(table)
        self._lease_clock = clock

    def cleanup_lease(self, owner: str, seconds: float = LEASE_SECONDS) -> CleanupLease:
        return CleanupLease(self._table, owner, clock=self._lease_clock, seconds=seconds)


@dataclass
class Node:
    instance: Instance
    registry: SimRegistry
    users: UserIdentities
    admin: IdentityAdmin


@dataclass
class Outcome:
    """How one operation ended: ok, a ServiceError code, killed, or unexpected (a would-be 500)."""

    op: str
    result: str
    actor: Actor
    ended: int  # the scheduler's call count when it answered


@dataclass
class World:
    weather: SeededWeather
    paging: Paging
    offset: timedelta = timedelta()
    nodes: list[Node] = field(default_factory=list)
    tasks: dict[str, set[asyncio.Task[Any]]] = field(default_factory=dict)
    actors: list[Actor] = field(default_factory=list)
    generation: int = 0

    def __post_init__(self) -> None:
        self.table = TableModel(self.weather, self.paging)
        self.acs = AcsModel(self.clock, self.weather)
        self.settings = SETTINGS
        self.weather.on_kill = self._killed

    def clock(self) -> datetime:
        return BASE + self.offset + timedelta(seconds=asyncio.get_running_loop().time())

    def jump(self, by: timedelta) -> None:
        self.offset += by

    def start(self, count: int) -> None:
        self.nodes = [self._node(f"i{n}") for n in range(count)]

    def _node(self, name: str) -> Node:
        registry = SimRegistry(self.table, self.clock)
        acs: Any = self.acs
        return Node(
            Instance(name),
            registry,
            UserIdentities(registry, acs, self.settings, self.clock),
            IdentityAdmin(registry, acs, self.clock),
        )

    def _killed(self, instance: Instance) -> None:
        for task in self.tasks.get(instance.name, set()):
            task.cancel()
        for index, node in enumerate(self.nodes):
            if node.instance is instance:
                self.generation += 1
                self.nodes[index] = self._node(f"{instance.name.split('.')[0]}.{self.generation}")

    def spawn(
        self, node: Node, op: str, user: str | None, work: Callable[[Node], Awaitable[Any]]
    ) -> asyncio.Task[Outcome]:
        actor = Actor(node.instance, user=user, route=op, started=self.weather.calls)
        self.actors.append(actor)

        async def run() -> str:
            ACTOR.set(actor)
            try:
                await work(node)
                return "ok"
            except ServiceError as error:
                return error.code
            except CleanupLeaseHeld:
                return "lease_held"
            except Exception as error:  # a would-be 500: the invariant reports it
                return f"UNEXPECTED {type(error).__name__}: {error}"

        inner = asyncio.ensure_future(run())  # what a kill cancels (perhaps before it even started)
        self.tasks.setdefault(node.instance.name, set()).add(inner)
        inner.add_done_callback(self.tasks[node.instance.name].discard)

        async def answer() -> Outcome:
            try:
                result = await inner
            except asyncio.CancelledError:
                if not actor.instance.dead:
                    raise
                result = "killed"
            actor.result = result
            return Outcome(op, result, actor, self.weather.calls)

        return asyncio.ensure_future(answer())

    # -- the operations a workload runs ------------------------------------------------------

    @staticmethod
    async def token(node: Node, user: str) -> None:
        await node.users.token_for_user(user, REQUEST)

    @staticmethod
    async def delete_me(node: Node, user: str) -> None:
        await node.users.delete_for_user(user)

    async def admin_delete(self, node: Node, user: str) -> None:
        """The operator deletes the identity the user's mapping names (found as an operator finds it)."""
        key = user_partition(user)
        mapping = self.table.rows.get((key, key))
        acs_id = mapping.values.get("acs_id") if mapping else None
        if acs_id:
            await node.admin.delete(acs_id, "admin-request")

    async def erase(self, node: Node, user: str) -> None:
        acs: Any = self.acs
        await erase_user(node.registry, acs, self.clock, user, who="operator")

    def cleanup(self, repair: bool) -> Callable[[Node], Awaitable[Any]]:
        policy = CleanupPolicy(STALE_DAYS, 2400, 240, False, concurrency=4, repair_only=repair)

        async def run(node: Node) -> None:
            acs: Any = self.acs
            await StaleIdentityCleanup(
                node.registry, acs, self.clock, policy, kind="repair" if repair else "timer"
            ).run()

        return run
