"""Build the demo page (web/ -> web/dist) with esbuild from node_modules when it is missing or stale."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from devhost.demo import DIST, PROJECT_ROOT

log = logging.getLogger("devhost")


def _sources(root: Path) -> list[Path]:
    """What the bundle is made of: the page and the token client it imports."""
    return [
        path
        for folder in (root / "web", root / "clients" / "js" / "src")
        for path in folder.rglob("*")
        if path.is_file() and not path.is_relative_to(root / "web" / "dist")
    ]


def is_current(root: Path = PROJECT_ROOT, dist: Path = DIST) -> bool:
    """web/dist/index.html exists and is newer than every source (a pull of web/src rebuilds it)."""
    built = dist / "index.html"
    if not built.exists():
        return False
    stamp = built.stat().st_mtime
    return all(source.stat().st_mtime <= stamp for source in _sources(root))


def ensure_web_built(root: Path = PROJECT_ROOT, dist: Path = DIST) -> bool:
    """True when web/dist/index.html exists afterwards; (re)builds it if node tooling is there.

    A stale bundle is rebuilt, not served: the page and its tests must run the sources checked out.
    """
    if is_current(root, dist):
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
