"""Driving the demo page's token client in Chromium: sign in, read getToken(), record scenario figures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

FIGURES = "token-client-scenarios.json"


@contextmanager
def signed_in(
    browser: Browser, base_url: str, user: str, query: str = "", setup: Callable[[Page], None] | None = None
) -> Iterator[Page]:
    """A page on the demo with Playwright's clock installed (it flows in real time until fast-forwarded),
    signed in as `user`, the first ACS token in hand. `setup` runs before the page loads."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.clock.install()
    if setup:
        setup(page)
    try:
        page.goto(f"{base_url}/demo/?{query}")
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#user-id", user)
        page.click("#sign-in-button")
        page.wait_for_selector("#refreshes li[data-kind=initial]", timeout=30_000)
        yield page
    finally:
        context.close()


def get_token(page: Page) -> dict[str, Any]:
    """What a Chat or Calling client would get now: the credential's getToken(), and the page's clock."""
    result: dict[str, Any] = page.evaluate(
        """async () => {
            const t = await window.tokenCredential.getToken();
            return { token: t.token, expiresOn: t.expiresOnTimestamp, now: Date.now() };
        }"""
    )
    return result


def assert_valid(page: Page, local_azure: Any, token: dict[str, Any]) -> None:
    """Valid by the page's clock (what the SDK checks) and at the issuer (not revoked, not expired)."""
    assert token["expiresOn"] > token["now"], token
    assert local_azure.check_token(token["token"])["valid"] is True


def wait_for(page: Page, selector: str, timeout_s: float) -> float:
    """Waits for the selector; the monotonic time it was seen."""
    page.wait_for_selector(selector, timeout=timeout_s * 1000, state="attached")
    return time.monotonic()


def record(artifacts: Path, name: str, figures: dict[str, Any]) -> None:
    """Appends one scenario's figures to test-artifacts/token-client-scenarios.json (for the issue's note)."""
    path = artifacts / FIGURES
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = figures
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
