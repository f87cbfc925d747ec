"""The timer trigger that removes stale identities on CLEANUP_SCHEDULE (NCRONTAB)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import azure.functions as func

from token_service.cleanup import CleanupPolicy, CleanupSummary, StaleIdentityCleanup
from token_service.runtime import Runtime, get_runtime

bp = func.Blueprint()
log = logging.getLogger("token_service.cleanup")


def cleanup_for(runtime: Runtime, **overrides: Any) -> StaleIdentityCleanup:
    """The cleanup as the settings define it; `overrides` change policy fields (CLI flags, tests)."""
    settings = runtime.settings
    policy = CleanupPolicy(
        stale_days=settings.stale_identity_days,
        max_per_run=settings.cleanup_max_per_run,
        time_budget_seconds=settings.cleanup_time_budget_seconds,
        dry_run=settings.cleanup_dry_run,
        acs_calls_per_second=settings.cleanup_acs_calls_per_second,
    )
    return StaleIdentityCleanup(runtime.registry, runtime.background_acs, runtime.clock, replace(policy, **overrides))


@bp.function_name("cleanup_stale_identities")
@bp.timer_trigger(schedule="%CLEANUP_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True)
async def cleanup_stale_identities(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("cleanup timer is past due; running now")
    summary: CleanupSummary = await cleanup_for(get_runtime()).run()
    if summary.stopped_early:
        log.info("cleanup stopped early (%s); the next run continues", summary.stopped_early)
