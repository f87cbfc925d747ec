"""`python -m tests.simulation --seeds N` runs N schedules; `--seed S --trace` replays one with its trace."""

from __future__ import annotations

import argparse
import collections
import sys

from tests.simulation.runner import run_many, run_schedule


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.simulation")
    parser.add_argument("--seeds", type=int, default=2000, help="how many schedules (seeds start..start+N)")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--seed", type=int, help="replay one seed")
    parser.add_argument("--trace", action="store_true", help="print the replayable trace of --seed")
    args = parser.parse_args(argv)
    if args.seed is not None:
        result = run_schedule(args.seed)
        if args.trace or result.failed:
            print("\n".join(result.trace))
        print(f"seed {args.seed}: {result.calls} model calls, {result.orphans} orphans from unanswered creates")
        for line in result.violations:
            print("VIOLATION", line)
        return 1 if result.failed else 0
    failing, seconds = run_many(range(args.start, args.start + args.seeds))
    per_invariant: collections.Counter[str] = collections.Counter()
    first: dict[str, int] = {}
    for result in failing:
        for line in result.violations:
            name = line.split(":")[0]
            per_invariant[name] += 1
            first.setdefault(name, result.seed)
    print(f"{args.seeds} schedules in {seconds:.1f} s ({args.seeds / seconds:.0f}/s); {len(failing)} failed")
    for name, count in per_invariant.most_common():
        replay = f"python -m tests.simulation --seed {first[name]} --trace"
        print(f"  {name}: {count} schedules; first: {replay}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
