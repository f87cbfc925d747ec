"""The subset of Table Storage's OData filter language the registry uses, and nothing more.

Clauses `<property> <op> <value>` joined by `and`; ops eq, ne, gt, ge, lt, le; a value is a
`@parameter` or a quoted string literal. Anything else raises UnsupportedFilter: a new kind of query
in the app must fail the contract suite loudly instead of the model silently matching everything.
Semantics as Table Storage's: an entity without the property does not match its clause; strings
compare by ordinal (code point), datetimes by instant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_CLAUSE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(eq|ne|gt|ge|lt|le)\s+(@[A-Za-z_][A-Za-z0-9_]*|'(?:[^']|'')*')\s*$"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


class UnsupportedFilter(ValueError):
    """A filter outside the subset the model implements."""


@dataclass(frozen=True)
class Clause:
    name: str
    op: str
    value: Any

    def matches(self, entity: Mapping[str, Any]) -> bool:
        if self.name not in entity:
            return False
        actual = entity[self.name]
        if isinstance(self.value, datetime) != isinstance(actual, datetime):
            return False  # Table Storage compares typed values: a string never equals a datetime
        if isinstance(self.value, str) != isinstance(actual, str):
            return False
        return _OPS[self.op](actual, self.value)


@dataclass(frozen=True)
class Filter:
    clauses: tuple[Clause, ...]

    def matches(self, entity: Mapping[str, Any]) -> bool:
        return all(clause.matches(entity) for clause in self.clauses)


def parse(query: str, parameters: Mapping[str, Any]) -> Filter:
    """The filter, with parameters bound; UnsupportedFilter for anything outside the subset."""
    if not query.strip():
        raise UnsupportedFilter("an empty filter (a whole-table scan) is not something the registry does")
    clauses = []
    for part in re.split(r"\s+and\s+", query):
        match = _CLAUSE.match(part)
        if match is None:
            raise UnsupportedFilter(f"filter clause outside the model's subset: {part!r}")
        name, op, raw = match.groups()
        if raw.startswith("@"):
            if raw[1:] not in parameters:
                raise UnsupportedFilter(f"parameter {raw} is not bound")
            value = parameters[raw[1:]]
            if not isinstance(value, str | datetime):
                raise UnsupportedFilter(f"parameter {raw} has a type the model does not compare: {type(value)}")
        else:
            value = raw[1:-1].replace("''", "'")
        clauses.append(Clause(name, op, value))
    return Filter(tuple(clauses))
