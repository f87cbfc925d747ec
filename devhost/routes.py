"""Route templates as the Functions host (ASP.NET Core routing) understands them.

Supports `{name}`, optional `{name?}`, constraints `{name:int}` (int, long, guid, alpha, bool,
others accepted as-is), and catch-all `{*name}`. Matching runs on the raw, still percent-encoded
path, and each value is decoded afterwards, so an ACS id sent as `8%3Aacs%3A...` arrives as
`8:acs:...` and an encoded `/` cannot split a segment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

_PARAMETER = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([^}?=]+))?(\?)?\}")
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "alpha": r"[A-Za-z]+",
    "bool": r"(?i:true|false)",
}


class RouteError(ValueError):
    """A route template the devhost cannot serve."""


@dataclass(frozen=True)
class RouteTemplate:
    """One compiled route; `rank` orders templates so literal segments win over parameters."""

    template: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]
    rank: tuple[int, int, int]

    def match(self, raw_path: str) -> dict[str, str] | None:
        """Route values for a raw path (without prefix and leading '/'), or None."""
        found = self.pattern.fullmatch(raw_path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in found.groupdict().items() if value is not None}


def compile_route(template: str) -> RouteTemplate:
    """Compile a route template; raises RouteError naming the template when it is malformed."""
    cleaned = template.strip().strip("/")
    segments = cleaned.split("/") if cleaned else []
    parts: list[str] = []
    names: list[str] = []
    literals = parameters = catch_all = 0
    for index, segment in enumerate(segments):
        if not segment:
            raise RouteError(f"route {template!r} has an empty segment")
        separator = "/" if index else ""
        whole = _PARAMETER.fullmatch(segment)
        if whole and whole.group(1):
            if index != len(segments) - 1:
                raise RouteError(f"route {template!r}: a catch-all parameter must be last")
            names.append(whole.group(2))
            catch_all += 1
            parts.append(f"(?:{separator}(?P<{whole.group(2)}>.*))?")
            continue
        if whole and whole.group(4):
            names.append(whole.group(2))
            parameters += 1
            parts.append(f"(?:{separator}(?P<{whole.group(2)}>{_value_pattern(whole.group(3))}))?")
            continue
        parts.append(re.escape(separator) + _segment_pattern(template, segment, names))
        if _PARAMETER.search(segment):
            parameters += 1
        else:
            literals += 1
    if len(set(names)) != len(names):
        raise RouteError(f"route {template!r} repeats a parameter name")
    pattern = re.compile("".join(parts), re.IGNORECASE)
    return RouteTemplate(template, pattern, tuple(names), (-literals, parameters, catch_all))


def _segment_pattern(template: str, segment: str, names: list[str]) -> str:
    pattern: list[str] = []
    position = 0
    for parameter in _PARAMETER.finditer(segment):
        if parameter.group(1) or parameter.group(4):
            raise RouteError(f"route {template!r}: '{parameter.group(0)}' must be a whole segment")
        pattern.append(re.escape(segment[position : parameter.start()]))
        names.append(parameter.group(2))
        pattern.append(f"(?P<{parameter.group(2)}>{_value_pattern(parameter.group(3))})")
        position = parameter.end()
    rest = segment[position:]
    if "{" in rest or "}" in rest:
        raise RouteError(f"route {template!r}: cannot parse segment {segment!r}")
    pattern.append(re.escape(rest))
    return "".join(pattern)


def _value_pattern(constraint: str | None) -> str:
    if constraint is None:
        return r"[^/]+"
    return f"(?:{_CONSTRAINTS.get(constraint.split('(')[0].lower(), r'[^/]+')})"
