"""The identity registry (Azure Table Storage): typed records, their encoding, and the operations.

The one way in: code outside this package imports from `token_service.registry`, never from its
modules, so the modules can be rearranged behind these names.
"""

from token_service.registry.claims import CleanupClaim
from token_service.registry.lease import (
    LEASE_KEY,
    LEASE_SECONDS,
    CleanupLease,
    CleanupLeaseHeld,
    LeaseHolder,
    run_owner,
)
from token_service.registry.listing import BadContinuation, IdentityFilter, ListingPage
from token_service.registry.records import (
    ACTIVITY_PREFIX,
    ActivityEntry,
    IdentityRecord,
    IdentityState,
    IndexedIdentity,
    MappingChange,
    MappingState,
    RateWindow,
    UserMapping,
    is_identity_row,
    is_mapping_row,
    owner_id,
    user_partition,
)
from token_service.registry.retention import ERASED_REASON
from token_service.registry.store import PendingMarker, Registry
from token_service.registry.table import Conflict, Table

__all__ = [
    "ACTIVITY_PREFIX",
    "ERASED_REASON",
    "LEASE_KEY",
    "LEASE_SECONDS",
    "ActivityEntry",
    "BadContinuation",
    "CleanupClaim",
    "CleanupLease",
    "CleanupLeaseHeld",
    "Conflict",
    "IdentityFilter",
    "IdentityRecord",
    "IdentityState",
    "IndexedIdentity",
    "LeaseHolder",
    "ListingPage",
    "MappingChange",
    "MappingState",
    "PendingMarker",
    "RateWindow",
    "Registry",
    "Table",
    "UserMapping",
    "is_identity_row",
    "is_mapping_row",
    "owner_id",
    "run_owner",
    "user_partition",
]
