"""Metrics with OpenTelemetry: what an operator watches (tokens, creates, deletions, ACS calls and
throttles, rate-limited requests, cleanup progress).

Always read into an in-memory reader (`GET /api/metrics` shows it to admins); exported to Application
Insights through azure-monitor-opentelemetry only when APPLICATIONINSIGHTS_CONNECTION_STRING is set, with
Entra auth when APPLICATIONINSIGHTS_AUTHENTICATION_STRING says `Authorization=AAD`.
The SDK is imported on first use, not when the app is imported (cold start).

Attributes come from fixed vocabularies only (function names, status codes, ACS operations and outcomes,
problem codes): never a user key, an identity id or a token.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from token_service.settings import TelemetrySettings

if TYPE_CHECKING:
    from token_service.acs.gateway import AcsCall
    from token_service.cleanup.run import CleanupSummary

log = logging.getLogger("token_service.telemetry")
AUTHENTICATION_STRING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
METER = "acs_token_service"
CLEANUP_FIELDS = ("revoked", "deleted", "already_gone", "failed", "survived", "resumed")
# The distro's instrumentations (azure-monitor-opentelemetry 1.8), on by default; a test holds what is exported.
DISTRO_INSTRUMENTATIONS = ("azure_sdk", "django", "fastapi", "flask", "httpx", "httpx2", "psycopg2", "requests",
                           "urllib", "urllib3")  # fmt: skip
IDENTITY_COUNTERS = {"create": "created", "delete": "deleted"}  # ACS operation -> instrument
ALLOWED_ATTRIBUTES = frozenset({"function", "status", "operation", "outcome", "client", "code", "result", "stopped"})


def entra_client_id(authentication_string: str | None, default: str | None) -> tuple[bool, str | None]:
    """(use Entra?, client id) from `ClientId=<id>;Authorization=AAD`, as Application Insights documents it."""
    if not authentication_string:
        return False, None
    parts = dict(part.split("=", 1) for part in authentication_string.split(";") if "=" in part)
    lowered = {key.strip().lower(): value.strip() for key, value in parts.items()}
    if lowered.get("authorization") != "AAD":
        return False, None
    return True, lowered.get("clientid") or default


@dataclass
class Telemetry:
    reader: Any
    meter: Any
    instruments: dict[str, Any] = field(default_factory=dict)
    _cleanup_seen: dict[int, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def start(cls, config: TelemetrySettings) -> Telemetry:
        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        reader = InMemoryMetricReader()
        if config.connection_string:
            provider = _azure_monitor(config, reader)
        else:
            provider = MeterProvider(metric_readers=[reader])
        meter = (provider or metrics.get_meter_provider()).get_meter(METER)
        telemetry = cls(reader, meter)
        telemetry._create_instruments()
        return telemetry

    def _create_instruments(self) -> None:
        m = self.meter
        self.instruments = {
            "tokens": m.create_counter("acs_token_service.tokens.issued", "{token}", "Tokens handed out"),
            "created": m.create_counter("acs_token_service.identities.created", "{identity}", "ACS identities made"),
            "deleted": m.create_counter("acs_token_service.identities.deleted", "{identity}", "ACS identities deleted"),
            "acs_calls": m.create_counter(
                "acs_token_service.acs.calls", "{call}", "ACS calls by operation and outcome"
            ),
            "acs_duration": m.create_histogram("acs_token_service.acs.duration", "ms", "ACS call duration"),
            "requests": m.create_counter("acs_token_service.http.requests", "{request}", "HTTP requests by status"),
            "request_duration": m.create_histogram("acs_token_service.http.duration", "ms", "HTTP request duration"),
            "rate_limited": m.create_counter(
                "acs_token_service.http.rate_limited", "{request}", "Requests refused by our per-user limit"
            ),
            "cleanup_items": m.create_counter(
                "acs_token_service.cleanup.run.items", "{identity}", "Cleanup progress by result"
            ),
            "cleanup_runs": m.create_counter("acs_token_service.cleanup.run.runs", "{run}", "Cleanup runs finished"),
        }

    # -- recording (cheap; called on hot paths) ---------------------------------------------------

    def acs_call(self, call: AcsCall, client: str) -> None:
        """One ACS call. An `ok` create made one identity and an `ok` delete removed one: the gateway's
        report of that call is where the fact happens, for requests and the cleanup alike."""
        attributes = {"operation": call.operation, "outcome": call.outcome, "client": client}
        self.instruments["acs_calls"].add(1, attributes)
        self.instruments["acs_duration"].record(call.duration_ms, attributes)
        if call.outcome == "ok" and call.operation in IDENTITY_COUNTERS:
            self.instruments[IDENTITY_COUNTERS[call.operation]].add(1, {"client": client})

    def token_issued(self, function: str) -> None:
        """A token handed to a caller by the HTTP function `function`. Like `request`, it never raises:
        it is recorded inside the handler, before the response exists."""
        with _guarded():
            self.instruments["tokens"].add(1, {"function": function})

    def request(self, function: str, status: int, code: str | None, duration_ms: float) -> None:
        with _guarded():
            self.instruments["requests"].add(1, {"function": function, "status": status})
            self.instruments["request_duration"].record(duration_ms, {"function": function})
            if code == "rate_limited":
                self.instruments["rate_limited"].add(1, {"function": function})

    def cleanup_progress(self, summary: CleanupSummary) -> None:
        """Counts what changed since this run's last report (the summary is cumulative)."""
        seen = self._cleanup_seen.setdefault(id(summary), dict.fromkeys(CLEANUP_FIELDS, 0))
        for name in CLEANUP_FIELDS:
            value = int(getattr(summary, name))
            if value > seen[name]:
                self.instruments["cleanup_items"].add(value - seen[name], {"result": name})
                seen[name] = value

    def cleanup_finished(self, summary: CleanupSummary) -> None:
        self.cleanup_progress(summary)
        self._cleanup_seen.pop(id(summary), None)
        self.instruments["cleanup_runs"].add(1, {"stopped": summary.stopped_early or "done"})

    # -- reading --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The in-memory reader's view, as plain JSON: one entry per metric, its points with attributes."""
        data = self.reader.get_metrics_data()
        metrics: list[dict[str, Any]] = []
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                if scope.scope.name != METER:
                    continue
                for metric in scope.metrics:
                    points = [_point(point) for point in metric.data.data_points]
                    metrics.append({"name": metric.name, "unit": metric.unit, "points": points})
        return {"metrics": sorted(metrics, key=lambda m: m["name"])}


def _point(point: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"attributes": dict(point.attributes or {})}
    if hasattr(point, "bucket_counts"):
        body.update(count=point.count, sum=round(point.sum, 3), min=round(point.min, 3), max=round(point.max, 3))
    else:
        body["value"] = point.value
    return body


def _azure_monitor(config: TelemetrySettings, reader: Any) -> Any:
    """Application Insights through the distro; our in-memory reader rides along. Only metrics: the
    Functions host already ships logs and requests. egress.py says what else it may reach."""
    from token_service.telemetry.egress import limit_egress

    limit_egress(config.connection_string or "")
    from azure.monitor.opentelemetry import configure_azure_monitor

    options: dict[str, Any] = {
        "connection_string": config.connection_string,
        "metric_readers": [reader],
        "disable_logging": True,
        "disable_tracing": True,
        "enable_live_metrics": False,
        # Our meter only: no performance counters (the platform's metrics show CPU and memory) and no
        # library instrumentation patching requests/urllib3 in the worker.
        "enable_performance_counters": False,
        "instrumentation_options": {name: {"enabled": False} for name in DISTRO_INSTRUMENTATIONS},
    }
    use_entra, client_id = entra_client_id(config.authentication_string, config.client_id)
    # Always passed: given no `credential`, an exporter parses APPLICATIONINSIGHTS_AUTHENTICATION_STRING itself
    # and logs an error (quoting it) for an empty one, local.settings.sample.json's default. The distro's
    # customer-SDK-stats exporter is only handed a credential that is not None, so an empty string goes too.
    options["credential"] = None
    if os.environ.get(AUTHENTICATION_STRING) == "":
        del os.environ[AUTHENTICATION_STRING]
    if use_entra:
        # Sync credential: the exporter runs in its own thread. Explicit, so no other credential is tried.
        from azure.identity import ManagedIdentityCredential

        options["credential"] = ManagedIdentityCredential(client_id=client_id)
    configure_azure_monitor(**options)
    log.info("metrics export to Application Insights configured (Entra auth: %s)", use_entra)
    return None


_lock = threading.Lock()
_instance: Telemetry | None = None


def start_telemetry(config: TelemetrySettings) -> Telemetry:
    """The worker's telemetry; the first configuration wins (a meter provider is set once per process)."""
    global _instance
    with _lock:
        if _instance is None:
            _instance = Telemetry.start(config)
        return _instance


@contextmanager
def _guarded() -> Iterator[None]:
    """Metrics are an aid, never a reason to fail a request."""
    try:
        yield
    except Exception:
        log.warning("metrics recording failed", exc_info=False)


def attributes_in(snapshot: Mapping[str, Any]) -> set[str]:
    """Every attribute name the snapshot carries (tests hold them to ALLOWED_ATTRIBUTES)."""
    return {name for metric in snapshot["metrics"] for point in metric["points"] for name in point["attributes"]}
