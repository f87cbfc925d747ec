"""The load run's plot (benchmarks/load_run.py): answers per second by outcome, and latency of the 200s."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, pyplot

SERIES = {
    "200": "200",
    "429 upstream_throttled": "429 upstream_throttled (ACS)",
    "429 rate_limited": "429 rate_limited (per user)",
    "503": "503",
}


def _label(outcome: Any) -> str:
    if outcome.status == 200:
        return "200"
    if outcome.status == 429:
        return f"429 {outcome.code}"
    return "503" if outcome.status == 503 else "other"


def plot(outcomes: list[Any], phases: list[Any], budget_per_second: float, path: Path) -> None:
    """Top: answers per second of sending, by outcome, with ACS's issue budget; bottom: p50/p99 per second."""
    plt = pyplot()
    seconds = math.ceil(max((o.sent_at for o in outcomes), default=0)) + 1
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * seconds)
    latencies: dict[int, list[float]] = defaultdict(list)
    for o in outcomes:
        second = int(o.sent_at)
        counts[_label(o)][second] += 1
        if o.status == 200:
            latencies[second].append(o.ms)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    xs = list(range(seconds))
    for key, label in SERIES.items():
        if key in counts:
            top.plot(xs, counts[key], label=label, linewidth=1.2)
    top.axhline(budget_per_second, color="black", linestyle="--", linewidth=1, label="ACS issue budget (1,000 / 30 s)")
    for phase in phases:
        top.axvline(phase.started, color="grey", linewidth=0.5)
        top.text(phase.started + 0.5, top.get_ylim()[1] * 0.92, f"{phase.rate:g}/s", fontsize=8)
    top.set_ylabel("answers per second (by send time)")
    top.legend(fontsize=8, loc="upper left")
    top.set_title("Load run: 3 app instances, ACS default limits, open-loop arrivals")
    timed = sorted(latencies)
    bottom.plot(timed, [percentile(latencies[s], 50) for s in timed], label="p50 of 200s")
    bottom.plot(timed, [percentile(latencies[s], 99) for s in timed], label="p99 of 200s")
    bottom.set_yscale("log")
    bottom.set_ylabel("ms")
    bottom.set_xlabel("seconds into the measured run")
    bottom.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
