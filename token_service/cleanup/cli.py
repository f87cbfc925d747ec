"""Run the stale-identity cleanup by hand, with a progress bar and a summary (for operators).

    python -m token_service.cleanup [--settings local.settings.json] [--dry-run] [--max N] [--budget S]

It runs exactly what the timer trigger runs, with the same app settings (from the environment, or
the `Values` of a local.settings.json file where the environment does not set them), under the same
cleanup lease: while another run holds it, it exits 3 naming the holder and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from token_service.cleanup.policy import CleanupSummary
from token_service.errors import ServiceError
from token_service.registry import CleanupLeaseHeld
from token_service.services import build_services
from token_service.settings import Settings, SettingsError

BAR_WIDTH = 30
EXIT_LEASE_HELD = 3  # another run (a timer, a manual run, another CLI) holds the cleanup lease


def load_settings_file(path: Path) -> None:
    """Values from local.settings.json, without overriding the environment (as the Functions host does)."""
    values = json.loads(path.read_text()).get("Values", {})
    for name, value in values.items():
        os.environ.setdefault(name, str(value))


class ProgressBar:
    def __init__(self, total: int, stream: object = sys.stderr) -> None:
        self._total = max(total, 1)
        self._stream = stream
        self._started = time.monotonic()

    def __call__(self, summary: CleanupSummary) -> None:
        done = summary.deleted + summary.already_gone + summary.failed + summary.survived
        fraction = min(done / self._total, 1.0)
        filled = int(fraction * BAR_WIDTH)
        rate = done / max(time.monotonic() - self._started, 1e-6)
        line = (
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{self._total} "
            f"deleted {summary.deleted} gone {summary.already_gone} failed {summary.failed} ({rate:.1f}/s)"
        )
        print(line, end="", file=self._stream, flush=True)  # type: ignore[call-overload]


async def run(args: argparse.Namespace) -> CleanupSummary:
    settings = Settings.from_env()
    overrides: dict[str, object] = {}
    if args.dry_run:
        overrides["dry_run"] = True
    if args.max is not None:
        overrides["max_per_run"] = args.max
    if args.budget is not None:
        overrides["time_budget_seconds"] = args.budget
    runtime = build_services(settings)
    try:
        cleanup = runtime.cleanup("cli", **overrides)
        total = await cleanup.count_stale()
        print(f"{total} identities idle for more than {settings.cleanup.stale_days} days", file=sys.stderr)
        cleanup.progress = ProgressBar(min(total, args.max or settings.cleanup.max_per_run))
        summary = await cleanup.run()
    finally:
        await runtime.close()
    print(file=sys.stderr)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", type=Path, help="a local.settings.json whose Values fill in the environment")
    parser.add_argument("--dry-run", action="store_true", help="report what would be deleted; change nothing")
    parser.add_argument("--max", type=int, help="at most this many identities (CLEANUP_MAX_PER_RUN)")
    parser.add_argument("--budget", type=float, help="stop starting work after this many seconds")
    args = parser.parse_args(argv)
    if args.settings:
        load_settings_file(args.settings)
    try:
        summary = asyncio.run(run(args))
    except SettingsError as error:
        print(f"invalid setting: {error}", file=sys.stderr)
        return 2
    except CleanupLeaseHeld as held:
        print(f"\ncleanup not started: {held}", file=sys.stderr)
        return EXIT_LEASE_HELD
    except ServiceError as error:
        print(f"cleanup failed: {error.code}: {error.detail}", file=sys.stderr)
        return 1
    print(summary.log_line())
    if summary.dry_run:
        for acs_id in summary.would_delete:
            print(f"would delete {acs_id}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
