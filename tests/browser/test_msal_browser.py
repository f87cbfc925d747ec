"""Unmodified @azure/msal-browser in headless Chromium against the local issuer and the real app.

A small SPA (tests/browser/msal_page, bundled with esbuild) signs in with loginRedirect (auth code +
PKCE, nonce, state), gets tokens silently from the cache and by the refresh_token grant, calls
POST /api/token with the access token, and signs out. The issuer is a private local_azure whose SPA
client registers this page's redirect URI. Chromium trusts the issuer as tests/browser/dev_ca.py says
(the dev CA in its NSS database; without certutil, the server key's pin).
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import Browser, Page, Request, sync_playwright

from local_azure.azurite import AzuriteProcess, free_port
from local_azure.process import PROJECT_ROOT, LocalAzureProcess
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.browser.dev_ca import trust_dev_ca
from tests.devhost.real_app import RealAppHost, start_real_app

PAGE_SOURCE = Path(__file__).resolve().parent / "msal_page"


@dataclass
class MsalStack:
    page_url: str
    local_azure: LocalAzureProcess
    app: RealAppHost
    browser: Browser


def _serve(directory: Path, port: int) -> http.server.ThreadingHTTPServer:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def msal_stack(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path, azurite: AzuriteProcess
) -> Iterator[MsalStack]:
    tmp = tmp_path_factory.mktemp("msal")
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    page_url = f"{origin}/msal/"
    local_azure = LocalAzureProcess.start(
        tmp / "local_azure",
        extra_args=["--spa-redirect-uri", page_url],
        log_file=artifacts_dir / "local_azure-msal.log",
    )
    try:
        (tmp / "app").mkdir()
        app = start_real_app(tmp / "app", artifacts_dir, local_azure, azurite, "msal", extra_args=["--cors", origin])
    except BaseException:
        local_azure.stop()
        raise
    site = tmp / "site"
    server = None
    try:
        subprocess.run(["node", str(PAGE_SOURCE / "build.mjs"), str(site / "msal")], cwd=PROJECT_ROOT, check=True)
        settings = local_azure.settings
        config = {
            "clientId": settings.spa_client_id,
            "authority": settings.authority,
            "knownAuthority": urllib.parse.urlsplit(settings.issuer_origin).netloc,
            "scope": settings.api_scope,
            "apiBase": app.base_url,
        }
        (site / "msal" / "config.json").write_text(json.dumps(config))
        server = _serve(site, port)
        args, env = trust_dev_ca(tmp / "home", Path(settings.ca_cert_file))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *args], env=env)
            yield MsalStack(page_url, local_azure, app, browser)
            browser.close()
    finally:
        if server is not None:
            server.shutdown()
        app.host.stop()
        local_azure.stop()


def _ready(page: Page) -> dict[str, Any]:
    page.wait_for_function("window.msalState && window.msalState.ready", timeout=30_000)
    state: dict[str, Any] = page.evaluate("window.msalState")
    assert state["error"] is None, state["error"]
    return state


def _claims(token: str) -> dict[str, Any]:
    result: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return result


def _is_token_call(request: Request) -> bool:
    return urllib.parse.urlsplit(request.url).path.endswith("/oauth2/v2.0/token") and request.method == "POST"


def _form(request: Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.post_data or ""))


def test_msal_browser_signs_in_refreshes_calls_the_api_and_signs_out(msal_stack: MsalStack) -> None:
    settings = msal_stack.local_azure.settings
    context = msal_stack.browser.new_context()
    page = context.new_page()
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request))
    try:
        page.goto(msal_stack.page_url)
        assert _ready(page)["accounts"] == 0

        page.evaluate("() => { window.msalTest.login(); }")  # navigates away: not awaited
        page.wait_for_selector("#username", timeout=30_000)
        assert page.url.startswith(f"{settings.authority}/oauth2/v2.0/authorize?")
        page.fill("#username", "browser-alice")
        page.check("#admin")
        page.click("#sign-in")
        page.wait_for_url(msal_stack.page_url + "**", timeout=30_000)
        state = _ready(page)
        signed_in = state["redirect"]
        assert signed_in and state["accounts"] == 1 and signed_in["state"] == "page-state-1"

        authorize = next(r for r in seen if "/oauth2/v2.0/authorize?" in r.url)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize.url).query))
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        assert query["response_mode"] == "fragment" and query["nonce"] == signed_in["idTokenClaims"]["nonce"]
        redemption = next(_form(r) for r in seen if _is_token_call(r))
        assert redemption["grant_type"] == "authorization_code" and len(redemption["code_verifier"]) >= 43
        access = _claims(signed_in["accessToken"])
        assert access["aud"] == settings.api_client_id and access["azp"] == settings.spa_client_id
        assert access["scp"] == "access_as_user" and access["roles"] == ["TokenService.Admin"]
        assert signed_in["homeAccountId"] == f"{access['oid']}.{settings.issuer_tenant_id}"  # from client_info

        cached = page.evaluate("window.msalTest.silent(false)")
        assert cached["fromCache"] and cached["accessToken"] == signed_in["accessToken"]
        refreshed = page.evaluate("window.msalTest.silent(true)")
        assert not refreshed["fromCache"] and refreshed["accessToken"] != signed_in["accessToken"]
        grants = [_form(r).get("grant_type") for r in seen if _is_token_call(r)]
        assert grants == ["authorization_code", "refresh_token"]
        assert _claims(refreshed["accessToken"])["oid"] == access["oid"]

        called = page.evaluate("(token) => window.msalTest.callApi(token)", refreshed["accessToken"])
        assert called["status"] == 201, called
        assert called["body"]["communicationUserId"].startswith("8:acs:")

        page.evaluate("() => { window.msalTest.logout(); }")
        page.wait_for_url(msal_stack.page_url + "**", timeout=30_000)
        page.wait_for_load_state()
        assert _ready(page)["accounts"] == 0
        assert any("/oauth2/v2.0/logout?" in r.url for r in seen)
        page.evaluate("() => { window.msalTest.login(); }")  # the issuer's session ended: the page again
        page.wait_for_selector("#username", timeout=30_000)
    finally:
        context.close()
