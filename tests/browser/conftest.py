"""The real app on the devhost for the browser tests, and a headless Debian Chromium via Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from devhost.webbuild import ensure_web_built
from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.devhost.real_app import RealAppHost, start_real_app


@pytest.fixture(scope="module")
def demo_host(
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
    local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
) -> Iterator[RealAppHost]:
    assert ensure_web_built(), "web/dist could not be built (node_modules missing? run `make install`)"
    running = start_real_app(tmp_path_factory.mktemp("demo"), artifacts_dir, local_azure, azurite, "demo")
    yield running
    running.host.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Debian chromium is not installed: apt-get install -y chromium (make test does it as root)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
