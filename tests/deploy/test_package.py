"""The deploy package holds the app and nothing else (no .venv, keys, settings, tests, local tools)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from tests.deploy.package import build_zip, package_files

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_TOP_LEVEL = {"function_app.py", "host.json", "requirements.txt", "token_service"}
NEVER = (
    ".venv/",
    ".venv-checkov/",
    "node_modules/",
    ".local/",
    ".azure/",
    ".git/",
    "tests/",
    "benchmarks/",
    "local_azure/",
    "devhost/",
    "devtools/",
    "web/",
    "infra/",
    "test-artifacts/",
    "__pycache__/",
)
MAX_BYTES = 1024 * 1024


def test_deploy_package_holds_the_app_and_nothing_else() -> None:
    data = build_zip(ROOT)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    print(f"deploy package: {len(names)} files, {len(data):,} bytes zipped")
    for required in (
        "function_app.py",
        "host.json",
        "requirements.txt",
        "token_service/__init__.py",
        "token_service/blueprints/cleanup_timer.py",
    ):
        assert required in names
    assert {name.split("/", 1)[0] for name in names} == EXPECTED_TOP_LEVEL, (
        "a new top-level path reaches the deploy package: add it to .funcignore or to EXPECTED_TOP_LEVEL"
    )
    for name in names:
        assert not any(f"/{name}".find(f"/{prefix}") >= 0 for prefix in NEVER), name
        assert not name.endswith((".pem", ".key", ".pfx", ".pyc")), name
        assert "local.settings" not in name, name
    assert len(data) < MAX_BYTES


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A small project tree with the traps a real checkout has, and the real .funcignore."""
    (tmp_path / ".funcignore").write_text((ROOT / ".funcignore").read_text(encoding="utf-8"), encoding="utf-8")
    for path in (
        "function_app.py",
        "host.json",
        "requirements.txt",
        "token_service/__init__.py",
        ".venv/lib/site.py",
        "node_modules/x/index.js",
        ".local/azure/keys/ca.pem",
        ".local/issuer/key.pem",
        "local.settings.json",
        "local.settings.sample.json",
        "tests/test_x.py",
        "benchmarks/b.py",
        "local_azure/acs/app.py",
        "devhost/run.py",
        "devtools/launcher.py",
        "web/index.html",
        "infra/main.bicep",
        "token_service/__pycache__/x.cpython-311.pyc",
        ".git/config",
        ".azure/dev/.env",
        "server.key",
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x", encoding="utf-8")
    return tmp_path


def test_funcignore_leaves_out_what_must_not_ship(project_copy: Path) -> None:
    expected = ["function_app.py", "host.json", "requirements.txt", "token_service/__init__.py"]
    assert package_files(project_copy) == expected


def test_without_funcignore_everything_ships(project_copy: Path) -> None:
    """The check can fail: without .funcignore the keys and the virtualenv would be uploaded."""
    (project_copy / ".funcignore").unlink()
    files = package_files(project_copy)
    assert ".local/azure/keys/ca.pem" in files and ".venv/lib/site.py" in files


def test_deploy_docs_state_the_package_size_within_a_fifth() -> None:
    """docs/deploy.md says "about N KB zipped": hold it to the package this checkout builds."""
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    stated = re.search(r"about (\d+) KB\s+zipped", text)
    assert stated is not None, "docs/deploy.md no longer states the package size"
    measured_kb = len(build_zip(ROOT)) / 1000
    assert abs(measured_kb - int(stated.group(1))) <= measured_kb / 5, f"the package is {measured_kb:.0f} KB"
