"""Identity state in sqlite: created, last token issued, last revocation, deletion.

sqlite (stdlib) in WAL mode keeps restarts lossless and lookups O(log n) however many identities;
each call is one indexed read or write of a local file, so the event loop calls it directly.

Tokens carry whole seconds (`iat`/`csi`), so a revocation records its whole second as a cutoff:
tokens with iat <= cutoff are revoked. Issuing waits out the cutoff second (see app.py, issue_token).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identities (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    last_token_issued_at REAL,
    revoked_at REAL,
    revoked_cutoff INTEGER,
    deleted_at REAL
);
"""
_SELECT = (
    "SELECT id, created_at, last_token_issued_at, revoked_at, revoked_cutoff, deleted_at"  # fixed columns
    " FROM identities"
)


@dataclass(frozen=True)
class IdentityRecord:
    id: str
    created_at: float
    last_token_issued_at: float | None
    revoked_at: float | None
    revoked_cutoff: int | None
    deleted_at: float | None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class IdentityStore:
    """All identity state of one ACS resource."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def create(self, identity_id: str, now: float) -> bool:
        """Insert a new identity; False if the id already exists."""
        cursor = self._db.execute("INSERT OR IGNORE INTO identities (id, created_at) VALUES (?, ?)", (identity_id, now))
        return cursor.rowcount == 1

    def get(self, identity_id: str) -> IdentityRecord | None:
        row = self._db.execute(
            _SELECT + " WHERE id = ?",
            (identity_id,),
        ).fetchone()
        return IdentityRecord(*row) if row else None

    def record_token(self, identity_id: str, issued_at: float) -> None:
        self._db.execute("UPDATE identities SET last_token_issued_at = ? WHERE id = ?", (issued_at, identity_id))

    def revoke(self, identity_id: str, now: float) -> None:
        self._db.execute(
            "UPDATE identities SET revoked_at = ?, revoked_cutoff = ? WHERE id = ?", (now, int(now), identity_id)
        )

    def delete(self, identity_id: str, now: float) -> None:
        self._db.execute(
            "UPDATE identities SET deleted_at = ?, revoked_at = ?, revoked_cutoff = ? WHERE id = ?",
            (now, now, int(now), identity_id),
        )

    def all(self, live_only: bool = False) -> list[IdentityRecord]:
        where = " WHERE deleted_at IS NULL" if live_only else ""
        return [IdentityRecord(*row) for row in self._db.execute(_SELECT + where + " ORDER BY created_at")]
