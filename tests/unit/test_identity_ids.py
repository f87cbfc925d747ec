"""The ACS identity id forms the routes accept (acs.rules.IDENTITY_ID_PATTERN), and the body depth scan."""

from __future__ import annotations

import json
import re

import pytest

from token_service.acs.rules import IDENTITY_ID_PATTERN
from token_service.http.inputs import MAX_BODY_DEPTH
from token_service.json_text import nesting_depth

RESOURCE = "a4c2f0a1-1b2c-4d3e-8f90-123456789abc"
ID = re.compile(IDENTITY_ID_PATTERN)


@pytest.mark.parametrize("prefix", ["8:acs:", "8:gcch-acs:", "8:dod-acs:", "8:spool:"])
def test_valid_forms(prefix: str) -> None:
    assert ID.fullmatch(f"{prefix}{RESOURCE}_00000006-19e0-2727-80f5-8b3a0d003502")


@pytest.mark.parametrize(
    "value",
    [
        f"acs:{RESOURCE}_x",  # no 8:
        f"8:teams:{RESOURCE}_x",  # not an ACS identity
        f"8:acs:{RESOURCE}",  # no id part
        f"8:acs:{RESOURCE}_",
        f"8:acs:{RESOURCE}_a b",
        f"8:acs:{RESOURCE}_" + "a" * 129,  # longer than any ACS id
        f"8:acs:{RESOURCE}_x\n",
        f"8:ACS:{RESOURCE}_x",
        "",
    ],
)
def test_invalid_forms(value: str) -> None:
    assert not ID.fullmatch(value)


@pytest.mark.parametrize(
    ("text", "depth"),
    [("{}", 1), ('{"scopes":["voip"]}', 2), ('{"a":"[[[{{{"}', 1), ('{"a":"\\"[[["}', 1), ("[" * 5000, 5000), ("7", 0)],
)
def testnesting_depth(text: str, depth: int) -> None:
    assert nesting_depth(text.encode()) == depth


def test_the_limit_leaves_our_bodies_room() -> None:
    assert nesting_depth(json.dumps({"scopes": ["chat", "voip"], "expiresInMinutes": 60}).encode()) < MAX_BODY_DEPTH
