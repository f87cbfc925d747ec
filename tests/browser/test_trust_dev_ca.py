"""`make trust-dev-ca` adds local_azure's CA to the user's NSS databases, and Chromium then trusts the
local issuer by that real trust path (no certificate flag); `--remove` takes it out again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from local_azure.process import PROJECT_ROOT, LocalAzureProcess
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

NICKNAME = "local_azure development CA"


def trust_dev_ca(home: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "PATH": path if path is not None else os.environ["PATH"]}
    return subprocess.run(
        [sys.executable, "-m", "devtools.trust_dev_ca", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def listed(database: Path) -> bool:
    found = subprocess.run(
        ["certutil", "-L", "-d", f"sql:{database}", "-n", NICKNAME], capture_output=True, check=False
    )
    return found.returncode == 0


def discovery_loads(home: Path, url: str) -> bool:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, env={**os.environ, "HOME": str(home)}
        )
        try:
            page = browser.new_page()
            try:
                return page.goto(url) is not None and "issuer" in page.content()
            except PlaywrightError as error:
                assert "ERR_CERT" in str(error), error
                return False
        finally:
            browser.close()


@pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed")
def test_trust_and_untrust_the_dev_ca(tmp_path: Path, local_azure: LocalAzureProcess) -> None:
    home = tmp_path / "home"
    firefox = home / ".mozilla" / "firefox" / "abcd.default-release"
    firefox.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{firefox}", "--empty-password"], check=True)
    url = local_azure.settings.issuer + "/.well-known/openid-configuration"
    assert not discovery_loads(home, url)  # before: Chromium refuses the dev CA's certificate

    added = trust_dev_ca(home, "--ca", local_azure.settings.ca_cert_file)
    assert added.returncode == 0, added.stderr
    chromium_db = home / ".pki" / "nssdb"
    assert listed(chromium_db) and listed(firefox)
    assert discovery_loads(home, url)  # the real trust path: no certificate flag

    removed = trust_dev_ca(home, "--remove")
    assert removed.returncode == 0, removed.stderr
    assert not listed(chromium_db) and not listed(firefox)


def test_without_certutil_it_says_how_to_install_it(tmp_path: Path) -> None:
    result = trust_dev_ca(tmp_path, path=str(tmp_path))
    assert result.returncode == 1 and "libnss3-tools" in result.stderr
    assert not (tmp_path / ".pki").exists()
