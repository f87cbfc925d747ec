"""Hold each Bicep resource against the generated Azure resource types (bicep-types-az types.json).

What the Bicep compiler would say offline: the resource type exists at that API version; every
property written exists there (exact spelling), is not read-only, and its value has the declared
type (string, string literal set, int, bool, array, object, recursively); required properties are
present. Expressions whose type cannot be known without evaluating them (property access, most
functions) are accepted, parameters count as their declared type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.infra.bicep import BicepFile

SPECS = Path(__file__).resolve().parents[1] / "specs" / "azure-resource-types"

REQUIRED = 1
READ_ONLY = 2
# Keys of a resource body that are Bicep syntax, not properties of the resource type.
BICEP_KEYWORDS = {"parent", "scope", "dependsOn"}
# Functions with a known result type (pycep names).
FUNCTION_TYPES = {
    "split": "array",
    "array": "array",
    "union": "object",
    "empty": "bool",
    "contains": "bool",
    "string": "string",
    "guid": "string",
    "unique_string": "string",
    "to_lower": "string",
    "to_upper": "string",
    "format": "string",
    "concat": "any",
    "subscription_resource_id": "string",
    "resource_id": "string",
    "take": "any",
    "int": "int",
    "bool": "bool",
}


@dataclass
class TypeIndex:
    """Every ResourceType entry of every types.json below `root`, by 'type@apiVersion' (lower case)."""

    root: Path = SPECS
    files: dict[Path, list[dict[str, Any]]] = field(default_factory=dict)
    resources: dict[str, tuple[Path, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in sorted(self.root.rglob("types.json")):
            entries = json.loads(path.read_text(encoding="utf-8"))
            self.files[path] = entries
            for entry in entries:
                if entry["$type"] == "ResourceType":
                    self.resources.setdefault(entry["name"].lower(), (path, entry))

    def deref(self, path: Path, ref: dict[str, Any]) -> dict[str, Any]:
        return self.files[path][int(ref["$ref"].rsplit("/", 1)[1])]


@dataclass(frozen=True)
class Finding:
    resource: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.where}: {self.problem}"


def check_file(bicep: BicepFile, index: TypeIndex) -> tuple[int, list[Finding]]:
    """(resources checked, findings) for one parsed Bicep file."""
    findings: list[Finding] = []
    count = 0
    for symbol, resource in bicep.resources.items():
        if "type" not in resource:  # module, not a resource
            continue
        count += 1
        key = f"{resource['type']}@{resource['api_version']}".lower()
        label = f"{symbol} ({resource['type']}@{resource['api_version']})"
        if key not in index.resources:
            findings.append(Finding(label, "type", "no such resource type at this API version in the specs"))
            continue
        path, entry = index.resources[key]
        body = index.deref(path, entry["body"])
        config = resource_body(resource)
        if resource.get("existing"):
            continue
        checker = _Checker(bicep, index, path, label)
        checker.object(body, {k: v for k, v in config.items() if k not in BICEP_KEYWORDS}, "", top=True)
        findings.extend(checker.findings)
    return count, findings


def resource_body(resource: dict[str, Any]) -> dict[str, Any]:
    """The object a resource declares, also under `if (...)` or `[for ...]` (pycep nests it one level)."""
    config = resource.get("config") or {}
    if ("loop_type" in config or "condition" in config) and isinstance(config.get("config"), dict):
        return dict(config["config"])
    return dict(config)


class _Checker:
    def __init__(self, bicep: BicepFile, index: TypeIndex, path: Path, label: str) -> None:
        self.bicep = bicep
        self.index = index
        self.path = path
        self.label = label
        self.findings: list[Finding] = []

    def fail(self, where: str, problem: str) -> None:
        self.findings.append(Finding(self.label, where or "(body)", problem))

    def resolve(self, ref: dict[str, Any]) -> dict[str, Any]:
        return self.index.deref(self.path, ref)

    def value(self, expected: dict[str, Any], value: Any, where: str) -> None:
        kind = expected["$type"]
        actual = self.kind_of(value)
        if actual == "any" or kind == "AnyType":
            return
        if _is_expression(value, "operator") and value["operator"].get("type") == "conditional":
            operands = value["operator"]["operands"]
            self.value(expected, operands["true_value"], where)
            self.value(expected, operands["false_value"], where)
            return
        if kind == "UnionType":
            options = [self.resolve(element) for element in expected["elements"]]
            if not any(self.accepts(option, value) for option in options):
                allowed = [o.get("value", o["$type"]) for o in options]
                self.fail(where, f"{self.show(value)} is none of {allowed}")
                return
            for option in options:  # descend into the object/array member that fits
                if (
                    option["$type"] in ("ObjectType", "ArrayType", "DiscriminatedObjectType")
                    and self.accepts(option, value)
                    and (isinstance(value, list) or _is_object_literal(value))
                ):
                    self.value(option, value, where)
                    return
            return
        if not self.accepts(expected, value):
            self.fail(where, f"{self.show(value)} is not {self.describe(expected)}")
            return
        if kind == "ArrayType" and isinstance(value, list):
            item = self.resolve(expected["itemType"])
            for position, element in enumerate(value):
                self.value(item, element, f"{where}[{position}]")
        elif kind in ("ObjectType", "DiscriminatedObjectType") and _is_object_literal(value):
            self.object(expected, value, where)

    def object(self, expected: dict[str, Any], value: dict[str, Any], where: str, top: bool = False) -> None:
        properties = dict(expected.get("properties") or {})
        if expected["$type"] == "DiscriminatedObjectType":
            properties = dict(expected.get("baseProperties") or {})
            discriminator = expected["discriminator"]
            chosen = self.bicep.literal(value.get(discriminator))
            element = expected["elements"].get(chosen) if isinstance(chosen, str) else None
            if element is None:
                known = sorted(expected["elements"])
                self.fail(f"{where}.{discriminator}".lstrip("."), f"{chosen!r} is none of {known}")
                return
            properties.update(self.resolve(element).get("properties") or {})
        additional = expected.get("additionalProperties")
        for raw_key, item in value.items():
            key = raw_key[1:-1] if raw_key.startswith("'") and raw_key.endswith("'") else raw_key
            here = f"{where}.{key}".lstrip(".")
            if key in properties:
                declared = properties[key]
                if declared["flags"] & READ_ONLY and not declared["flags"] & REQUIRED:
                    self.fail(here, "is read-only")
                    continue
                self.value(self.resolve(declared["type"]), item, here)
            elif additional is not None:
                self.value(self.resolve(additional), item, here)
            else:
                near = [name for name in properties if name.lower() == key.lower()]
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                self.fail(here, f"no such property{hint}")
        for name, declared in properties.items():
            if declared["flags"] & REQUIRED and name not in value and not (top and name == "name"):
                self.fail(f"{where}.{name}".lstrip("."), "required property missing")

    def kind_of(self, value: Any) -> str:
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            return "int"
        if isinstance(value, list):
            return "array"
        if value is None:
            return "null"
        if isinstance(value, str):
            if value in self.bicep.parameters:
                declared = self.bicep.parameters[value].get("type", "any")
                return {"string": "string", "int": "int", "bool": "bool", "array": "array", "object": "object"}.get(
                    declared, "any"
                )
            if value in self.bicep.variables:
                return self.kind_of(self.bicep.variables[value].get("value"))
            if value in self.bicep.resources:
                return "object"
            return "string"
        if isinstance(value, dict):
            if _is_expression(value, "function"):
                return FUNCTION_TYPES.get(value["function"].get("type", ""), "any")
            if _is_expression(value, "operator"):
                return "conditional" if value["operator"].get("type") == "conditional" else "any"
            return "object"
        return "any"

    def accepts(self, expected: dict[str, Any], value: Any) -> bool:
        kind = expected["$type"]
        actual = self.kind_of(value)
        if actual in ("any", "conditional") or kind == "AnyType":
            return True
        if kind == "StringLiteralType":
            if actual != "string":
                return False
            literal = self.bicep.literal(value)
            return (
                not isinstance(literal, str)
                or self.bicep.is_reference(literal)
                or literal == expected["value"]
                or ("${" in literal)
            )
        if kind == "UnionType":
            return any(self.accepts(self.resolve(element), value) for element in expected["elements"])
        return {
            "StringType": "string",
            "IntegerType": "int",
            "BooleanType": "bool",
            "ArrayType": "array",
            "ObjectType": "object",
            "DiscriminatedObjectType": "object",
        }.get(kind) == actual

    def describe(self, expected: dict[str, Any]) -> str:
        return str(expected.get("value") or expected.get("name") or expected["$type"])

    @staticmethod
    def show(value: Any) -> str:
        text = json.dumps(value) if not isinstance(value, str) else repr(value)
        return text if len(text) <= 60 else text[:57] + "..."


def _is_expression(value: Any, kind: str) -> bool:
    """pycep's {"function": {...}} / {"operator": {...}}, not an object literal with such a property."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(kind), dict) and "type" in value[kind]


def _is_object_literal(value: Any) -> bool:
    return isinstance(value, dict) and not (_is_expression(value, "function") or _is_expression(value, "operator"))


def check_all(bicep_files: list[BicepFile], index: TypeIndex) -> Iterator[tuple[BicepFile, int, list[Finding]]]:
    for bicep in bicep_files:
        count, findings = check_file(bicep, index)
        yield bicep, count, findings
