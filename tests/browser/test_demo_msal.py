"""The demo page signs in with unmodified @azure/msal-browser, in headless Chromium, against the real app.

The app runs on the devhost (direct or worker mode, as the suite is run) beside a private local_azure
whose SPA client registers this demo page's URL; /demo/config.json carries the MSAL keys the app's
settings give the devhost. The page signs in through the issuer's sign-in page (redirect flow), its
token client calls POST /api/token with MSAL's access token, refreshes on the button, and signs out
at the issuer. Chromium trusts the issuer as tests/browser/dev_ca.py says.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import Browser, Page, Request, Response, sync_playwright

from devhost.webbuild import ensure_web_built
from local_azure.azurite import AzuriteProcess, free_port
from local_azure.process import LocalAzureProcess
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.browser.dev_ca import trust_dev_ca
from tests.devhost.real_app import RealAppHost, start_real_app


@dataclass
class DemoMsal:
    page_url: str
    app: RealAppHost
    browser: Browser

    @property
    def local_azure(self) -> LocalAzureProcess:
        return self.app.local_azure


@pytest.fixture(scope="module")
def demo_msal(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path, azurite: AzuriteProcess
) -> Iterator[DemoMsal]:
    assert ensure_web_built(), "web/dist could not be built (node_modules missing? run `make install`)"
    tmp = tmp_path_factory.mktemp("demo-msal")
    port = free_port()
    page_url = f"http://127.0.0.1:{port}/demo/"
    local_azure = LocalAzureProcess.start(
        tmp / "local_azure",
        extra_args=["--spa-redirect-uri", page_url],
        log_file=artifacts_dir / "local_azure-demo-msal.log",
    )
    try:
        (tmp / "app").mkdir()
        app = start_real_app(tmp / "app", artifacts_dir, local_azure, azurite, "demo-msal", port=port)
    except BaseException:
        local_azure.stop()
        raise
    try:
        args, env = trust_dev_ca(tmp / "home", Path(local_azure.settings.ca_cert_file))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *args], env=env)
            yield DemoMsal(page_url, app, browser)
            browser.close()
    finally:
        app.host.stop()
        local_azure.stop()


def _claims(token: str) -> dict[str, Any]:
    result: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return result


@dataclass
class TokenCall:
    status: int
    body: dict[str, Any]
    bearer: str


def _token_calls(page: Page) -> list[TokenCall]:
    calls: list[TokenCall] = []

    def record(response: Response) -> None:
        request = response.request
        if urllib.parse.urlsplit(response.url).path == "/api/token" and request.method == "POST":
            bearer = (request.headers.get("authorization") or "").removeprefix("Bearer ")
            calls.append(TokenCall(response.status, response.json(), bearer))

    page.on("response", record)
    return calls


def _ready(page: Page) -> None:
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert page.locator("#error").is_hidden(), page.inner_text("#error")


def _sign_in_at_the_issuer(page: Page, authority: str, user: str) -> None:
    page.wait_for_selector("#username", timeout=30_000)
    assert page.url.startswith(f"{authority}/oauth2/v2.0/authorize?")
    page.click(f"#preset-{user}")


def test_config_json_names_the_local_issuer_as_msal_sees_it(demo_msal: DemoMsal) -> None:
    settings = demo_msal.local_azure.settings
    with urllib.request.urlopen(demo_msal.page_url + "config.json", timeout=10) as response:
        config = json.loads(response.read())
    assert config["msal"] == {
        "authority": settings.authority,
        "knownAuthorities": [urllib.parse.urlsplit(settings.issuer_origin).netloc],
        "clientId": settings.spa_client_id,
        "scope": settings.api_scope,
    }


def test_msal_sign_in_gets_an_acs_token_refreshes_and_signs_out(demo_msal: DemoMsal, artifacts_dir: Path) -> None:
    settings = demo_msal.local_azure.settings
    context = demo_msal.browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    calls = _token_calls(page)
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request))
    try:
        page.goto(demo_msal.page_url)
        _ready(page)
        assert page.locator("#msal-sign-in-button").is_visible() and page.locator("#user-id").is_visible()

        page.click("#msal-sign-in-button")
        _sign_in_at_the_issuer(page, settings.authority, "alice")
        page.wait_for_selector("#refreshes li[data-kind=initial]", timeout=30_000)
        _ready(page)
        assert page.get_attribute("#signed-in-as", "data-method") == "msal"
        assert "alice" in page.inner_text("#signed-in-as")
        assert [call.status for call in calls] == [201]
        first = calls[0]
        entra = _claims(first.bearer)  # what MSAL's acquireTokenSilent gave the token client
        assert entra["aud"] == settings.api_client_id and entra["azp"] == settings.spa_client_id
        assert entra["scp"] == "access_as_user" and entra["iss"] == settings.issuer
        acs_id = page.inner_text("#acs-user-id")
        assert acs_id == first.body["communicationUserId"] and acs_id.startswith("8:acs:")
        assert demo_msal.local_azure.check_token(first.body["token"])["valid"] is True

        # ACS tokens carry whole seconds (iat) and no nonce: one issued within the same second as the first
        # would be the same string. Past that second, a new token is a new string.
        time.sleep(max(0.0, _claims(first.body["token"])["iat"] + 1.05 - time.time()))
        page.click("#refresh-now")
        page.wait_for_selector("#token-events li[data-event=refreshed][data-reason=manual]", timeout=30_000)
        assert [call.status for call in calls] == [201, 200]
        second = calls[1]
        assert second.body["token"] != first.body["token"]
        assert _claims(second.body["token"])["iat"] > _claims(first.body["token"])["iat"]
        assert second.body["communicationUserId"] == acs_id and page.inner_text("#acs-user-id") == acs_id
        assert second.bearer == first.bearer  # MSAL's cache: the access token is still valid
        assert demo_msal.local_azure.check_token(second.body["token"])["valid"] is True
        page.screenshot(path=str(artifacts_dir / "demo-msal.png"), full_page=True)

        signed_in_storage = page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
        assert entra["oid"] in signed_in_storage  # MSAL caches the account under its oid: the check below can fail
        page.click("#sign-out")
        page.wait_for_selector("#msal-status[data-state=signed-out]", timeout=30_000)
        _ready(page)
        assert any("/oauth2/v2.0/logout?" in r.url for r in seen)
        assert page.locator("#session").is_hidden() and page.locator("#msal-sign-in-button").is_visible()
        stored = page.evaluate("JSON.stringify(Object.entries(sessionStorage))")
        assert entra["oid"] not in stored  # MSAL forgot the account and tokens
        page.click("#msal-sign-in-button")  # the issuer's session ended: its sign-in page, not a silent return
        _sign_in_at_the_issuer(page, settings.authority, "bob")
        page.wait_for_selector("#refreshes li[data-kind=initial]", timeout=30_000)
        assert "bob" in page.inner_text("#signed-in-as")
        assert calls[-1].status == 201 and calls[-1].body["communicationUserId"] != acs_id
    finally:
        context.close()
