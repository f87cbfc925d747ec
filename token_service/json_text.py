"""JSON from untrusted text, its nesting measured before the parser sees it.

json.loads recurses once per nested array or object and raises RecursionError at about 1,000 levels:
a request body, a continuation token or an X-MS-CLIENT-PRINCIPAL header of nested `[` would be a 500
instead of a refusal. Every JSON this app reads from outside nests a few levels, so anything deeper
is refused as malformed (ValueError) before it is parsed.
"""

from __future__ import annotations

import json
from typing import Any


def nesting_depth(raw: bytes) -> int:
    """The deepest array/object nesting of a JSON text, in one pass without recursion (brackets inside
    strings do not count). Malformed text is left for the parser to refuse."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def loads_shallow(raw: bytes, max_depth: int) -> Any:
    """json.loads, refusing (ValueError) a text nested deeper than `max_depth`."""
    if nesting_depth(raw) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(raw)
