"""The deploy package as Azure Functions Core Tools builds it for `func azure functionapp publish`.

Core Tools walks the project root, always leaves out `.git`/`.vscode` and the files `.funcignore`,
`.gitignore`, `local.settings.json` and `project.lock.json`, and drops every file whose path relative to
the root matches `.funcignore` (gitignore syntax); `azd deploy` reads the same file. Here the matching
is pathspec's gitwildmatch.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pathspec

ALWAYS_IGNORED_DIRECTORIES = {".git", ".vscode"}
ALWAYS_IGNORED_FILES = {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}


def package_files(root: Path) -> list[str]:
    """Relative paths (with /) of the files the package holds."""
    ignore_file = root / ".funcignore"
    lines = ignore_file.read_text(encoding="utf-8").splitlines() if ignore_file.exists() else []
    spec = pathspec.PathSpec.from_lines("gitwildmatch", lines)
    files: list[str] = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in ALWAYS_IGNORED_DIRECTORIES)
        for name in sorted(names):
            if name in ALWAYS_IGNORED_FILES:
                continue
            relative = (Path(directory) / name).relative_to(root).as_posix()
            if not spec.match_file(relative):
                files.append(relative)
    return files


def build_zip(root: Path) -> bytes:
    """The zip Core Tools would upload (deflated), in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative in package_files(root):
            archive.write(root / relative, relative)
    return buffer.getvalue()
