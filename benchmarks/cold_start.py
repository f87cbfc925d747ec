"""Benchmark 2: cold start, `import function_app` against importing just the SDK modules it needs.

    python -m benchmarks.cold_start [--runs 10]

Each sample is a fresh interpreter (`python -c ...`, wall time of the whole process, cwd = project root,
the app settings of local.settings.sample.json in the environment so the import's settings check passes).
The three commands alternate (app, SDK, bare, app, SDK, bare, ...) so machine noise hits them alike; one
unrecorded run of each first warms the page cache and __pycache__. Reported: medians, the ratio
app / SDK, and the same ratio with the bare interpreter start (`python -c pass`) subtracted from both.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from benchmarks.common import (
    PROJECT_ROOT,
    RESULTS_DIR,
    machine_info,
    machine_line,
    median,
    pyplot,
    relative,
    run_python,
    table,
    write_results,
)

SDK_MODULES = (
    "azure.functions",
    "azure.communication.identity.aio",
    "azure.identity.aio",
    "azure.data.tables.aio",
    "jwt",
    "aiohttp",
)
COMMANDS = {
    "function_app": "import function_app",
    "sdk_only": "import " + ", ".join(SDK_MODULES),
    "bare": "pass",
}
AIM_RATIO = 1.05  # issue 23 item 6


def app_settings_env() -> dict[str, str]:
    """The process environment plus the sample's app settings (valid values; nothing is contacted)."""
    sample = json.loads((PROJECT_ROOT / "local.settings.sample.json").read_text(encoding="utf-8"))
    values = {name: str(value) for name, value in sample["Values"].items()}
    env = {**os.environ, **values}
    for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP"):
        env.pop(name, None)  # measure the ordinary import path
    return env


def measure(runs: int) -> dict[str, list[float]]:
    env = app_settings_env()
    for code in COMMANDS.values():
        run_python(code, env)  # warm-up: page cache, __pycache__
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for index in range(runs):
        names = list(COMMANDS) if index % 2 == 0 else list(reversed(COMMANDS))
        for name in names:
            samples[name].append(run_python(COMMANDS[name], env) * 1000)
    return samples


def plot(samples: dict[str, list[float]], ratio: float, path: Any) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = list(samples)
    ax.boxplot([samples[n] for n in names], showmeans=False)
    ax.set_xticks(range(1, len(names) + 1), names)
    for i, name in enumerate(names, start=1):
        ax.annotate(f"{median(samples[name]):.0f} ms", (i, median(samples[name])), xytext=(8, 0),
                    textcoords="offset points", va="center", fontsize=9)  # fmt: skip
    ax.set_ylabel("process wall time, ms")
    ax.set_title(f"Cold start: import function_app / SDK imports = {ratio:.3f}x (median of {len(samples[names[0]])})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)
    machine = machine_info()
    print(f"cold start: {machine_line(machine)}", flush=True)
    samples = measure(args.runs)
    med = {name: median(values) for name, values in samples.items()}
    ratio = med["function_app"] / med["sdk_only"]
    net_ratio = (med["function_app"] - med["bare"]) / (med["sdk_only"] - med["bare"])
    print(
        table(
            ["command", "median ms", "min ms", "max ms"],
            [[COMMANDS[n], med[n], min(samples[n]), max(samples[n])] for n in samples],
        )
    )
    print(
        f"ratio function_app / SDK-only imports: {ratio:.3f} (aim <= {AIM_RATIO}: "
        f"{'met' if ratio <= AIM_RATIO else 'MISSED'}); without interpreter start: {net_ratio:.3f}",
        flush=True,
    )
    png = RESULTS_DIR / "cold_start.png"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    plot(samples, ratio, png)
    path = write_results(
        "cold_start",
        {
            "machine": machine,
            "method": {
                "runs": args.runs,
                "commands": COMMANDS,
                "measure": "wall time of a fresh `python -c` process, ms; commands alternate; one warm-up each",
                "environment": "app settings from local.settings.sample.json",
            },
            "aims": {"ratio": AIM_RATIO},
            "median_ms": med,
            "samples_ms": {name: [round(v, 2) for v in values] for name, values in samples.items()},
            "ratio": ratio,
            "ratio_without_interpreter_start": net_ratio,
            "plot": relative(png),
        },
    )
    print(f"wrote {relative(path)} and {relative(png)}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
