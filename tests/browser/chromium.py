"""Debian's headless Chromium, as the browser tests launch it through Playwright.

Playwright never downloads a browser here: it is pointed at the Debian package, without sandbox or GPU,
and with Chromium's own background traffic (updates, first-run fetches) turned off.
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
