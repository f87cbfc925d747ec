"""Each alert and workbook query of infra/monitoring, run on what the real app wrote on the local stack.

One devhost serves the real function_app against Azurite and local_azure; the test drives it through
quiet traffic first, then each trouble an alert is for (managed identity down, ACS throttling, ACS
failing, a cleanup that stops at its cap). Every alert must find nothing in the quiet part and fire on the
whole log; the workbook's queries must find the metrics GET /api/metrics shows. A renamed log field,
event or metric breaks this test rather than an alert in Azure.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devhost.process import HostProcess
from local_azure.azurite import AzuriteProcess, free_port
from local_azure.process import LocalAzureProcess
from tests.devhost.real_app import PROJECT_ROOT, real_app_environment
from tests.infra.kql import LogsWorkspace, Trace, alert_queries, host_traces, workbook_queries
from token_service.http.inputs import checked_token_request
from token_service.services import build_services
from token_service.settings import Settings

ALERTS = {"http-5xx", "acs-throttled", "cleanup-incomplete", "unregistered-identities", "managed-identity"}
LATER = timedelta(minutes=15)  # the alert rules look at lines some minutes old (unregistered: 10 min)


@dataclass
class Driven:
    quiet: list[Trace]
    everything: list[Trace]
    metrics: dict[str, Any]
    log_text: str


def call(base: str, method: str, path: str, token: str | None = None, key: str | None = None,
         body: Any = None) -> tuple[int, Any]:  # fmt: skip
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["x-functions-key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, json.loads(payload) if payload else None


async def seed_stale_identities(env: dict[str, str], count: int) -> None:
    """Identities whose last token is 40 days old, in the host's registry (the app's own code writes them)."""
    old = datetime.now().astimezone() - timedelta(days=40)
    services = build_services(Settings.from_env(env), clock=lambda: old)
    try:
        request = checked_token_request(None, None, services.settings)
        for _ in range(count):
            await services.users.token_for_user(f"sub:stale-{uuid.uuid4().hex[:8]}", request)
    finally:
        await services.close()


def wait_for(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not logged"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def driven(
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
    local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
) -> Driven:
    tmp = tmp_path_factory.mktemp("monitoring")
    settings_file = tmp / "local.settings.json"
    shutil.copyfile(PROJECT_ROOT / "local.settings.sample.json", settings_file)
    keys = json.loads(settings_file.read_text())["DevHost"]
    extra = {"CLEANUP_MAX_PER_RUN": "1", "TOKEN_RATE_PER_MINUTE": "6", "CLEANUP_ACS_CALLS_PER_SECOND": "50"}
    env = real_app_environment(local_azure, azurite, extra)
    log_file = artifacts_dir / "devhost-monitoring.log"
    log_file.unlink(missing_ok=True)
    local_azure.reset_faults()
    local_azure.set_mi_faults(500)  # from the start: no token cached by a health check
    port = free_port()
    host = HostProcess.start_devhost(PROJECT_ROOT, port, settings=settings_file, env=env, log_file=log_file)
    base = f"http://127.0.0.1:{port}/api"
    try:
        host.wait_until_healthy()
        admin = local_azure.mint_user_token("monitoring-admin", roles=[env["AUTH_ADMIN_ROLE"]])
        users = [local_azure.mint_user_token(f"monitoring-{n}-{uuid.uuid4().hex[:6]}") for n in range(12)]

        # Managed identity down: the first token call cannot reach ACS (503).
        status, body = call(base, "POST", "/token", users[0], body={})
        assert status == 503, (status, body)
        local_azure.set_mi_faults(None)
        time.sleep(5.5)  # the credential gate's cooldown
        mark = len(log_file.read_text(errors="replace").splitlines())

        # Quiet traffic: every user gets an identity, then a second token.
        for token in users:
            for expected in (201, 200):
                status, body = call(base, "POST", "/token", token, body={})
                assert status == expected, (status, body)
        quiet_text = "\n".join(log_file.read_text(errors="replace").splitlines()[mark:])

        # A user over the per-user limit (6 a minute): 429 rate_limited, no ACS call.
        for _ in range(5):
            status, body = call(base, "POST", "/token", users[1], body={})
        assert status == 429 and body["code"] == "rate_limited", (status, body)
        # ACS throttling token issues: 429 upstream_throttled.
        local_azure.set_faults(rate_limits={"issue": {"limit": 0, "window_seconds": 60}})
        for token in users[2:9]:
            status, body = call(base, "POST", "/token", token, body={})
            assert status == 429 and body["code"] == "upstream_throttled", (status, body)
        # ACS failing: 5xx.
        local_azure.reset_faults()
        local_azure.set_faults(error_rate=1.0, error_status=500)
        for token in users[9:12]:
            status, body = call(base, "POST", "/token", token, body={})
            assert status >= 500, (status, body)
        local_azure.reset_faults()

        # A cleanup that stops at its cap (1 per run) with two stale identities waiting.
        asyncio.run(seed_stale_identities(env, 2))
        master = keys["MasterKey"]
        status, _ = call(f"http://127.0.0.1:{port}", "POST", "/admin/functions/cleanup_stale_identities", key=master,
                         body={"input": ""})  # fmt: skip
        assert status == 202, status
        wait_for(log_file, '"event":"cleanup_summary"')

        status, metrics = call(base, "GET", "/metrics", admin, keys["FunctionKeys"]["default"])
        assert status == 200, metrics
    finally:
        local_azure.set_mi_faults(None)
        local_azure.reset_faults()
        host.stop()
    text = log_file.read_text(errors="replace")
    return Driven(host_traces(quiet_text, -LATER), host_traces(text, -LATER), metrics, text)


def workspace(traces: list[Trace]) -> LogsWorkspace:
    logs = LogsWorkspace()
    logs.add_traces(traces)
    return logs


def test_every_alert_the_bicep_deploys_is_covered() -> None:
    assert set(alert_queries()) == ALERTS


def test_no_alert_fires_on_quiet_traffic(driven: Driven) -> None:
    assert sum('"event":"request"' in t.message for t in driven.quiet) >= 24, "the quiet part has no request lines"
    logs = workspace(driven.quiet)
    fired = {name: rows for name, query in alert_queries().items() if (rows := logs.query(query))}
    assert fired == {}


def test_each_alert_fires_on_its_trouble(driven: Driven) -> None:
    logs = workspace(driven.everything)
    results = {name: logs.query(query) for name, query in alert_queries().items()}
    print({name: rows for name, rows in results.items()})
    (five_xx,) = results["http-5xx"]
    assert five_xx["failed"] >= 4 and five_xx["requests"] >= 30, five_xx  # 3 ACS 500s + the identity outage
    (throttled,) = results["acs-throttled"]
    assert throttled["throttled"] == 7, throttled
    (cleanup,) = results["cleanup-incomplete"]
    assert cleanup["stopped_early"] == "max_per_run", cleanup
    (identity,) = results["managed-identity"]
    assert identity["failures"] >= 1, identity
    assert results["unregistered-identities"] == [], "every identity made here has its registry row"


def test_an_identity_without_its_registry_row_is_found(driven: Driven) -> None:
    """A worker killed between ACS's answer and the registry write leaves identity_created alone."""
    registered = [t for t in driven.everything if t.message.startswith('{"event":"identity_registered"')]
    assert len(registered) >= 12, "no identity_registered lines: the alert would call every identity an orphan"
    lost = json.loads(registered[3].message)["acs_id"]
    logs = workspace([t for t in driven.everything if t is not registered[3]])
    rows = logs.query(alert_queries()["unregistered-identities"])
    assert [row["acs_id"] for row in rows] == [lost]


def test_the_workbook_finds_the_metrics_the_app_exports(driven: Driven) -> None:
    logs = LogsWorkspace()
    logs.add_metrics(driven.metrics, datetime.now() - timedelta(minutes=5))
    queries = workbook_queries()
    assert set(queries) == {"tokens", "acs_calls", "acs_latency", "rate_limited", "cleanup_items"}
    results = {name: logs.query(query) for name, query in queries.items()}
    print(results)
    assert sum(row["tokens"] for row in results["tokens"]) >= 24
    outcomes = {(row["operation"], row["outcome"]) for row in results["acs_calls"]}
    assert {("create", "ok"), ("issue", "ok"), ("issue", "429")} <= outcomes, outcomes
    assert {row["outcome"] for row in results["acs_latency"]} >= {"ok", "429"}
    assert all(row["avg_ms"] > 0 for row in results["acs_latency"])
    assert [row["function"] for row in results["rate_limited"]] == ["issue_user_token"]
    assert {row["result"] for row in results["cleanup_items"]} >= {"revoked", "deleted"}
