"""Figures of the token benchmark from its rounds: per-mode statistics, ratios, the printed tables, the plot."""

from __future__ import annotations

from typing import Any

from benchmarks.azure_latency import LatencyProfile
from benchmarks.common import median, percentile, pyplot, table
from benchmarks.token_paths import Round

# (a, b): rps_a / rps_b, paired round by round. worker/function is what the worker protocol costs.
PAIRS = (
    ("function", "floor"),
    ("worker", "floor"),
    ("worker", "function"),
    ("function", "direct"),
    ("floor", "direct"),
)


def summarise(rounds: list[Round], levels: list[int], modes: list[str], processes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for concurrency in levels:
        by_mode = {mode: [r for r in rounds if r.concurrency == concurrency and r.mode == mode] for mode in modes}
        stats: dict[str, dict[str, Any]] = {}
        for mode, mode_rounds in by_mode.items():
            latencies = [x for r in mode_rounds for x in r.latencies_ms]
            stats[mode] = {
                "rps_median": median([r.rps for r in mode_rounds]),
                "rps_per_round": [round(r.rps, 1) for r in mode_rounds],
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "requests": len(latencies),
                "errors": sum(r.errors for r in mode_rounds),
                "cpu_ms_per_request": {
                    name: round(sum(r.cpu_seconds.get(name, 0) for r in mode_rounds) * 1000 / max(len(latencies), 1), 3)
                    for name in processes
                },
            }
        ratios: dict[str, float] = {}
        pair_ratios: dict[str, list[float]] = {}
        for a, b in PAIRS:
            if a in by_mode and b in by_mode:
                pairs = [x.rps / y.rps for x, y in zip(by_mode[a], by_mode[b], strict=False) if y.rps]
                ratios[f"{a}/{b}"] = median(pairs)
                pair_ratios[f"{a}/{b}"] = [round(x, 3) for x in pairs]
        row: dict[str, Any] = {"concurrency": concurrency, **stats, "ratios": ratios, "pair_ratios": pair_ratios}
        if "worker" in stats and "function" in stats:
            row["worker_cost"] = {
                "p50_ms": stats["worker"]["p50_ms"] - stats["function"]["p50_ms"],
                "p99_ms": stats["worker"]["p99_ms"] - stats["function"]["p99_ms"],
                "devhost_cpu_ms_per_request": stats["worker"]["cpu_ms_per_request"].get("devhost_worker", 0)
                - stats["function"]["cpu_ms_per_request"].get("devhost_function", 0),
            }
        rows.append(row)
    return rows


def report(rows: list[dict[str, Any]], memory: dict[str, Any], aim: float) -> str:
    modes = [m for m in ("function", "worker", "direct", "floor") if m in rows[0]]
    names = [name for name, _ in ((f"{a}/{b}", 0) for a, b in PAIRS) if name in rows[0]["ratios"]]
    lines = [
        "Throughput (req/s, median of rounds) and ratios (median of round pairs):",
        table(
            ["c", *modes, *names, "errors"],
            [
                [
                    r["concurrency"],
                    *(r[m]["rps_median"] for m in modes),
                    *(f"{r['ratios'][n]:.3f}" for n in names),
                    sum(r[m]["errors"] for m in modes),
                ]
                for r in rows
            ],
        ),
        "Latency ms, p50 / p99 over all requests of a mode:",
        table(
            ["c", *modes],
            [[r["concurrency"], *(f"{r[m]['p50_ms']:.2f} / {r[m]['p99_ms']:.2f}" for m in modes)] for r in rows],
        ),
        "CPU ms per request, by process:",
    ]
    processes = list(rows[0][modes[0]]["cpu_ms_per_request"])
    lines.append(
        table(
            ["c", "mode", *processes, "total"],
            [
                [
                    r["concurrency"],
                    m,
                    *(r[m]["cpu_ms_per_request"][p] for p in processes),
                    sum(r[m]["cpu_ms_per_request"].values()),
                ]
                for r in rows
                for m in modes
            ],
        )
    )
    if "worker_cost" in rows[0]:
        lines.append(
            "worker protocol cost per request (worker - function): "
            + "; ".join(
                f"c={r['concurrency']}: p50 {r['worker_cost']['p50_ms']:+.2f} ms, "
                f"devhost CPU {r['worker_cost']['devhost_cpu_ms_per_request']:+.3f} ms"
                for r in rows
            )
        )
    for mode in ("function", "worker"):
        key = f"{mode}/floor"
        if key in rows[0]["ratios"]:
            met = all(r["ratios"][key] >= aim for r in rows)
            lines.append(f"aim {key} >= {aim} at every concurrency: {'met' if met else 'MISSED'}")
    for mode, figures in memory.items():
        if figures.get("peak_rss_mb") is not None:
            lines.append(f"devhost ({mode}) peak RSS (VmHWM) after the last rounds: {figures['peak_rss_mb']:.1f} MB")
    return "\n".join(lines)


def plot(
    rows: list[dict[str, Any]], modes: list[str], memory: dict[str, Any], path: Any, latency: LatencyProfile | None
) -> None:
    plt = pyplot()
    levels = [str(r["concurrency"]) for r in rows]
    x = list(range(len(levels)))
    fig, (ax_rps, ax_lat) = plt.subplots(1, 2, figsize=(12, 4.4))
    width = 0.8 / len(modes)
    for index, mode in enumerate(modes):
        offsets = [i - 0.4 + width * (index + 0.5) for i in x]
        ax_rps.bar(offsets, [r[mode]["rps_median"] for r in rows], width, label=mode)
    for i, r in enumerate(rows):
        top = max(r[m]["rps_median"] for m in modes)
        label = " ".join(f"{k.split('/')[0][0]}:{v:.2f}" for k, v in r["ratios"].items() if k.endswith("/floor"))
        ax_rps.annotate(label, (i, top), ha="center", va="bottom", fontsize=8)
    ax_rps.set_xticks(x, levels)
    ax_rps.set_xlabel("concurrency")
    ax_rps.set_ylabel("requests / s (median of rounds)")
    ax_rps.set_title("Throughput (labels: function f, worker w / floor)")
    ax_rps.legend(fontsize=8)
    for mode in modes:
        line = ax_lat.plot(levels, [r[mode]["p50_ms"] for r in rows], "-o", label=f"{mode} p50")
        ax_lat.plot(levels, [r[mode]["p99_ms"] for r in rows], "--o", color=line[0].get_color(), alpha=0.6,
                    label=f"{mode} p99")  # fmt: skip
    ax_lat.set_yscale("log")
    ax_lat.set_xlabel("concurrency")
    ax_lat.set_ylabel("latency ms (log)")
    peaks = ", ".join(f"{m} {v['peak_rss_mb']:.0f} MB" for m, v in memory.items() if v.get("peak_rss_mb"))
    ax_lat.set_title(f"Latency (devhost peak RSS: {peaks})", fontsize=10)
    ax_lat.legend(fontsize=7, ncol=2)
    injected = (
        f"injected: storage read {latency.storage_read_ms:g} ms, write {latency.storage_write_ms:g} ms, "
        f"ACS {latency.acs_ms:g} ms"
        if latency
        else "no injected latency (loopback)"
    )
    fig.suptitle(f"POST /api/token: devhost direct and worker mode vs floor and direct SDK — {injected}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
