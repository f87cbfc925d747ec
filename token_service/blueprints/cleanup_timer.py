"""The timer trigger that removes stale identities on CLEANUP_SCHEDULE (NCRONTAB)."""

from __future__ import annotations

import logging

import azure.functions as func

from token_service.runtime import get_runtime
from token_service.telemetry import telemetry

bp = func.Blueprint()
log = logging.getLogger("token_service.cleanup")


@bp.timer_trigger(schedule="%CLEANUP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def cleanup_stale_identities(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("cleanup timer is past due; running now")
    summary = await get_runtime().cleanup().run()
    telemetry().cleanup_finished(summary)
    if summary.stopped_early:
        log.info("cleanup stopped early (%s); the next run continues", summary.stopped_early)
