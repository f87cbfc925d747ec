"""Run infra/monitoring's KQL offline: Application Insights tables rebuilt from what the local stack wrote.

The queries run as deployed (the files infra/monitoring.bicep loads, the workbook JSON's items) on DuckDB
through duckdb-kql, a KQL-to-SQL translator, over:
- `traces`: one row per log line a host wrote, `message` being the app's log message. The Functions host
  forwards a Python worker's log records to Application Insights as traces with that message, so a field
  the app renames (or an event it stops writing) makes the query find nothing here too.
- `customMetrics`: one row per point of GET /api/metrics, as the Azure Monitor exporter sends it (name,
  valueSum/valueCount/valueMin/valueMax, attributes as customDimensions).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb_kql

from tests.infra.bicep import INFRA, parse

MONITORING = INFRA / "monitoring.bicep"
WORKBOOK = INFRA / "monitoring" / "workbook.json"
# devhost's log format: [%(asctime)s] %(levelname)s %(name)s: %(message)s
HOST_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\] ([A-Z]+) ([\w.]+): (.*)$")
SEVERITY = {"DEBUG": 0, "INFO": 1, "WARNING": 2, "ERROR": 3, "CRITICAL": 4}


@dataclass(frozen=True)
class Trace:
    timestamp: datetime
    severity: int
    category: str
    message: str


def host_traces(text: str, shift: timedelta = timedelta(0)) -> list[Trace]:
    """The log lines of a devhost log file as traces (timestamps moved by `shift`)."""
    traces = []
    for line in text.splitlines():
        match = HOST_LINE.match(line)
        if match:
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") + timedelta(milliseconds=int(match.group(2)))
            traces.append(Trace(stamp + shift, SEVERITY.get(match.group(3), 1), match.group(4), match.group(5)))
    return traces


def alert_queries(path: Path = MONITORING) -> dict[str, str]:
    """alert name -> the query text monitoring.bicep deploys for it (its loadTextContent file)."""
    bicep = parse(path)
    queries: dict[str, str] = {}
    for alert in bicep.variables["alerts"]["value"]:
        loaded = alert["query"]["function"]
        assert loaded["type"] == "load_text_content", alert
        queries[alert["name"]] = (path.parent / loaded["parameters"]["file_path"]).read_text(encoding="utf-8")
    return queries


def workbook_queries(path: Path = WORKBOOK) -> dict[str, str]:
    """workbook item name -> its KQL."""
    items = json.loads(path.read_text(encoding="utf-8"))["items"]
    return {item["name"]: item["content"]["query"] for item in items if item.get("type") == 3}


def metric_rows(snapshot: dict[str, Any], at: datetime) -> list[tuple[Any, ...]]:
    rows = []
    for metric in snapshot["metrics"]:
        for point in metric["points"]:
            if "count" in point:
                values = (point["sum"], point["count"], point["sum"], point["min"], point["max"])
            else:
                values = (point["value"], 1, point["value"], point["value"], point["value"])
            rows.append((at, metric["name"], *values, json.dumps(point["attributes"])))
    return rows


class LogsWorkspace:
    """An in-memory DuckDB with Application Insights' `traces` and `customMetrics` columns the queries use."""

    def __init__(self) -> None:
        self.connection = duckdb_kql.connect()
        self.connection.sql(
            "CREATE TABLE traces (timestamp TIMESTAMP, message VARCHAR, severityLevel INTEGER, "
            "customDimensions JSON, operation_Name VARCHAR)"
        )
        self.connection.sql(
            "CREATE TABLE customMetrics (timestamp TIMESTAMP, name VARCHAR, value DOUBLE, valueCount BIGINT, "
            "valueSum DOUBLE, valueMin DOUBLE, valueMax DOUBLE, customDimensions JSON)"
        )

    def add_traces(self, traces: list[Trace]) -> None:
        for trace in traces:
            self.connection.execute(
                "INSERT INTO traces VALUES (?, ?, ?, ?, ?)",
                [trace.timestamp, trace.message, trace.severity, json.dumps({"Category": trace.category}), ""],
            )

    def add_metrics(self, snapshot: dict[str, Any], at: datetime) -> None:
        for row in metric_rows(snapshot, at):
            self.connection.execute("INSERT INTO customMetrics VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(row))

    def query(self, kql: str) -> list[dict[str, Any]]:
        problems = duckdb_kql.validate(kql)
        assert not problems, problems
        result = duckdb_kql.query(self.connection, kql)
        columns = [column[0] for column in result.description]
        return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
