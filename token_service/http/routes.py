"""The route table: one record per HTTP function, written where the function is declared.

`http_function` (endpoint.py) records every function it registers here; the OpenAPI document's paths
are generated from these records (openapi.py), so a route, its method, who may call it and what it
answers are written once. Records name schemas and parameters, which are declared once, in schemas.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import azure.functions as func


@dataclass(frozen=True)
class Access:
    """Who may call a route: the auth level the Functions host enforces, and the OpenAPI security
    schemes (components/securitySchemes) a caller must present, all of them together."""

    auth_level: func.AuthLevel
    schemes: tuple[str, ...]


ANYONE = Access(func.AuthLevel.ANONYMOUS, ())
SIGNED_IN = Access(func.AuthLevel.ANONYMOUS, ("bearer",))  # the app checks the bearer token itself
ADMIN = Access(func.AuthLevel.FUNCTION, ("bearer", "functionKey"))  # the admin app role AND a function key


@dataclass(frozen=True)
class Reply:
    """A success answer: its description and the components/schemas name of its JSON body (none: no
    body), or `any_json` for a JSON body the document does not describe (the document itself)."""

    description: str
    schema: str | None = None
    any_json: bool = False


@dataclass(frozen=True)
class Route:
    """One HTTP function as the host registers it and the OpenAPI document describes it.

    `path` is the Functions route (under /api, no leading slash); `body` names the request body's schema
    (absent: the route has none to describe); `parameters` name path, query and header parameters, in the
    order the document lists them; `errors` are the problem+json statuses the route may answer.
    """

    function: str
    path: str
    method: str
    access: Access
    summary: str
    replies: Mapping[int, Reply]
    errors: tuple[int, ...] = ()
    body: str | None = None
    parameters: tuple[str, ...] = ()


_routes: dict[str, Route] = {}


def record_route(route: Route) -> None:
    """Add `route`; importing a blueprint twice records the same route again, which changes nothing,
    but two different routes under one function name are a mistake the host would also refuse."""
    known = _routes.get(route.function)
    if known is not None and known != route:
        raise ValueError(
            f"two routes are named {route.function!r}: {known.method} {known.path}, {route.method} {route.path}"
        )
    _routes[route.function] = route


def registered_routes() -> tuple[Route, ...]:
    """Every route recorded in this process, in the order they were declared."""
    return tuple(_routes.values())
