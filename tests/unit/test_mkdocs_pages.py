"""The docs hook's link rewriting, on real files and symlinks in a temporary tree (mkdocs builds the rest)."""

from __future__ import annotations

import os
from pathlib import Path

from devtools.mkdocs_pages import site_links


def tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repository with docs/ holding one page of its own and a symlink to a component README."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "component").mkdir()
    (tmp_path / "docs" / "api.md").write_text("# API\n", encoding="utf-8")
    (tmp_path / "component" / "README.md").write_text("# Component\n", encoding="utf-8")
    (tmp_path / "docs" / "component.md").symlink_to(Path("..") / "component" / "README.md")
    site_uri_of = {os.path.realpath(tmp_path / "docs" / name): name for name in ("api.md", "component.md")}
    return tmp_path, site_uri_of


def test_links_follow_the_files_they_name(tmp_path: Path) -> None:
    root, site_uri_of = tree(tmp_path)
    markdown = "[API](docs/api.md#routes), [component](component/README.md), ![x](docs/api.md)"
    assert site_links(markdown, root, site_uri_of, "index.md") == (
        "[API](api.md#routes), [component](component.md), ![x](api.md)"
    )


def test_a_page_elsewhere_links_relative_to_where_it_lives(tmp_path: Path) -> None:
    root, site_uri_of = tree(tmp_path)
    markdown = "see [the API](../docs/api.md)"
    assert site_links(markdown, root / "component", site_uri_of, "component.md") == "see [the API](api.md)"
    assert site_links(markdown, root / "component", site_uri_of, "sub/page.md") == "see [the API](../api.md)"


def test_what_is_not_a_site_file_is_left_for_strict_mode_to_report(tmp_path: Path) -> None:
    root, site_uri_of = tree(tmp_path)
    markdown = "[gone](docs/gone.md) [web](https://example.org/a.md) [here](#anchor) [sample](local.json)"
    assert site_links(markdown, root, site_uri_of, "index.md") == markdown
