"""The demo page in headless Chromium: sign in, get a token, and see the SDK refresh it proactively.

Why the browser clock is moved instead of the token being shortened: ACS tokens live 60-1440
minutes, and @azure/communication-common's AutoRefreshTokenCredential (dist/browser/
autoRefreshTokenCredential.js) reads the JWT's `exp` and, with refreshProactively, schedules a
setTimeout for `exp - 10 min` (`defaultExpiringSoonInterval`), or half the remaining lifetime once
inside that window. So the real service, with a real 60-minute token, is refreshed by the SDK's own
timer once 50 minutes have passed on the page's clock; Playwright's clock (fake Date/setTimeout in
the page only) jumps those 50 minutes, while every request still goes over real HTTP.
"""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, Response

from tests.devhost.real_app import RealAppHost

ACS_ID = re.compile(r"^8:acs:[0-9a-f-]{36}_[0-9a-f-]{36}$")


def jwt_exp(token: str) -> int:
    payload = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


def token_responses(page: Page, into: list[dict[str, object]]) -> None:
    def record(response: Response) -> None:
        if response.url.endswith("/api/token") and response.request.method == "POST":
            into.append({"status": response.status, "body": response.json()})

    page.on("response", record)


def test_sign_in_token_and_proactive_refresh(browser: Browser, demo_host: RealAppHost, artifacts_dir: Path) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    page = context.new_page()
    responses: list[dict[str, object]] = []
    token_responses(page, responses)
    page.clock.install()
    try:
        page.goto(demo_host.base_url + "/demo/")
        page.wait_for_selector("body[data-ready=true]")
        assert "Dev issuer:" in page.inner_text("#config-status")
        page.fill("#user-id", "browser-user")
        page.click("#sign-in-button")
        page.wait_for_selector("#refreshes li[data-kind=initial]", timeout=20_000)
        acs_id = page.inner_text("#acs-user-id")
        assert ACS_ID.match(acs_id), acs_id
        assert responses[0]["status"] == 201
        assert int(page.get_attribute("#countdown", "data-seconds") or 0) > 59 * 60 - 30

        page.clock.fast_forward("49:00")  # still outside the SDK's 10-minute window: no refresh
        time.sleep(1)
        assert page.locator("#refreshes li[data-kind=refresh]").count() == 0
        assert len(responses) == 1

        page.clock.fast_forward("01:30")  # now inside it: the SDK's timer calls our tokenRefresher
        page.wait_for_selector("#refreshes li[data-kind=refresh]", timeout=20_000)
        assert page.inner_text("#acs-user-id") == acs_id  # same identity, a new token
        assert len(responses) == 2 and responses[1]["status"] == 200
        first, second = (str(r["body"]["token"]) for r in responses)  # type: ignore[index]
        assert first != second and jwt_exp(second) >= jwt_exp(first)
        assert demo_host.local_azure.check_token(second)["valid"] is True
        assert page.locator("#error").is_hidden()
        page.screenshot(path=str(artifacts_dir / "demo-page.png"), full_page=True)
    finally:
        context.close()


def test_operator_tab_lists_pages_and_previews(browser: Browser, demo_host: RealAppHost) -> None:
    """Admin sign-in through the dev issuer (admin role), the devhost's function key from config.json;
    identities made by users of this test are listed, paged, filtered by owner, and the preview shows."""
    import urllib.request

    from local_azure.entra.issuer import DEFAULT_TENANT_ID

    made = []
    for n in range(3):
        user = f"operator-tab-user-{n}-{time.time_ns()}"
        token = demo_host.local_azure.mint_user_token(user, oid=user)
        request = urllib.request.Request(
            demo_host.base_url + "/api/token", method="POST", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            made.append((user, json.loads(response.read())["communicationUserId"]))
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        page.goto(demo_host.base_url + "/demo/")
        page.wait_for_selector("body[data-ready=true]")
        page.click("#tab-operator")
        assert page.locator("#user-view").is_hidden()
        page.fill("#admin-id", "browser-admin")
        page.click("#admin-sign-in-button")
        page.wait_for_selector("#page-info[data-page='1']", timeout=20_000)
        page.fill("#filter-page-size", "1")
        page.click("#list-button")
        page.wait_for_function("document.querySelectorAll('#identities tbody tr').length === 1", timeout=20_000)
        first = page.get_attribute("#identities tbody tr", "data-id")
        page.click("#next-page")
        page.wait_for_selector("#page-info[data-page='2']", timeout=20_000)
        second = page.get_attribute("#identities tbody tr", "data-id")
        assert first and second and first != second

        user, acs_id = made[1]
        page.fill("#filter-owner", f"oid:{DEFAULT_TENANT_ID}:{user}")
        page.fill("#filter-page-size", "10")
        page.click("#list-button")
        page.wait_for_selector(f"#identities tbody tr[data-id='{acs_id}']", timeout=20_000)
        assert page.locator("#identities tbody tr").count() == 1

        page.click("#preview-button")
        page.wait_for_selector("#preview-summary[data-stale]", timeout=20_000)
        assert "the next run would take" in page.inner_text("#preview-summary")
        assert page.locator("#error").is_hidden(), page.inner_text("#error")
    finally:
        context.close()
