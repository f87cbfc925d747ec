"""devhost.webbuild.is_current: a bundle older than any source (web/, clients/js/src) is rebuilt."""

from __future__ import annotations

import os
from pathlib import Path

from devhost.webbuild import is_current


def _tree(root: Path) -> Path:
    for name in ("web/src/main.ts", "web/index.html", "clients/js/src/session.ts"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
        os.utime(root / name, (1000, 1000))
    dist = root / "web" / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("built")
    os.utime(dist / "index.html", (2000, 2000))
    return dist


def test_missing_bundle_is_not_current(tmp_path: Path) -> None:
    dist = _tree(tmp_path)
    (dist / "index.html").unlink()
    assert not is_current(tmp_path, dist)


def test_a_bundle_newer_than_its_sources_is_current(tmp_path: Path) -> None:
    assert is_current(tmp_path, _tree(tmp_path))


def test_a_newer_page_or_client_source_makes_it_stale(tmp_path: Path) -> None:
    dist = _tree(tmp_path)
    os.utime(tmp_path / "clients/js/src/session.ts", (3000, 3000))
    assert not is_current(tmp_path, dist)
    os.utime(tmp_path / "clients/js/src/session.ts", (1000, 1000))
    os.utime(tmp_path / "web/src/main.ts", (3000, 3000))
    assert not is_current(tmp_path, dist)


def test_the_bundle_itself_does_not_count_as_a_source(tmp_path: Path) -> None:
    dist = _tree(tmp_path)
    (dist / "app.js").write_text("built later")
    os.utime(dist / "app.js", (5000, 5000))
    assert is_current(tmp_path, dist)
