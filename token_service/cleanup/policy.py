"""What a cleanup run may do (its policy) and what it did (its summary, logged as one line)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from token_service.registry import LEASE_SECONDS
from token_service.settings import CleanupSettings


@dataclass(frozen=True)
class CleanupPolicy:
    stale_days: int
    max_per_run: int
    time_budget_seconds: float
    dry_run: bool
    concurrency: int = 32
    acs_calls_per_second: float = 10.0  # ACS: 500 revokes and 500 deletes per 30 s; 10/s takes 300 (60%)
    repair_only: bool = False  # the repair pass: finish started deletions only, claim nothing new
    claim_seconds: float = 300.0  # a claim outlives one identity's paced revoke+delete with retries
    lease_seconds: float = LEASE_SECONDS  # the cleanup lease's term; renewed every third of it
    tombstone_retention_days: int = 30  # then a tombstone and its index rows are purged

    @classmethod
    def from_settings(cls, settings: CleanupSettings) -> CleanupPolicy:
        """The policy the app settings define; the remaining fields are the run's own tuning."""
        return cls(
            stale_days=settings.stale_days,
            max_per_run=settings.max_per_run,
            time_budget_seconds=settings.time_budget_seconds,
            dry_run=settings.dry_run,
            acs_calls_per_second=settings.acs_calls_per_second,
            tombstone_retention_days=settings.tombstone_retention_days,
        )

    def cutoff(self, now: datetime) -> datetime:
        """Identities whose last activity is before this are stale."""
        return now - timedelta(days=self.stale_days)


@dataclass
class CleanupSummary:
    dry_run: bool
    scanned: int = 0
    stale: int = 0
    revoked: int = 0
    deleted: int = 0
    already_gone: int = 0
    failed: int = 0
    survived: int = 0
    resumed: int = 0
    skipped_live_claims: int = 0
    deferred: int = 0  # deleting-index markers too young to judge (their request may still run)
    purged: int = 0  # tombstones past their retention, removed with their index rows
    erasures_purged: int = 0  # erased users' bare mapping markers, removed once no older call can run
    owner: str = ""
    stopped_early: str | None = None
    duration_seconds: float = 0.0
    would_delete: list[str] = field(default_factory=list)

    def log_line(self) -> str:
        data = asdict(self)
        data["would_delete"] = len(self.would_delete)
        return json.dumps({"event": "cleanup_summary", **data}, separators=(",", ":"))
