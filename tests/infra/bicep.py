"""infra/*.bicep parsed with pycep-parser, with the few helpers the infra tests share.

pycep gives identifiers and string literals both as Python str: a str that names a parameter,
variable or resource of the same file is a reference, anything else a literal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


@dataclass(frozen=True)
class BicepFile:
    path: Path
    tree: dict[str, Any]

    @property
    def parameters(self) -> dict[str, Any]:
        return self.tree.get("parameters") or {}

    @property
    def variables(self) -> dict[str, Any]:
        return self.tree.get("variables") or {}

    @property
    def resources(self) -> dict[str, Any]:
        return self.tree.get("resources") or {}

    def is_reference(self, value: Any) -> bool:
        return isinstance(value, str) and (
            value in self.parameters or value in self.variables or value in self.resources
        )

    def literal(self, value: Any) -> Any:
        """A variable's value followed to its literal (one level of `var x = 'literal'`), else the value."""
        if isinstance(value, str) and value in self.variables:
            return self.variables[value].get("value")
        return value


def parse(path: Path) -> BicepFile:
    return BicepFile(path, BicepParser().parse(text=path.read_text(encoding="utf-8")))


def bicep_files(infra: Path = INFRA) -> list[Path]:
    return sorted(infra.rglob("*.bicep"))


def app_settings(bicep: BicepFile) -> dict[str, Any]:
    """name -> value expression of every siteConfig.appSettings entry of every Microsoft.Web/sites resource."""
    settings: dict[str, Any] = {}
    for resource in bicep.resources.values():
        if resource.get("type", "").lower() != "microsoft.web/sites":
            continue
        site_config = ((resource.get("config") or {}).get("properties") or {}).get("siteConfig") or {}
        for entry in site_config.get("appSettings") or []:
            settings[str(entry["name"])] = entry.get("value")
    return settings
