"""What the registry keeps about a user: never the user key itself, and after an erasure nothing that
names them; erasure is exclusive with the user's token calls. Read from the real table (Azurite)."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.function_app.harness import Caller, new_user, user_key
from token_service.services import get_services


async def table_rows() -> list[dict[str, Any]]:
    """Every row of the registry table, as Table Storage returns them."""
    client = get_services().registry._table._table
    return [dict(entity) async for entity in client.list_entities()]


def rows_naming(rows: list[dict[str, Any]], needle: str) -> list[dict[str, Any]]:
    return [row for row in rows if any(needle in str(value) for value in row.values())]


async def test_no_row_holds_a_users_key(caller: Caller) -> None:
    """The user key is hashed everywhere the registry names a user: identity rows, activity rows,
    mappings and tombstones (README: "user keys are hashed in the registry")."""
    user = new_user()
    token = caller.user_token(user)
    first = await caller.call("issue_user_token", "POST", "token", token=token)
    assert first.status == 201, first.body
    assert (await caller.call("delete_me", "DELETE", "me", token=token)).status == 204
    assert (await caller.call("issue_user_token", "POST", "token", token=token)).status == 201
    rows = await table_rows()
    assert rows_naming(rows, user) == [], "a row holds the raw user key"
    hashed = "sha256:" + hashlib.sha256(user_key(user).encode()).hexdigest()
    assert len(rows_naming(rows, hashed)) >= 3, "identity rows and tombstone name the owner by its hash"
