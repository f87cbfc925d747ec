"""errors.py's docstring draws the ServiceError tree: it must be the tree the module defines."""

from __future__ import annotations

import importlib
import pkgutil
import re

from token_service import errors

LINE = re.compile(r"^(?P<indent>[│ ├└─]*)(?P<name>\w+) \[(?P<status>\d{3}) (?P<code>\w+)")


def drawn_tree() -> dict[str, tuple[str, int, str]]:
    """class -> (parent, status, code), as the docstring draws it."""
    doc = errors.__doc__ or ""
    drawn: dict[str, tuple[str, int, str]] = {}
    parents: list[str] = []
    for line in doc.splitlines():
        match = LINE.match(line.strip("\n")[4:] if line.startswith("    ") else "")
        if not match:
            continue
        depth = len(match["indent"]) // 4
        parents = parents[:depth]
        drawn[match["name"]] = (parents[-1] if parents else "", int(match["status"]), match["code"])
        parents.append(match["name"])
    return drawn


def test_the_drawn_tree_is_the_class_tree() -> None:
    defined = {
        name: (cls.__bases__[0].__name__ if cls is not errors.ServiceError else "", cls.status, cls.code)
        for name, cls in vars(errors).items()
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError)
    }
    assert drawn_tree() == defined


def test_no_service_error_is_defined_outside_errors_py() -> None:
    import token_service

    elsewhere = []
    for info in pkgutil.walk_packages(token_service.__path__, "token_service."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        elsewhere += [
            f"{info.name}.{name}"
            for name, value in vars(module).items()
            if isinstance(value, type) and issubclass(value, errors.ServiceError) and value.__module__ == info.name
        ]
    assert [name for name in elsewhere if not name.startswith("token_service.errors.")] == []
