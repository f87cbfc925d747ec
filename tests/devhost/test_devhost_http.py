"""The devhost over real HTTP against the fixture app: routes, keys, errors, CORS, admin API, timers."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.devhost.fixture_host import ALLOWED_ORIGIN, FUNCTION_KEY, MASTER_KEY, RunningHost, start_fixture_host


def call(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_every_route_answers(fixture_host: RunningHost) -> None:
    base = fixture_host.base_url
    expected = {
        ("GET", "/api/hello?name=ada"): 200,
        ("GET", "/api/items/42"): 200,
        ("PUT", "/api/items/42"): 201,
        ("GET", "/api/items/42/parts/7"): 200,
        ("GET", "/api/plain"): 200,
        ("GET", "/api/setting?name=FROM_FILE"): 200,
        ("GET", f"/api/secret?code={FUNCTION_KEY}"): 200,
        ("POST", f"/api/secret?code={FUNCTION_KEY}"): 200,
        ("GET", "/api/boom"): 500,
    }
    for (method, path), status in expected.items():
        body = b"{}" if method in {"PUT", "POST"} else None
        assert call(base + path, method, body=body)[0] == status, (method, path)


def test_request_and_response_translation(fixture_host: RunningHost) -> None:
    status, headers, body = call(fixture_host.base_url + "/api/hello?name=ada")
    assert status == 200
    assert headers["X-Fixture"] == "sync"
    assert headers["Content-Type"] == "application/json"
    url = fixture_host.base_url + "/api/hello?name=ada"
    assert json.loads(body) == {"name": "ada", "url": url, "method": "GET"}
    status, headers, body = call(fixture_host.base_url + "/api/plain")
    assert (status, body) == (200, b"just a string")
    assert headers["Content-Type"].startswith("text/plain")
    status, _, body = call(fixture_host.base_url + "/api/items/1", "PUT", body=b"payload")
    assert (status, json.loads(body)) == (201, {"id": "1", "method": "PUT", "body": "payload"})


def test_route_parameters_are_decoded_and_constrained(fixture_host: RunningHost) -> None:
    acs_id = "8:acs:0f6b6fa4-5b0e-4f9f-9ad6-5c3c3c1c9c2f_00000006-19e0-2727-80f5-8b3a0d003502"
    encoded = acs_id.replace(":", "%3A")
    status, _, body = call(f"{fixture_host.base_url}/api/items/{encoded}")
    assert (status, json.loads(body)["id"]) == (200, acs_id)
    assert json.loads(call(f"{fixture_host.base_url}/api/items/a%2Fb")[2])["id"] == "a/b"
    assert json.loads(call(f"{fixture_host.base_url}/api/items/x/parts/3")[2]) == {"id": "x", "part": "3"}
    assert call(f"{fixture_host.base_url}/api/items/x/parts/three")[0] == 404
    assert call(f"{fixture_host.base_url}/api/nothing-here")[0] == 404


def test_routes_ignore_case_and_methods_match_exactly_as_the_host(fixture_host: RunningHost) -> None:
    """The host's route table: prefix and route case-insensitive; an unlisted method (HEAD too) is an empty 404."""
    base = fixture_host.base_url
    assert call(base + "/API/HELLO")[0] == 200
    assert json.loads(call(base + "/Api/Items/X1/PARTS/3")[2]) == {"id": "X1", "part": "3"}
    for method, headers in [("DELETE", {}), ("HEAD", {}), ("OPTIONS", {}), ("OPTIONS", {"Origin": ALLOWED_ORIGIN})]:
        status, answer, body = call(base + "/api/hello", method, headers=headers)
        assert (status, body, "Allow" in answer) == (404, b"", False), (method, headers)
    for path in ("/apix/hello", "/api", "/hello", "/api/hello/extra"):
        assert call(base + path)[:3:2] == (404, b""), path
    master = {"x-functions-key": MASTER_KEY}
    assert call(base + "/ADMIN/Host/Status", headers=master)[0] == 200
    assert call(base + "/admin/host/status")[0] == 401 and call(base + "/admin/host/ping")[0] == 200
    assert call(base + "/admin/functions/tick", "GET", headers=master)[:3:2] == (404, b"")


def raw_request(base_url: str, request_line: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """Send exactly these headers (urllib would add and reorder), return the status and body."""
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(base_url).netloc, timeout=10)
    method, target = request_line.split(" ", 1)
    connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in [("Host", "localhost"), *headers]:
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    answer = response.status, response.read()
    connection.close()
    return answer


def test_header_limits_are_the_hosts_and_rejections_never_echo(fixture_host: RunningHost) -> None:
    """Kestrel's limits: 32 KB of headers in all, 100 headers, an 8 KB request line; bare 431/414, quiet logs."""
    token = "eyJ" + "TOKENMARK" * 1800  # 16 KB: an Entra token carrying many groups
    status, body = raw_request(fixture_host.base_url, "GET /api/hello", [("Authorization", f"Bearer {token}")])
    assert status == 200 and json.loads(body)["method"] == "GET"
    too_large = [
        [("Authorization", "Bearer " + token * 3)],  # one 48 KB header
        [(f"X-Part-{i}", token[:12_000]) for i in range(3)],  # 36 KB over three headers
        [(f"X-Many-{i}", "TOKENMARK") for i in range(101)],
    ]
    for headers in too_large:
        assert raw_request(fixture_host.base_url, "GET /api/hello", headers) == (431, b""), len(headers)
    assert raw_request(fixture_host.base_url, "GET /api/hello?q=" + "TOKENMARK" * 1000, []) == (414, b"")
    time.sleep(0.2)
    log = fixture_host.log_file.read_text()
    assert "TOKENMARK" not in log and "LineTooLong" not in log and "aiohttp.server" not in log
    assert log.count("431 for a request") == 3 and "414 for a request" in log


def test_function_level_route_needs_a_key(fixture_host: RunningHost) -> None:
    url = fixture_host.base_url + "/api/secret"
    for headers, query in [({}, ""), ({"x-functions-key": "wrong"}, ""), ({}, "?code=wrong")]:
        status, _, body = call(url + query, headers=headers)
        assert status == 401
        assert FUNCTION_KEY.encode() not in body and MASTER_KEY.encode() not in body
    assert call(url, headers={"x-functions-key": FUNCTION_KEY})[2] == b"the secret is safe"
    assert call(url + f"?code={FUNCTION_KEY}")[0] == 200
    assert call(url, headers={"x-functions-key": MASTER_KEY})[0] == 200  # the master key opens every level


def test_exception_is_a_generic_500_and_logged(fixture_host: RunningHost) -> None:
    status, _, body = call(fixture_host.base_url + "/api/boom")
    assert status == 500
    assert b"secret detail" not in body and b"Traceback" not in body
    deadline = time.monotonic() + 5
    while "fixture failure with a secret detail" not in fixture_host.log_file.read_text():
        assert time.monotonic() < deadline, "the exception was not logged"
        time.sleep(0.1)


def test_settings_file_values_with_environment_precedence(fixture_host: RunningHost) -> None:
    url = fixture_host.base_url + "/api/setting?name="
    assert json.loads(call(url + "FROM_FILE")[2]) == {"FROM_FILE": "file"}
    assert json.loads(call(url + "OVERRIDDEN")[2]) == {"OVERRIDDEN": "env"}


def test_cors_preflight_and_simple_requests(fixture_host: RunningHost) -> None:
    url = fixture_host.base_url + "/api/secret"
    preflight = {
        "Origin": ALLOWED_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-functions-key",
    }
    status, headers, _ = call(url, "OPTIONS", headers=preflight)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "content-type,x-functions-key"
    status, headers, _ = call(url, "OPTIONS", headers={**preflight, "Origin": "http://evil.localhost"})
    assert status == 204 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = call(fixture_host.base_url + "/api/hello", headers={"Origin": ALLOWED_ORIGIN})
    assert status == 200 and headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    status, headers, _ = call(url, headers={"Origin": ALLOWED_ORIGIN})
    assert status == 401 and headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN


def timer_runs(log: Path, function: str = "tick") -> list[dict[str, object]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [run for run in map(json.loads, lines) if run["function"] == function]


def wait_for_runs(log: Path, count: int, timeout: float, function: str = "tick") -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while len(runs := timer_runs(log, function)) < count:
        assert time.monotonic() < deadline, f"timer ran {len(runs)} times, expected {count}"
        time.sleep(0.1)
    return runs


def test_admin_endpoint_runs_the_timer_function(fixture_host: RunningHost) -> None:
    url = fixture_host.base_url + "/admin/functions/tick"
    before = len(timer_runs(fixture_host.timer_log))
    assert call(url, "POST", body=b'{"input": ""}')[0] == 401
    assert call(url, "POST", {"x-functions-key": FUNCTION_KEY}, b'{"input": ""}')[0] == 401
    headers = {"x-functions-key": MASTER_KEY, "Content-Type": "application/json"}
    status, _, _ = call(url, "POST", headers, b'{"input": ""}')
    assert status == 202
    run = wait_for_runs(fixture_host.timer_log, before + 1, timeout=10)[-1]
    assert run["function"] == "tick" and run["past_due"] is False
    master = {"x-functions-key": MASTER_KEY}
    assert call(fixture_host.base_url + "/admin/functions/nope", "POST", master)[0] == 404
    assert call(fixture_host.base_url + "/admin/functions/hello", "POST", master)[0] == 400


def test_timer_fires_on_its_ncrontab_schedule_and_stops_on_sigterm(tmp_path: Path, artifacts_dir: Path) -> None:
    """Every second (6-field NCRONTAB from %FIXTURE_SCHEDULE%, set in the environment over the file)."""
    running = start_fixture_host(tmp_path, artifacts_dir, {"FIXTURE_SCHEDULE": "*/1 * * * * *"}, "timer")
    try:
        wait_for_runs(running.timer_log, 2, timeout=10)
    finally:
        os.killpg(running.host.process.pid, signal.SIGTERM)
        assert running.host.process.wait(15) == 0
    assert "Shutting down" in running.log_file.read_text()


def test_start_banner_lists_functions_like_func_start(fixture_host: RunningHost) -> None:
    port = fixture_host.base_url.rsplit(":", 1)[1]
    text = fixture_host.log_file.read_text()
    assert "Functions:" in text
    assert f"  hello: [GET] http://localhost:{port}/api/hello" in text
    assert f"  item: [GET,PUT] http://localhost:{port}/api/items/{{id}}" in text
    assert "  tick: timerTrigger (schedule '0 0 0 1 1 *')" in text
