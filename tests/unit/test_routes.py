"""The route table: every name a route record uses is declared in the document, and a function name
means one route."""

from __future__ import annotations

from typing import Any

import pytest

from token_service.blueprints import admin, meta, operator, user  # noqa: F401  (each records its routes)
from token_service.http.openapi import openapi_document
from token_service.http.routes import ADMIN, Reply, Route, record_route, registered_routes


def refs(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        return found.union(*(refs(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(refs(item) for item in value))
    return set()


def test_each_http_function_is_one_route_on_one_method_and_path() -> None:
    routes = registered_routes()
    assert {route.function for route in routes} >= {"issue_user_token", "create_identity", "list_identities", "health"}
    assert len({route.function for route in routes}) == len({(route.method, route.path) for route in routes})
    assert len(routes) == 14  # the README's route table


def test_every_reference_resolves_and_every_scheme_is_declared() -> None:
    document = openapi_document(registered_routes())
    components = document["components"]
    declared = {f"#/components/{kind}/{name}" for kind in ("schemas", "responses") for name in components[kind]}
    assert refs(document) <= declared
    schemes = set(components["securitySchemes"])
    for item in document["paths"].values():
        for operation in item.values():
            for requirement in operation["security"]:
                assert set(requirement) <= schemes


def test_a_second_route_under_a_known_function_name_is_refused() -> None:
    known = registered_routes()[0]
    record_route(known)  # importing a blueprint again records the same route: nothing changes
    assert registered_routes().count(known) == 1
    other = Route(known.function, "elsewhere", "GET", ADMIN, "Another", {200: Reply("Other")})
    with pytest.raises(ValueError, match=known.function):
        record_route(other)
    assert known in registered_routes() and other not in registered_routes()
