"""Build the demo page (web/ -> web/dist) with esbuild from node_modules when it is missing."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from devhost.demo import DIST, PROJECT_ROOT

log = logging.getLogger("devhost")


def ensure_web_built(root: Path = PROJECT_ROOT, dist: Path = DIST) -> bool:
    """True when web/dist/index.html exists afterwards; builds it once if node tooling is there."""
    if (dist / "index.html").exists():
        return True
    node = shutil.which("node")
    if node is None or not (root / "node_modules" / "esbuild").is_dir():
        log.warning("demo page not built and node/esbuild are missing: run `make install`")
        return False
    log.info("building the demo page (web/dist)")
    result = subprocess.run([node, str(root / "web" / "build.mjs")], cwd=root, capture_output=True, text=True)
    if result.returncode != 0:
        log.warning("demo page build failed:\n%s", result.stderr.strip())
    return (dist / "index.html").exists()
