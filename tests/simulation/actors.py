"""Who is calling: the instance and the request a task works for, so the models can attribute calls.

The scheduler runs every request of an instance in a task whose context carries an `Actor`; the ACS
model records which user's request reached it (per-user limits, one identity per user), and a killed
instance's later calls find `dead` set and go nowhere (a process killed outright sends nothing more).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Instance:
    name: str
    dead: bool = False


@dataclass
class Actor:
    instance: Instance
    user: str | None = None  # the user key of a user's own request
    route: str = ""  # "token", "delete-me", "admin-delete", "erase", "cleanup", "repair"
    started: int = 0  # the scheduler's call count when the request began
    first_acs_at: datetime | None = None  # simulated time of its first ACS call (None: it never reached ACS)
    acs_calls: list[str] = field(default_factory=list)
    result: str | None = None  # how the request ended ("ok", a problem code, ...); None while it runs


ACTOR: ContextVar[Actor | None] = ContextVar("simulation_actor", default=None)


def current_actor() -> Actor | None:
    return ACTOR.get()
