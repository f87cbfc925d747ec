"""A cleanup run's claim on one identity's deletion: who holds it and until when.

The claim lives on the identity row (`claimed_by`, `claim_until`, written with the 'deleting' mark).
Another run finishes ("resumes") a deletion only when its claim has expired (the run that made it
died or gave it back) or has no owner (a deletion a request started: requests write no claim); a live
claim is skipped, so two runs never work on one identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from token_service.registry.records import IdentityState


@dataclass(frozen=True)
class CleanupClaim:
    claimed_by: str | None
    claim_until: datetime | None
    state: IdentityState = IdentityState.DELETING
    etag: str | None = None

    def fields(self) -> dict[str, object]:
        fields: dict[str, object] = {"claimed_by": self.claimed_by or ""}
        if self.claim_until is not None:
            fields["claim_until"] = self.claim_until
        return fields

    def live(self, now: datetime, me: str) -> bool:
        """Held by another run that may still be at work."""
        if not self.claimed_by or self.claimed_by == me or self.claim_until is None:
            return False
        return self.claim_until > now


def claim_from_entity(entity: Any) -> CleanupClaim:
    return CleanupClaim(
        claimed_by=entity.get("claimed_by") or None,
        claim_until=entity.get("claim_until"),
        state=IdentityState(entity.get("state", IdentityState.ACTIVE)),
        etag=entity.metadata["etag"],
    )
