"""Health, OpenAPI (held against the registered functions), and the Teams exchange."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.function_app.harness import TEAMS_APP_ID, Caller, new_user
from token_service.services import reset_services


async def test_health_ready(caller: Caller) -> None:
    reply = await caller.call("health", "GET", "health")
    assert reply.status == 200
    assert reply.json["status"] == "ok"
    assert set(reply.json["checks"]) == {"registry", "managedIdentity"}
    assert "token" not in reply.body.decode().lower()


async def test_health_reports_managed_identity_failure(caller: Caller, local_azure: Any) -> None:
    await reset_services()  # a new worker with no cached credential token
    local_azure.set_mi_faults(500)
    try:
        reply = await caller.call("health", "GET", "health")
    finally:
        local_azure.set_mi_faults(None)
    assert reply.status == 503
    assert reply.json["status"] == "degraded"
    assert reply.json["checks"]["managedIdentity"]["ok"] is False
    assert reply.json["checks"]["registry"]["ok"] is True


async def test_openapi_describes_exactly_the_registered_http_functions(caller: Caller, registered: list[Any]) -> None:
    reply = await caller.call("openapi", "GET", "openapi.json")
    document = reply.json
    assert document["openapi"].startswith("3.1")
    described = {
        (method.upper(), path, operation["operationId"])
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    http_functions = set()
    for function in registered:
        trigger = function.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger":
            continue
        for method in trigger["methods"]:
            http_functions.add((str(method.value), "/" + trigger["route"], function.get_function_name()))
    assert described == http_functions
    for path, item in document["paths"].items():
        for operation in item.values():
            params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert params == set(re.findall(r"{(\w+)}", path))


async def test_teams_exchange(caller: Caller, functions: dict[str, Callable[..., Any]]) -> None:
    user = new_user()
    teams_audience = caller.local_azure.settings.teams_audience
    entra = caller.local_azure.mint_user_token(user, oid=user, aud=teams_audience, appid=TEAMS_APP_ID)
    reply = await caller.call(
        "exchange_teams_token", "POST", "token/teams", token=caller.user_token(user), headers={"X-Teams-Token": entra}
    )
    assert reply.status == 200, reply.body
    assert reply.headers["Cache-Control"] == "no-store"
    assert caller.local_azure.check_token(reply.json["token"])["valid"] is True
    missing = await caller.call("exchange_teams_token", "POST", "token/teams", token=caller.user_token(user))
    assert (missing.status, missing.json["code"]) == (400, "invalid_request")
    wrong_app = caller.local_azure.mint_user_token(user, oid=user, aud=teams_audience, appid="some-other-app")
    rejected = await caller.call(
        "exchange_teams_token",
        "POST",
        "token/teams",
        token=caller.user_token(user),
        headers={"X-Teams-Token": wrong_app},
    )
    assert (rejected.status, rejected.json["code"]) == (401, "teams_token_rejected")
