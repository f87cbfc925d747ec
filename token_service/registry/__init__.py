"""The identity registry (Azure Table Storage): typed records, their encoding, and the operations."""

from token_service.registry.records import (
    ACTIVITY_PREFIX,
    ActivityEntry,
    IdentityRecord,
    IdentityState,
    MappingState,
    UserMapping,
    is_identity_row,
    is_mapping_row,
    user_partition,
)
from token_service.registry.store import Registry
from token_service.registry.table import Conflict

__all__ = [
    "ACTIVITY_PREFIX",
    "ActivityEntry",
    "Conflict",
    "IdentityRecord",
    "IdentityState",
    "MappingState",
    "Registry",
    "UserMapping",
    "is_identity_row",
    "is_mapping_row",
    "user_partition",
]
