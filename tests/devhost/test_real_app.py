"""The devhost serves every function the real function_app registers, at the Functions host's URLs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse

from tests.devhost.real_app import PROJECT_ROOT, RealAppHost
from tests.devhost.test_devhost_http import call

SAMPLE_ID = "8:acs:00000000-0000-0000-0000-000000000000_00000000-0000-0000-0000-000000000001"
# Indexed in a separate interpreter, straight from the azure-functions decorators: an independent
# list of what function_app.app registers, to hold the running devhost's routing against.
INDEX = """
import json
from devhost.functions import index_functions, load_function_app
from pathlib import Path
print(json.dumps([
    {"name": f.name, "type": f.trigger_type, "route": f.route.template if f.route else None,
     "methods": list(f.methods), "auth": f.auth_level}
    for f in index_functions(load_function_app(Path(".")))
]))
"""


def registered_functions(env: dict[str, str]) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-c", INDEX], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_health_answers(real_app_host: RealAppHost) -> None:
    status, _, body = call(real_app_host.base_url + "/api/health")
    assert status == 200, body
    assert json.loads(body)["status"] == "ok"


def test_every_registered_function_is_served(real_app_host: RealAppHost) -> None:
    functions = registered_functions(real_app_host.env)
    names = {f["name"] for f in functions}
    assert {"issue_user_token", "create_identity", "health", "cleanup_stale_identities"} <= names
    encoded = urllib.parse.quote(SAMPLE_ID, safe="")
    for function in functions:
        if function["type"] != "httpTrigger":
            continue
        path = "/api/" + str(function["route"]).replace("{id}", encoded)
        for method in function["methods"]:  # type: ignore[union-attr]
            body = b"{}" if method in {"POST", "PUT", "PATCH"} else None
            status, headers, content = call(real_app_host.base_url + path, method, body=body)
            # The host's own 404/405 have empty bodies; the app's answers never do.
            assert status != 405 and not (status == 404 and not content), (function["name"], method, status)
            if function["auth"] != "anonymous":
                assert status == 401 and content == b"", (function["name"], "served without its key")
                keyed = {"x-functions-key": real_app_host.function_key}
                status, headers, content = call(real_app_host.base_url + path, method, keyed, body)
                assert status not in (404, 405) or content, (function["name"], method, status)
                assert headers.get("Content-Type", "").startswith("application/"), function["name"]


def test_admin_endpoint_runs_the_cleanup_timer(real_app_host: RealAppHost) -> None:
    url = real_app_host.base_url + "/admin/functions/cleanup_stale_identities"
    assert call(url, "POST", {"x-functions-key": real_app_host.function_key}, b'{"input": ""}')[0] == 401
    master = {"x-functions-key": real_app_host.master_key, "Content-Type": "application/json"}
    assert call(url, "POST", master, b'{"input": ""}')[0] == 202
    succeeded = "Executed 'Functions.cleanup_stale_identities' (Succeeded"
    deadline = time.monotonic() + 30
    while succeeded not in (log := real_app_host.log_file.read_text()):
        assert "Executed 'Functions.cleanup_stale_identities' (Failed" not in log
        assert time.monotonic() < deadline, "the cleanup timer did not run"
        time.sleep(0.2)
