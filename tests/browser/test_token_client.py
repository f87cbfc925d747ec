"""The token client (clients/js) in headless Chromium, with the real @azure/communication-common
credential, against the real app, local_azure's fault knobs and a real issuer outage.

Each scenario lets the SDK's own proactive timer fire (Playwright's clock jumps 50.5 minutes; see
test_demo_page.py for why the clock moves and the 60-minute token stays), breaks something real, and
checks that getToken() keeps returning a valid token and that the page shows the recovery. The time from
the scheduled refresh (or the fault's end) to the new token is written to
test-artifacts/token-client-scenarios.json.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from local_azure.azurite import AzuriteProcess, free_port
from local_azure.process import LocalAzureProcess
from tests.browser.rotating_issuer import RotatingIssuer, serve
from tests.browser.token_page import assert_valid, get_token, record, signed_in, wait_for
from tests.devhost.real_app import RealAppHost, start_real_app

RATE_PER_MINUTE = 2


@pytest.fixture(scope="module")
def rotating_issuer() -> Iterator[RotatingIssuer]:
    issuer = RotatingIssuer(free_port())
    server = serve(issuer)
    yield issuer
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def faults_host(
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
    local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
    rotating_issuer: RotatingIssuer,
    demo_host: RealAppHost,  # builds web/dist first
) -> Iterator[RealAppHost]:
    """The app with a low per-user rate (our own 429) and the rotating issuer trusted beside the dev one."""
    extra = {
        "TOKEN_RATE_PER_MINUTE": str(RATE_PER_MINUTE),
        "AUTH_ISSUER": f"{local_azure.settings.auth_issuer},{rotating_issuer.issuer}",
    }
    running = start_real_app(
        tmp_path_factory.mktemp("faults"), artifacts_dir, local_azure, azurite, "token-client", extra_env=extra
    )
    yield running
    running.host.stop()


def refresh_under_fault(
    page: Page,
    local_azure: LocalAzureProcess,
    *,
    code: str,
    end_fault: Callable[[], None],
    timeout_s: float = 60,
) -> dict[str, Any]:
    """Fires the SDK's scheduled refresh with a fault in place; once the client reports a retry with
    `code`, checks getToken() still hands out the valid old token, ends the fault, waits for the new one."""
    first = get_token(page)
    page.clock.fast_forward("50:30")
    fired = time.monotonic()
    retrying = wait_for(page, f"#token-events li[data-event=retrying][data-code={code}]", timeout_s)
    assert page.get_attribute("#token-status", "data-state") == "reconnecting"
    during = get_token(page)
    assert during["token"] == first["token"]
    assert_valid(page, local_azure, during)
    end_fault()
    ended = time.monotonic()
    refreshed = wait_for(page, "#refreshes li[data-kind=refresh]", timeout_s)
    after = get_token(page)
    assert after["token"] != first["token"]
    assert_valid(page, local_azure, after)
    assert page.get_attribute("#token-status", "data-state") == "connected"
    assert page.locator("#error").is_hidden()
    return {
        "getToken_stayed_valid": True,
        "scheduled_refresh_to_new_token_ms": round((refreshed - fired) * 1000),
        "first_retry_event_after_ms": round((retrying - fired) * 1000),
        "fault_end_to_new_token_ms": round((refreshed - ended) * 1000),
        "retry_events": page.locator("#token-events li[data-event=retrying]").count(),
    }


def test_acs_throttling_upstream_throttled(
    browser: Browser, demo_host: RealAppHost, local_azure: LocalAzureProcess, artifacts_dir: Path
) -> None:
    """ACS answers 429 with Retry-After 4 (beyond what the app sleeps through): the app passes 429
    `upstream_throttled` + Retry-After on, and the client waits it out."""
    with signed_in(browser, demo_host.base_url, f"tc-acs429-{time.time_ns()}") as page:
        local_azure.set_faults(rate_limits={"issue": {"limit": 0, "window_seconds": 4}})
        try:
            figures = refresh_under_fault(
                page, local_azure, code="upstream_throttled", end_fault=local_azure.reset_faults
            )
        finally:
            local_azure.reset_faults()
        record(artifacts_dir, "acs_429_upstream_throttled", figures)


def test_connection_dropped_during_scheduled_refresh(
    browser: Browser, demo_host: RealAppHost, local_azure: LocalAzureProcess, artifacts_dir: Path
) -> None:
    """ACS drops every connection: the app answers 503 `upstream_unavailable` with Retry-After."""
    with signed_in(browser, demo_host.base_url, f"tc-drop-{time.time_ns()}") as page:
        local_azure.set_faults(fail_after={"calls": 0, "status": "drop"})
        try:
            figures = refresh_under_fault(
                page, local_azure, code="upstream_unavailable", end_fault=local_azure.reset_faults
            )
        finally:
            local_azure.reset_faults()
        record(artifacts_dir, "acs_connection_dropped", figures)


def test_entra_token_expired_401_then_fresh_token(
    browser: Browser, demo_host: RealAppHost, local_azure: LocalAzureProcess, artifacts_dir: Path
) -> None:
    """The page's cached Entra token expires (minted 55 s past due, so the app's 60 s leeway leaves it
    5 s); the scheduled refresh gets 401, asks getAccessToken with forceRefresh, and succeeds at once."""
    with signed_in(browser, demo_host.base_url, f"tc-401-{time.time_ns()}", "entraLifetime=-55") as page:
        time.sleep(6)  # the Entra token is now expired beyond the leeway
        first = get_token(page)
        page.clock.fast_forward("50:30")
        fired = time.monotonic()
        wait_for(page, "#token-events li[data-event=retrying][data-code=unauthenticated]", 30)
        refreshed = wait_for(page, "#refreshes li[data-kind=refresh]", 30)
        after = get_token(page)
        assert after["token"] != first["token"]
        assert_valid(page, local_azure, after)
        assert page.get_attribute("#token-status", "data-state") == "connected"
        record(artifacts_dir, "entra_expired_401", {
            "getToken_stayed_valid": True,
            "scheduled_refresh_to_new_token_ms": round((refreshed - fired) * 1000),
            "retry_events": page.locator("#token-events li[data-event=retrying]").count(),
        })  # fmt: skip


def test_clock_jump_after_sleep_refreshes_on_visibilitychange(
    browser: Browser, demo_host: RealAppHost, local_azure: LocalAzureProcess, artifacts_dir: Path
) -> None:
    """A suspended tab: the wall clock jumps 55 minutes and no timer fires (Playwright's setSystemTime);
    on visibilitychange the client sees the token inside the refresh window and refreshes ahead."""
    with signed_in(browser, demo_host.base_url, f"tc-sleep-{time.time_ns()}") as page:
        first = get_token(page)
        page.clock.set_system_time(datetime.fromtimestamp(first["now"] / 1000 + 55 * 60, tz=UTC))
        time.sleep(1)
        assert page.locator("#refreshes li[data-kind=refresh]").count() == 0, "no timer fired during the jump"
        woke = time.monotonic()
        page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
        refreshed = wait_for(page, "#refreshes li[data-kind=refresh][data-reason=wake]", 30)
        after = get_token(page)
        assert after["token"] != first["token"]
        assert_valid(page, local_azure, after)
        record(artifacts_dir, "clock_jump_wake", {
            "getToken_stayed_valid": True, "wake_to_new_token_ms": round((refreshed - woke) * 1000),
        })  # fmt: skip


def test_our_rate_limit_429_rate_limited(
    browser: Browser, faults_host: RealAppHost, local_azure: LocalAzureProcess, artifacts_dir: Path
) -> None:
    """TOKEN_RATE_PER_MINUTE=2: one call from outside, the page's first token, then the scheduled refresh
    is our own 429 `rate_limited` with a Retry-After up to the end of the minute; the client waits it out."""
    user = f"tc-rate-{time.time_ns()}"
    bearer = local_azure.mint_user_token(user)  # the page's dev sign-in mints sub=user too: the same caller
    request = urllib.request.Request(
        faults_host.base_url + "/api/token", method="POST", headers={"Authorization": f"Bearer {bearer}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201)
    with signed_in(browser, faults_host.base_url, user) as page:
        figures = refresh_under_fault(page, local_azure, code="rate_limited", end_fault=lambda: None, timeout_s=90)
        wait_ms = json.loads(page.get_attribute("#token-events li[data-event=retrying]", "data-wait-ms") or "0")
        figures["retry_after_wait_ms"] = wait_ms
        record(artifacts_dir, "our_429_rate_limited", figures)


def test_issuer_keys_unavailable_503(
    browser: Browser,
    faults_host: RealAppHost,
    local_azure: LocalAzureProcess,
    rotating_issuer: RotatingIssuer,
    artifacts_dir: Path,
) -> None:
    """The issuer rotates its signing key while its JWKS is down. The page's Entra token has expired (401),
    the fresh one carries the new kid, which the app cannot check: 503 `auth_keys_unavailable` +
    Retry-After, until the JWKS is back."""
    rotating_issuer.signing_kid, rotating_issuer.published_kids = "k1", ["k1"]
    rotating_issuer.keys_down, rotating_issuer.lifetime_seconds = False, -50  # valid 10 s with the leeway
    query = f"mintUrl={rotating_issuer.mint_url}"
    with signed_in(browser, faults_host.base_url, f"tc-keys-{time.time_ns()}", query) as page:
        rotating_issuer.signing_kid, rotating_issuer.lifetime_seconds = "k2", 3600
        rotating_issuer.keys_down = True
        time.sleep(11)  # the first Entra token (kid k1) is expired beyond the leeway
        # After a successful key fetch the app looks for an unknown kid at most once a minute (a 401 until
        # then, keys.py); wait that minute out so the new kid makes it try, and fail, to fetch the keys.
        time.sleep(max(0.0, rotating_issuer.keys_served_at + 61 - time.monotonic()))

        def keys_back() -> None:
            rotating_issuer.published_kids = ["k1", "k2"]
            rotating_issuer.keys_down = False

        figures = refresh_under_fault(page, local_azure, code="auth_keys_unavailable", end_fault=keys_back)
        assert 503 in rotating_issuer.jwks_requests and rotating_issuer.jwks_requests[-1] == 200
        codes = page.eval_on_selector_all(
            "#token-events li[data-event=retrying]", "els => els.map(e => e.dataset.code)"
        )
        assert codes[0] == "unauthenticated" and "auth_keys_unavailable" in codes, codes
        record(artifacts_dir, "issuer_keys_unavailable_503", figures)
