"""The registry has one way in: outside token_service/registry/, the app and the benchmarks import
`token_service.registry`, never one of its modules (tests of a module's internals may)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def reaching_past(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    modules = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    modules += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return [module for module in modules if module.startswith("token_service.registry.")]


def test_only_the_registry_imports_its_own_modules() -> None:
    registry = ROOT / "token_service" / "registry"
    sources = [*(ROOT / "token_service").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")]
    found = {
        str(path.relative_to(ROOT)): imports
        for path in sources
        if registry not in path.parents and (imports := reaching_past(path))
    }
    assert found == {}
    assert reaching_past(ROOT / "token_service" / "registry" / "__init__.py"), "the facade itself is seen"
