"""The cleanup timers: the daily stale-identity cleanup on CLEANUP_SCHEDULE, and the repair pass on
CLEANUP_REPAIR_SCHEDULE (hourly) that finishes deletions a crash left half done. Both run under the
cleanup lease; while another run holds it, the invocation logs the holder and ends cleanly."""

from __future__ import annotations

import json
import logging

import azure.functions as func

from token_service.registry import CleanupLeaseHeld
from token_service.services import get_services

bp = func.Blueprint()
log = logging.getLogger("token_service.cleanup")


async def _run_under_lease(kind: str, **overrides: object) -> None:
    services = get_services()
    try:
        summary = await services.cleanup(kind, **overrides).run()
    except CleanupLeaseHeld as held:
        log.info(json.dumps({"event": "cleanup_not_started", "kind": kind, "held_by": held.holder.owner,
                             "held_until": held.holder.until.isoformat(timespec="seconds")}))  # fmt: skip
        return
    services.telemetry.cleanup_finished(summary)
    if summary.stopped_early:
        log.info("cleanup (%s) stopped early (%s); the next run continues", kind, summary.stopped_early)


@bp.timer_trigger(schedule="%CLEANUP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def cleanup_stale_identities(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("cleanup timer is past due; running now")
    await _run_under_lease("timer")


@bp.timer_trigger(schedule="%CLEANUP_REPAIR_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def repair_pending_deletions(timer: func.TimerRequest) -> None:
    await _run_under_lease("repair", repair_only=True)
