"""mkdocs hook: pages that live elsewhere in the repository keep their own links, and the site follows them.

The README is the front page on a code host and the site's home page, written once; local_azure/,
devhost/ and benchmarks/ keep their READMEs beside their code, pulled into docs/ by symlinks. Each is
written with links relative to where it lives (`docs/api.md`, `../docs/settings.md`), which is what a
code host shows. On such a page a link is rewritten to the site file that is the same file on disk
(followed through symlinks), so nothing is mapped by name; a link with no such file is left as written,
and strict mode fails the build on it. Pages that live in docs/ already link in the site's terms.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

README = Path(__file__).resolve().parents[1] / "README.md"
HOME = "index.md"
_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s#]+)(#[^)\s]*)?\)")
_EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def site_links(markdown: str, origin: Path, site_uri_of: dict[str, str], page_uri: str) -> str:
    """Rewrite each link of `markdown`, relative to the folder `origin`, to its site file seen from `page_uri`.

    `site_uri_of` maps a file's real path to its site `src_uri`. External links, pure fragments and links
    to files outside the site are left as they are.
    """
    page_dir = posixpath.dirname(page_uri)

    def rewrite(match: re.Match[str]) -> str:
        opening, target, fragment = match.group(1), match.group(2), match.group(3) or ""
        site_uri = None if _EXTERNAL.match(target) else site_uri_of.get(os.path.realpath(origin / target))
        if site_uri is None:
            return match.group(0)
        return f"{opening}{posixpath.relpath(site_uri, page_dir or '.')}{fragment})"

    return _LINK.sub(rewrite, markdown)


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    if files.get_file_from_path(HOME) is not None:
        raise ValueError(f"docs/{HOME} exists: the site's home page is the repository's {README.name}")
    files.append(File.generated(config, HOME, content=README.read_text(encoding="utf-8")))
    return files


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    source = page.file.abs_src_path
    if page.file.src_uri == HOME:
        origin = README.parent
    elif source is not None and not _inside(Path(os.path.realpath(source)), Path(config.docs_dir)):
        origin = Path(os.path.realpath(source)).parent
    else:
        return markdown
    site_uri_of = {os.path.realpath(f.abs_src_path): f.src_uri for f in files if f.abs_src_path}
    return site_links(markdown, origin, site_uri_of, page.file.src_uri)


def on_serve(server: Any, *, config: MkDocsConfig, builder: Any) -> Any:
    """`mkdocs serve` rebuilds when a page that lives elsewhere changes (it watches docs_dir, not symlink targets)."""
    server.watch(str(README))
    for entry in Path(config.docs_dir).iterdir():
        if entry.is_symlink():
            server.watch(os.path.realpath(entry))
    return server


def _inside(path: Path, folder: Path) -> bool:
    return path.is_relative_to(Path(os.path.realpath(folder)))
