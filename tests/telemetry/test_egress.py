"""The distro reaches nothing but loopback when the ingestion endpoint is local_azure's stand-in.

A fresh interpreter (the distro configures process-wide state once) starts the app's telemetry with no
Functions/App Service variables, so the distro's defaults would probe Azure IMDS (169.254.169.254) and
start statsbeat and OneSettings; the network audit (netaudit/sitecustomize.py) records every connection
or lookup that is not loopback, and the probe reports the SDK's own switches and endpoints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from local_azure.process import LocalAzureProcess
from tests.telemetry import NETAUDIT

PROJECT_ROOT = Path(__file__).resolve().parents[2]
AZURE_HINTS = ("FUNCTIONS_WORKER_RUNTIME", "WEBSITE_SITE_NAME", "AKS_ARM_NAMESPACE_ID", "KUBERNETES_SERVICE_HOST")
PROBE = """
import json, os
from opentelemetry import metrics
from token_service.settings import TelemetrySettings
from token_service.telemetry.metrics import Telemetry

telemetry = Telemetry.start(TelemetrySettings(os.environ["PROBE_CONNECTION_STRING"]))
telemetry.request("probe", 200, None, 1.0)
telemetry.token_issued("probe")
provider = metrics.get_meter_provider()
provider.force_flush()  # one export, now, to the stand-in

# The SDK's own view (private names: opentelemetry-sdk 1.45, azure-monitor-opentelemetry-exporter 1.0.0b58).
from azure.monitor.opentelemetry.exporter._configuration._state import get_configuration_manager
from azure.monitor.opentelemetry.exporter.statsbeat._state import is_statsbeat_enabled
from azure.monitor.opentelemetry.exporter.statsbeat.customer._manager import CustomerSdkStatsManager

exporters = [r._exporter for r in provider._metric_readers if hasattr(r, "_exporter")]
exporters.append(CustomerSdkStatsManager()._customer_sdkstats_exporter)
print(json.dumps({
    "control_plane": get_configuration_manager() is not None,
    "statsbeat": is_statsbeat_enabled(),
    "endpoints": [e._endpoint for e in exporters if e is not None],
    "resource": {k: str(v) for k, v in provider._sdk_config.resource.attributes.items()},
}))
"""


def test_nothing_but_loopback(tmp_path: Path, local_azure: LocalAzureProcess) -> None:
    ikey = str(uuid.uuid4())
    audit = tmp_path / "netaudit.log"
    env = {name: value for name, value in os.environ.items() if name not in AZURE_HINTS}
    env.update(
        PROBE_CONNECTION_STRING=local_azure.appinsights_connection_string(ikey),
        NETAUDIT_FILE=str(audit),
        PYTHONPATH=os.pathsep.join([str(NETAUDIT), str(PROJECT_ROOT)]),
        TMPDIR=str(tmp_path),  # the exporter's offline storage
        APPLICATIONINSIGHTS_STATS_SHORT_EXPORT_INTERVAL="1",
    )
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["control_plane"] is False and state["statsbeat"] is False, state
    base = local_azure.settings.acs_endpoint + "/"
    assert state["endpoints"] and set(state["endpoints"]) == {base}, state["endpoints"]
    assert not any(name.startswith(("azure.vm.", "host.")) for name in state["resource"]), state["resource"]
    assert (audit.read_text().splitlines() if audit.exists() else []) == [], "reached beyond 127.0.0.1"
    # The export did arrive, over real sockets (and at exit the customer SDK stats, to the same endpoint).
    batches = local_azure.appinsights_batches(ikey)
    assert batches and {b["status"] for b in batches} == {200}, batches
    names = {m["name"] for b in batches for e in b["envelopes"] for m in e["data"]["baseData"]["metrics"]}
    assert "acs_token_service.http.requests" in names, names
