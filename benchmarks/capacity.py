"""Capacity on paper (issue 23 item 5): what each limit allows, at ACS's default limits and raised 10x and 100x.

    python -m benchmarks.capacity      # prints the table, writes results/capacity.json

Pure arithmetic over published limits and this project's measured figures (no service is started):
- ACS Identity limits per resource per 30 s (local_azure/acs/faults.py holds the same defaults): issue
  1,000, create 1,000, revoke 500, delete 500; scaled x1, x10, x100 (a raised quota is a support request);
- Table Storage targets (standard v2 account), which do not scale with ACS: ≈ 2,000 entities/s per
  partition and ≈ 20,000 transactions/s per account;
- Flex Consumption: the deployment's maximum instance count (infra/main.bicep, 40; the plan allows
  1,000) x the best per-instance req/s measured through the worker (results/token_issuance_latency.json);
- storage round trips per operation, measured (results/storage_ops.json), and which partition each
  write lands in (token_service/registry/records.py, listing.py).

Workload assumptions (WORKLOAD below, printed with the table): a signed-in user's client refreshes
once per token lifetime minus 10 minutes (every 50 min for 60-minute tokens) and loads the page
PAGE_LOADS_PER_HOUR times an hour, each a token request; every request is taken to record activity (a
refresh is always ≥ 10 minutes after the last, ACTIVITY_RESOLUTION; counting page loads too is the
worst case for the activity partition).
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS_DIR, relative, table, write_results

WINDOW_SECONDS = 30
ACS_DEFAULT_PER_WINDOW = {"issue": 1000, "create": 1000, "revoke": 500, "delete": 500}
SCALES = (1, 10, 100)
PARTITION_ENTITIES_PER_SECOND = 2000
ACCOUNT_TRANSACTIONS_PER_SECOND = 20000
MAX_INSTANCES = 40  # infra/main.bicep's maximumInstanceCount default (Flex Consumption allows up to 1,000)
SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class Workload:
    """How users use the service: the assumptions every user-count figure rests on."""

    token_minutes: int = 60
    refresh_margin_minutes: int = 10  # the token client refreshes this long before expiry
    page_loads_per_hour: float = 2.0
    activity_share: float = 1.0  # share of token requests that record activity (worst case: all)

    @property
    def requests_per_user_hour(self) -> float:
        return 60 / (self.token_minutes - self.refresh_margin_minutes) + self.page_loads_per_hour


@dataclass(frozen=True)
class Measured:
    """The project's own measurements the arithmetic uses."""

    per_instance_rps: float  # POST /api/token per instance (worker mode, one region's latencies)
    trips_token: int  # storage round trips of a token request that records activity
    trips_create: int  # ... of a first call (creates the identity)


@dataclass(frozen=True)
class Allowance:
    """What one limit alone allows; None where the limit does not constrain that quantity."""

    limit: str
    token_rps: float | None
    creates_per_day: float | None


def allowances(scale: int, workload: Workload, measured: Measured) -> list[Allowance]:
    """Each limit's ceiling on token requests/s and identities created/day at `scale` x ACS's limits.

    Partition ceilings count the writes one operation puts in that partition: a token request that
    records activity writes one row of activity_<today>; a first call writes one row of created_<today>
    and one of activity_<today>. A user's mapping partition is written once per request of that user.
    """
    acs = {op: n * scale / WINDOW_SECONDS for op, n in ACS_DEFAULT_PER_WINDOW.items()}
    partition = PARTITION_ENTITIES_PER_SECOND
    activity_writes = workload.activity_share
    instances_rps = MAX_INSTANCES * measured.per_instance_rps
    return [
        Allowance(f"ACS issue ({ACS_DEFAULT_PER_WINDOW['issue'] * scale:,}/30 s)", acs["issue"], None),
        Allowance(f"ACS create ({ACS_DEFAULT_PER_WINDOW['create'] * scale:,}/30 s)", None, acs["create"] * 86400),
        Allowance(
            "Table partition activity_<day> (2,000/s)",
            partition / activity_writes if activity_writes else math.inf,
            partition * SECONDS_PER_DAY,
        ),
        Allowance("Table partition created_<day> (2,000/s)", None, partition * SECONDS_PER_DAY),
        Allowance(
            "Table account (20,000 transactions/s)",
            ACCOUNT_TRANSACTIONS_PER_SECOND / measured.trips_token,
            ACCOUNT_TRANSACTIONS_PER_SECOND / measured.trips_create * SECONDS_PER_DAY,
        ),
        Allowance(
            f"Function instances ({MAX_INSTANCES} x {measured.per_instance_rps:.0f} req/s)",
            instances_rps,
            instances_rps * SECONDS_PER_DAY,
        ),
    ]


def binding(rows: list[Allowance], field: str) -> tuple[float, str]:
    """The least any limit allows of `field`, and the limit(s) allowing it (the first to bind; ties joined)."""
    values = {row.limit: float(getattr(row, field)) for row in rows if getattr(row, field) is not None}
    least = min(values.values())
    return least, " and ".join(name for name, value in values.items() if math.isclose(value, least))


def active_users(token_rps: float, workload: Workload) -> float:
    return token_rps * 3600 / workload.requests_per_user_hour


def partition_load(scale: int, workload: Workload) -> dict[str, float]:
    """Writes/s into each hot partition when ACS's issue and create budgets are both used in full."""
    issue = ACS_DEFAULT_PER_WINDOW["issue"] * scale / WINDOW_SECONDS
    create = ACS_DEFAULT_PER_WINDOW["create"] * scale / WINDOW_SECONDS
    return {
        "activity_<day>": issue * workload.activity_share + create,
        "created_<day>": create,
        "a user's mapping (one user)": workload.requests_per_user_hour / 3600,
    }


def scale_report(scale: int, workload: Workload, measured: Measured) -> dict[str, Any]:
    rows = allowances(scale, workload, measured)
    token_rps, token_limit = binding(rows, "token_rps")
    creates_per_day, create_limit = binding(rows, "creates_per_day")
    load = partition_load(scale, workload)
    acs_token = next(row for row in rows if row.limit.startswith("ACS issue"))
    acs_create = next(row for row in rows if row.limit.startswith("ACS create"))
    assert acs_token.token_rps is not None and acs_create.creates_per_day is not None
    return {
        "scale": scale,
        "limits": [asdict(row) | {"active_users": _users(row.token_rps, workload)} for row in rows],
        "token_rps": token_rps,
        "active_users": active_users(token_rps, workload),
        "creates_per_day": creates_per_day,
        "binds_first": {"token_requests": token_limit, "identity_creation": create_limit},
        "binds_before_acs": {
            "token_requests": token_rps < acs_token.token_rps,
            "identity_creation": creates_per_day < acs_create.creates_per_day,
        },
        "partition_writes_per_second": load,
        "partitions_over_target": [name for name, rate in load.items() if rate > PARTITION_ENTITIES_PER_SECOND],
    }


def _users(token_rps: float | None, workload: Workload) -> float | None:
    return None if token_rps is None else active_users(token_rps, workload)


def measured_figures(results: Path = RESULTS_DIR) -> Measured:
    """The per-instance rate and storage round trips from the benchmarks' own results."""
    latency = json.loads((results / "token_issuance_latency.json").read_text())
    per_instance = max(row["worker"]["rps_median"] for row in latency["results"] if "worker" in row)
    ops = json.loads((results / "storage_ops.json").read_text())["scenarios"]
    return Measured(
        per_instance_rps=per_instance,
        trips_token=ops["token_activity"]["storage_total"],
        trips_create=ops["token_first_call"]["storage_total"],
    )


def render(reports: list[dict[str, Any]], workload: Workload) -> str:
    headers = ["ACS limits", "token requests/s", "active users", "identities created/day", "binds first"]
    rows = []
    for r in reports:
        first = r["binds_first"]
        rows.append(
            [
                "default" if r["scale"] == 1 else f"{r['scale']}x",
                f"{r['token_rps']:,.0f}",
                f"{r['active_users']:,.0f}",
                f"{r['creates_per_day']:,.0f}",
                f"tokens: {first['token_requests']}; creates: {first['identity_creation']}",
            ]
        )
    detail_headers = ["ACS limits", "limit", "token requests/s", "active users", "identities created/day"]
    detail = [
        [
            "default" if r["scale"] == 1 else f"{r['scale']}x",
            row["limit"],
            "—" if row["token_rps"] is None else f"{row['token_rps']:,.0f}",
            "—" if row["active_users"] is None else f"{row['active_users']:,.0f}",
            "—" if row["creates_per_day"] is None else f"{row['creates_per_day']:,.0f}",
        ]
        for r in reports
        for row in r["limits"]
    ]
    load_headers = ["ACS limits", *reports[0]["partition_writes_per_second"], "over 2,000/s"]
    load = [
        [
            "default" if r["scale"] == 1 else f"{r['scale']}x",
            *(f"{v:,.4g}" for v in r["partition_writes_per_second"].values()),
            ", ".join(r["partitions_over_target"]) or "none",
        ]
        for r in reports
    ]
    return "\n\n".join(
        [
            f"Workload: {workload.requests_per_user_hour:.1f} token requests per active user-hour "
            f"(a refresh every {workload.token_minutes - workload.refresh_margin_minutes} min + "
            f"{workload.page_loads_per_hour:g} page loads); {workload.activity_share:.0%} record activity",
            table(headers, rows),
            table(detail_headers, detail),
            "Partition writes/s with ACS's issue and create budgets both used in full:",
            table(load_headers, load),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    del argv
    workload = Workload()
    measured = measured_figures()
    reports = [scale_report(scale, workload, measured) for scale in SCALES]
    print(render(reports, workload), flush=True)
    for r in reports:
        if r["scale"] == 10 and r["partitions_over_target"]:
            print(f"!! at 10x a day partition binds before ACS: {r['partitions_over_target']}", file=sys.stderr)
    path = write_results(
        "capacity",
        {
            "method": "arithmetic over published limits and results/token_issuance_latency.json, storage_ops.json",
            "limits": {
                "acs_per_30s_default": ACS_DEFAULT_PER_WINDOW,
                "table_partition_entities_per_second": PARTITION_ENTITIES_PER_SECOND,
                "table_account_transactions_per_second": ACCOUNT_TRANSACTIONS_PER_SECOND,
                "function_max_instances": MAX_INSTANCES,
            },
            "workload": asdict(workload) | {"requests_per_user_hour": workload.requests_per_user_hour},
            "measured": asdict(measured),
            "scales": reports,
        },
    )
    print(f"wrote {relative(path)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
