"""The Azure CLI as the azd hooks call it: JSON in and out, retried while Entra ID replicates.

Standard library only (azd runs the hooks with the desktop's own Python). `az` is resolved with
shutil.which, so Windows' az.cmd is found too; request bodies go through a file (`--body @file`),
never through a command line that cmd.exe would re-parse.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# What Graph and the CLI answer while an object created a moment ago has not reached every replica.
REPLICATION_MARKERS = ("Request_ResourceNotFound", "does not exist", "doesn't exist", "NotFound")


class AzFailed(Exception):
    def __init__(self, args: list[str], code: int, stderr: str) -> None:
        super().__init__(f"az {' '.join(args[:3])} failed ({code}): {stderr.strip()}")
        self.stderr = stderr

    @property
    def not_found(self) -> bool:
        return any(marker in self.stderr for marker in REPLICATION_MARKERS)


def fail(hook: str, message: str) -> None:
    print(f"{hook}: {message}", file=sys.stderr)
    raise SystemExit(1)


class Az:
    def __init__(self, executable: str) -> None:
        self.executable = executable

    @classmethod
    def find(cls) -> Az | None:
        found = shutil.which("az")
        return cls(found) if found else None

    def run(self, *args: str) -> str:
        env = {**os.environ, "PYTHONIOENCODING": "utf-8"}  # az is Python: UTF-8 whatever the console
        result = subprocess.run(
            [self.executable, *args, "--only-show-errors"],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            check=False,
        )
        if result.returncode != 0:
            raise AzFailed(list(args), result.returncode, result.stderr)
        return result.stdout

    def json(self, *args: str) -> Any:
        out = self.run(*args, "--output", "json").strip()
        return json.loads(out) if out else None

    def rest(self, method: str, uri: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            return self.json("rest", "--method", method, "--uri", uri)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "body.json")
            with open(path, "w", encoding="utf-8") as file:
                json.dump(body, file)
            return self.json(
                "rest", "--method", method, "--uri", uri, "--headers", "Content-Type=application/json",
                "--body", f"@{path}",
            )  # fmt: skip


def retry_replication(action: Callable[[], T], attempts: int = 8, first_delay: float | None = None) -> T:
    """`action()`, again after a growing pause while it fails with not-found (bounded: ~2 minutes)."""
    delay = float(os.environ.get("HOOK_RETRY_DELAY_SECONDS", "2")) if first_delay is None else first_delay
    for attempt in range(attempts):
        try:
            return action()
        except AzFailed as error:
            if not error.not_found or attempt == attempts - 1:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 30)
    raise AssertionError("unreachable")
