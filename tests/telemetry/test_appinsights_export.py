"""Metrics leave the real app for Application Insights: the devhost serving function_app, exporting through
azure-monitor-opentelemetry to local_azure's ingestion stand-in (local_azure/appinsights.py) over HTTPS.

Each app gets its own instrumentation key (its own resource at the stand-in), a 500 ms export interval, its
own TMPDIR (the exporter's offline storage) and a network audit (netaudit/sitecustomize.py) that records any
connection or DNS lookup that is not loopback (statsbeat's interval is 1 s, should it start). The devhost
sets FUNCTIONS_WORKER_RUNTIME, as Azure does, so the distro's IMDS probes stay off here whatever the app
does: test_egress.py proves the app's own guard without it.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_azure.azurite import AzuriteProcess
from local_azure.entra.issuer import DEFAULT_TENANT_ID
from local_azure.entra.mi_tokens import MONITOR
from local_azure.process import LocalAzureProcess
from tests.devhost.real_app import RealAppHost, start_real_app
from tests.telemetry import NETAUDIT
from token_service.telemetry.metrics import ALLOWED_ATTRIBUTES

TOKENS = "acs_token_service.tokens.issued"
REQUESTS = "acs_token_service.http.requests"
RATE_LIMITED = "acs_token_service.http.rate_limited"
WAIT_SECONDS = 90  # a bound on waiting for the exporter, not a timing assertion


class App:
    """A started real app exporting to the stand-in under its own key, and what the test sent it."""

    def __init__(self, host: RealAppHost, ikey: str, audit: Path) -> None:
        self.host = host
        self.ikey = ikey
        self.audit = audit
        self.secrets: list[str] = []  # user keys, ACS ids and tokens seen: none may reach an envelope
        self.tokens: list[str] = []  # the bearer tokens sent and the ACS tokens received: none may be logged

    @property
    def local_azure(self) -> LocalAzureProcess:
        return self.host.local_azure

    def request_token(self, user: str) -> tuple[int, dict[str, Any]]:
        bearer = self.local_azure.mint_user_token(user, oid=user)
        self.secrets += [bearer, f"oid:{DEFAULT_TENANT_ID}:{user}", user]
        request = urllib.request.Request(
            self.host.base_url + "/api/token", method="POST", headers={"Authorization": f"Bearer {bearer}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, body = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, body = error.code, json.loads(error.read() or b"{}")
        self.secrets += [str(body[name]) for name in ("communicationUserId", "token") if name in body]
        self.tokens += [bearer, *([str(body["token"])] if "token" in body else [])]
        return status, body

    def batches(self) -> list[dict[str, Any]]:
        return self.local_azure.appinsights_batches(self.ikey)

    def wait_for(self, done: Callable[[list[dict[str, Any]]], bool], what: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_SECONDS
        while not done(batches := self.batches()):
            assert self.host.host.process.poll() is None, "the app exited"
            assert time.monotonic() < deadline, f"{what}: not seen after {WAIT_SECONDS} s; got {summary(batches)}"
            time.sleep(0.25)
        return batches

    def non_loopback(self) -> list[str]:
        return self.audit.read_text().splitlines() if self.audit.exists() else []


def summary(batches: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(b["status"], b["authenticated"], len(b["envelopes"])) for b in batches]


def points(batches: list[dict[str, Any]], metric: str) -> Counter[tuple[tuple[str, str], ...]]:
    """Sum of a counter's exported values per attribute set (the exporter sends deltas)."""
    total: Counter[tuple[tuple[str, str], ...]] = Counter()
    for envelope in (e for b in batches for e in b["envelopes"]):
        data = envelope["data"]["baseData"]
        for point in data["metrics"]:
            if point["name"] == metric:
                total[tuple(sorted((data.get("properties") or {}).items()))] += int(point["value"])
    return total


def issued_by(batches: list[dict[str, Any]], metric: str, **attributes: str) -> int:
    wanted = set(attributes.items())
    return sum(n for attrs, n in points(batches, metric).items() if wanted <= set(attrs))


@pytest.fixture
def start_app(
    tmp_path: Path, artifacts_dir: Path, local_azure: LocalAzureProcess, azurite: AzuriteProcess
) -> Iterator[Callable[[str, str], App]]:
    started: list[App] = []

    def start(name: str, authentication_string: str) -> App:
        ikey = str(uuid.uuid4())
        audit = tmp_path / f"netaudit-{name}.log"
        temp = tmp_path / name / "tmp"
        temp.mkdir(parents=True)
        env = {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": local_azure.appinsights_connection_string(ikey),
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": authentication_string,
            "OTEL_METRIC_EXPORT_INTERVAL": "500",  # ms (PeriodicExportingMetricReader; default 60000)
            "APPLICATIONINSIGHTS_STATS_SHORT_EXPORT_INTERVAL": "1",  # s: statsbeat, if it were on, at once
            "TOKEN_RATE_PER_MINUTE": "2",
            "TMPDIR": str(temp),
            "NETAUDIT_FILE": str(audit),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(NETAUDIT), os.environ.get("PYTHONPATH")])),
        }
        for name_ in ("APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL", "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED",
                      "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS"):  # fmt: skip
            assert name_ not in os.environ, f"{name_} is set: the app's own guard would go untested"
        host = start_real_app(tmp_path / name, artifacts_dir, local_azure, azurite, f"appinsights-{name}", env)
        app = App(host, ikey, audit)
        started.append(app)
        return app

    yield start
    for app in started:
        app.host.host.stop()


def assert_clean(app: App, batches: list[dict[str, Any]]) -> None:
    """Only our meter's metrics, in our vocabulary, reach Application Insights; only loopback was reached."""
    names = {m["name"] for b in batches for e in b["envelopes"] for m in e["data"]["baseData"]["metrics"]}
    assert names and all(name.startswith("acs_token_service.") for name in names), names
    attributes = {k for b in batches for e in b["envelopes"] for k in e["data"]["baseData"].get("properties") or {}}
    assert attributes <= ALLOWED_ATTRIBUTES, attributes
    text = json.dumps(batches)
    assert "eyJ" not in text, "a JWT reached an envelope"
    for secret in app.secrets:
        assert secret not in text, "a user key, ACS id or token reached an envelope"
    assert app.non_loopback() == [], "the app reached beyond 127.0.0.1"


def test_metrics_arrive_entra_authenticated(
    start_app: Callable[[str, str], App], local_azure: LocalAzureProcess
) -> None:
    client_id = local_azure.settings.managed_identity_client_id  # the user-assigned identity
    app = start_app("aad", f"ClientId={client_id};Authorization=AAD")
    local_azure.set_appinsights_resource(app.ikey, disable_local_auth=True)  # as infra/main.bicep's resource
    user = f"export-user-{uuid.uuid4().hex[:8]}"
    statuses = [app.request_token(user)[0] for _ in range(3)]
    assert statuses == [201, 200, 429], statuses  # TOKEN_RATE_PER_MINUTE=2: the third is ours to refuse

    def all_counted(batches: list[dict[str, Any]]) -> bool:
        return (
            issued_by(batches, TOKENS, function="issue_user_token") >= 2
            and issued_by(batches, REQUESTS, function="issue_user_token") >= 3
            and issued_by(batches, RATE_LIMITED, function="issue_user_token") >= 1
        )

    batches = app.wait_for(all_counted, "the token metrics")
    assert issued_by(batches, TOKENS, function="issue_user_token") == 2
    assert issued_by(batches, RATE_LIMITED, function="issue_user_token") == 1
    by_status = {dict(attrs)["status"]: n for attrs, n in points(batches, REQUESTS).items()
                 if dict(attrs).get("function") == "issue_user_token"}  # fmt: skip
    assert by_status == {"201": 1, "200": 1, "429": 1}, by_status
    # Every batch went in with the managed identity's monitor token; none was refused.
    assert {(b["status"], b["authenticated"], b["client_id"], b["audience"]) for b in batches} == {
        (200, True, client_id, MONITOR)
    }, summary(batches)
    envelopes = [e for b in batches for e in b["envelopes"]]
    assert {(e["name"], e["iKey"], e["data"]["baseType"]) for e in envelopes} == {
        ("Microsoft.ApplicationInsights.Metric", app.ikey, "MetricData")
    }
    assert_clean(app, batches)


def test_key_only_export_and_a_refusing_resource(
    start_app: Callable[[str, str], App], local_azure: LocalAzureProcess
) -> None:
    """Without `Authorization=AAD` batches go in on the key alone; when the resource then refuses them (401,
    local auth disabled) the app keeps serving and logs no token."""
    app = start_app("key", "")
    user = f"export-user-{uuid.uuid4().hex[:8]}"
    assert app.request_token(user)[0] == 201
    batches = app.wait_for(lambda b: issued_by(b, TOKENS) >= 1, "a key-only batch")
    assert {(b["status"], b["authenticated"], b["client_id"]) for b in batches} == {(200, False, None)}

    local_azure.set_appinsights_resource(app.ikey, disable_local_auth=True)
    assert app.request_token(user)[0] == 200
    app.wait_for(lambda b: any(batch["status"] == 401 for batch in b), "a refused batch")
    refused_before = sum(batch["status"] == 401 for batch in app.batches())
    status, body = app.request_token(f"{user}-2")  # served while the exporter is refused
    assert status == 201 and body["token"], status
    batches = app.wait_for(lambda b: sum(batch["status"] == 401 for batch in b) > refused_before, "a second refusal")
    assert all(not b["authenticated"] for b in batches)
    assert issued_by(batches, TOKENS) == 1  # accepted ones only: the refused batches carry no envelopes here
    log = app.host.log_file.read_text(encoding="utf-8", errors="replace")
    assert "eyJ" not in log, "a token in the app's log"
    for token in app.tokens:
        assert token not in log, "a token in the app's log"
    # The app hands the exporter its credential decision (None here): the exporter does not parse the empty
    # APPLICATIONINSIGHTS_AUTHENTICATION_STRING again and log it as an error.
    assert "has invalid format" not in log
    assert_clean(app, batches)
