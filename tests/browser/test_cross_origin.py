"""What a frontend on another origin can read, in headless Chromium: the CORS rules are the browser's own.

The page is the demo page served as http://localhost:P; it calls the functions as http://127.0.0.1:P, a
different origin, allowed by `--cors` (what `make run` passes). Without `Access-Control-Expose-Headers`,
Chromium hands script `null` for `Retry-After` and `WWW-Authenticate` although they are on the wire.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from local_azure.azurite import AzuriteProcess, free_port
from local_azure.process import LocalAzureProcess
from tests.devhost.real_app import RealAppHost, start_real_app

RATE_PER_MINUTE = 2
CALL_TOKEN_ROUTE = """async ([url, token]) => {
    const headers = {"Content-Type": "application/json"};
    if (token) headers["Authorization"] = `Bearer ${token}`;
    const response = await fetch(url, {method: "POST", headers, body: JSON.stringify({scopes: ["voip"]})});
    return {
        status: response.status,
        retryAfter: response.headers.get("Retry-After"),
        challenge: response.headers.get("WWW-Authenticate"),
        contentType: response.headers.get("Content-Type"),
        body: await response.json(),
    };
}"""


@pytest.fixture(scope="module")
def limited_host(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path, local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
) -> Iterator[RealAppHost]:  # fmt: skip
    port = free_port()
    running = start_real_app(
        tmp_path_factory.mktemp("cross-origin"), artifacts_dir, local_azure, azurite, "cross-origin",
        extra_env={"TOKEN_RATE_PER_MINUTE": str(RATE_PER_MINUTE)}, port=port,
        extra_args=["--cors", f"http://localhost:{port}"],
    )  # fmt: skip
    yield running
    running.host.stop()


def test_cross_origin_script_reads_retry_after_and_the_challenge(browser: Browser, limited_host: RealAppHost) -> None:
    port = limited_host.base_url.rsplit(":", 1)[1]
    api = f"http://127.0.0.1:{port}/api/token"
    token = limited_host.local_azure.mint_user_token(f"cross-origin-{uuid.uuid4().hex[:8]}")
    page = browser.new_page()
    try:
        page.goto(f"http://localhost:{port}/demo/")
        assert page.evaluate("location.origin") == f"http://localhost:{port}"
        answers = [page.evaluate(CALL_TOKEN_ROUTE, [api, token]) for _ in range(RATE_PER_MINUTE + 1)]
        unauthenticated = page.evaluate(CALL_TOKEN_ROUTE, [api, None])
    finally:
        page.close()
    assert [answer["status"] for answer in answers] == [201, 200, 429]
    limited = answers[-1]
    assert limited["body"]["code"] == "rate_limited" and limited["contentType"] == "application/problem+json"
    assert limited["retryAfter"] is not None and 1 <= int(limited["retryAfter"]) <= 60
    assert answers[0]["retryAfter"] is None  # a success carries none
    assert unauthenticated["status"] == 401
    assert unauthenticated["challenge"] == 'Bearer realm="acs-token-service"'  # RFC 6750: no error code without a token
