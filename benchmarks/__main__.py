"""`python -m benchmarks` (make bench): every benchmark, one after the other, each with its own services.

python -m benchmarks [token_issuance storage_ops cold_start cleanup listing load_run capacity]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from benchmarks import capacity, cleanup, cold_start, listing, load_run, storage_ops, token_issuance

BENCHMARKS: dict[str, Callable[[list[str]], int]] = {
    "token_issuance": token_issuance.main,
    "token_issuance_latency": lambda argv: token_issuance.main(["--latency", "azure", *argv]),
    "storage_ops": storage_ops.main,
    "cold_start": cold_start.main,
    "cleanup": cleanup.main,
    "listing": listing.main,
    "load_run": load_run.main,
    "capacity": capacity.main,  # after storage_ops and token_issuance: it reads their results
}


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {unknown}; choose from {list(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        started = time.monotonic()
        print(f"\n=== {name} ===", flush=True)
        if BENCHMARKS[name]([]) != 0:
            failed.append(name)
        print(f"=== {name}: {time.monotonic() - started:.0f} s ===", flush=True)
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
