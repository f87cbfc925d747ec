"""The simulator in `make test`: a bounded number of schedules, deterministic replay, and the seeds that
found each known defect as regression tests.

Each regression seed found a defect; seeds.txt says whether its fix has landed (`fixed`: the seed must
hold its invariant) or not yet (`open`: xfail strict, so a fix that lands without the line changing to
`fixed` fails the suite). The bounded run reports every failing seed with the command that replays its
trace.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from tests.simulation.runner import ScheduleResult, run_many, run_schedule

SEEDS_FILE = Path(__file__).with_name("seeds.txt")
SCHEDULES = int(os.environ.get("SIMULATION_SCHEDULES", "2000"))


def regression_seeds() -> list[object]:
    """seeds.txt: `<seed> <invariant> <fixed|open> <defect> <what>` per line; `#` comments."""
    params: list[object] = []
    for line in SEEDS_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        seed, invariant, status, defect, *what = line.split()
        assert status in ("fixed", "open"), f"seeds.txt: {line!r}"
        reason = f"defect {defect}: {' '.join(what)}"
        marks = [] if status == "fixed" else [pytest.mark.xfail(strict=True, reason=reason)]
        params.append(pytest.param(int(seed), invariant, marks=marks, id=f"seed{seed}-defect{defect}"))
    return params


@pytest.mark.parametrize(("seed", "invariant"), regression_seeds())
def test_regression_seed_holds_its_invariant(seed: int, invariant: str) -> None:
    result = run_schedule(seed)
    broken = [line for line in result.violations if line.startswith(invariant)]
    assert not broken, "\n".join([*result.trace, f"replay: python -m tests.simulation --seed {seed} --trace"])


def test_a_seed_replays_exactly() -> None:
    first, second = run_schedule(17), run_schedule(17)
    assert first.trace == second.trace and first.calls == second.calls


@functools.cache
def bounded_run() -> tuple[list[ScheduleResult], float]:
    return run_many(range(SCHEDULES))


def test_bounded_schedules_hold_every_invariant() -> None:
    failing, seconds = bounded_run()
    print(f"simulation: {SCHEDULES} schedules in {seconds:.1f} s")  # reported, not asserted: shared machines
    summary = [
        f"seed {r.seed}: {'; '.join(r.violations)}  (python -m tests.simulation --seed {r.seed} --trace)"
        for r in failing[:20]
    ]
    assert not failing, f"{len(failing)} of {SCHEDULES} schedules failed:\n" + "\n".join(summary)
