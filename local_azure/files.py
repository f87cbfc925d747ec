"""Small file helpers: atomic writes (readers never see half a file) and owner-only secrets."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write to a temp file in the same directory, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes) -> None:
    """Secrets (keys, access key) are readable by their owner only."""
    write_atomic(path, data, mode=0o600)


def write_json_atomic(path: Path, value: Any, mode: int = 0o644) -> None:
    write_atomic(path, (json.dumps(value, indent=2) + "\n").encode("utf-8"), mode=mode)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))
