"""The function metadata the host gets (in worker mode: from the worker) matches what we promise.

In Azure the host routes by the metadata the Python worker reports at indexing; a decorator
mistake (wrong route, method or authLevel) shows there first. This holds that metadata, read from
the running devhost's `GET /admin/functions`, against the route table of docs/api.md and the served
OpenAPI document: admin routes `authLevel: function`, user and meta routes anonymous, and the
cleanup timer's schedule binding `%CLEANUP_SCHEDULE%`.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

from tests.devhost.real_app import PROJECT_ROOT, RealAppHost
from tests.devhost.test_devhost_http import call
from tests.devhost.test_timer_host import expected_mode

Promises = dict[tuple[str, str], str]  # (METHOD, /api/path) -> authLevel
_ROUTE_ROW = re.compile(r"^\| `([A-Z]+) (/api/[^`]+)` \| ([^|]+?) \|")


def function_metadata(host: RealAppHost) -> list[dict[str, Any]]:
    request = urllib.request.Request(host.base_url + "/admin/functions", headers={"x-functions-key": host.master_key})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def documented_promises() -> Promises:
    text = (PROJECT_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = text.split("\n## Routes\n", 1)[1].split("\n## ", 1)[0]
    rows = (_ROUTE_ROW.match(line) for line in section.splitlines())
    return {(m[1], m[2]): "function" if m[3].strip() == "admin" else "anonymous" for m in rows if m}


def openapi_promises(document: dict[str, Any]) -> Promises:
    prefix = document["servers"][0]["url"].rstrip("/")
    promises: Promises = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            keyed = any("functionKey" in requirement for requirement in operation.get("security", []))
            promises[(method.upper(), prefix + path)] = "function" if keyed else "anonymous"
    return promises


def test_reported_metadata_matches_docs_and_openapi(real_app_host: RealAppHost) -> None:
    status, _, body = call(
        real_app_host.base_url + "/admin/host/status", headers={"x-functions-key": real_app_host.master_key}
    )
    assert status == 200 and json.loads(body)["mode"] == expected_mode()
    functions = function_metadata(real_app_host)
    reported: Promises = {}
    timers = []
    for function in functions:
        bindings = function["config"]["bindings"]
        triggers = [b for b in bindings if b["type"].endswith("Trigger")]
        assert len(triggers) == 1, function
        trigger = triggers[0]
        if trigger["type"] == "httpTrigger":
            assert any(b["type"] == "http" and b["direction"].lower() == "out" for b in bindings), function
            for method in trigger["methods"]:
                key = (method.upper(), "/api/" + trigger["route"].strip("/"))
                assert key not in reported, f"two functions claim {key}"
                reported[key] = trigger["authLevel"].lower()
        else:
            timers.append((function["name"], trigger))
    documented = documented_promises()
    status, _, body = call(real_app_host.base_url + "/api/openapi.json")
    assert status == 200
    assert len(documented) == 14 and reported == documented
    assert reported == openapi_promises(json.loads(body))
    admin_paths = ("/api/identities", "/api/cleanup", "/api/users", "/api/metrics")
    assert {level for (_, path), level in reported.items() if path.startswith(admin_paths)} == {"function"}
    assert sorted((trigger["type"], trigger["schedule"]) for _, trigger in timers) == [
        ("timerTrigger", "%CLEANUP_REPAIR_SCHEDULE%"),
        ("timerTrigger", "%CLEANUP_SCHEDULE%"),
    ]
    assert len(functions) == 16
