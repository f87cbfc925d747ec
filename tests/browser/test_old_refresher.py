"""Evidence for issue 19: the demo's refresher as it was before the token client, in the scenario the
issue names (a connection dropped during a scheduled refresh), against the real SDK and the real app.

The old web/src (read from git: OLD_COMMIT, the parent of the commit that moved the page to clients/js; a
checkout without that history skips this test) is bundled
into a temporary file and served in place of /demo/app.js; one line is added so the test can call
its credential's getToken(). The test passes when the old failure is reproduced, and writes what
getToken() returned to test-artifacts/token-client-scenarios.json (`old_refresher_connection_dropped`).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Request, Route

from local_azure.process import LocalAzureProcess
from tests.browser.token_page import get_token, record, signed_in
from tests.devhost.real_app import PROJECT_ROOT, RealAppHost

OLD_COMMIT = "963abb41adc0631a195d20758ccb2ecaeb808d7b"
OLD_SOURCES = ("main.ts", "operator.ts", "problem.ts", "metrics.ts")
EXPOSE = "(window as any).tokenCredential = credential;\n  countdownTimer = setInterval(tick, 1000);"
# The old page's dev sign-in minted sub only; Entra user tokens must now name the user by oid (issue 21,
# defect 7), so its sign-in gets the oid the current page sends. Its refresher, under test, is untouched.
OLD_SIGN_IN, SIGN_IN_WITH_OID = "{ sub: userId, name: userId,", "{ sub: userId, oid: userId, name: userId,"


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=PROJECT_ROOT, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def old_bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    try:
        _git("cat-file", "-e", f"{OLD_COMMIT}^{{commit}}")
    except subprocess.CalledProcessError:
        pytest.skip(f"this checkout lacks the history holding the old demo page ({OLD_COMMIT[:7]})")
    src = tmp_path_factory.mktemp("old-web")
    for name in OLD_SOURCES:
        (src / name).write_text(_git("show", f"{OLD_COMMIT}:web/src/{name}"))
    main = (src / "main.ts").read_text()
    assert "countdownTimer = setInterval(tick, 1000);" in main and "AzureCommunicationTokenCredential" in main
    assert OLD_SIGN_IN in main
    main = main.replace(OLD_SIGN_IN, SIGN_IN_WITH_OID)
    (src / "main.ts").write_text(main.replace("countdownTimer = setInterval(tick, 1000);", EXPOSE))
    script = (
        "const { build } = await import(process.argv[1]);"
        "await build({ entryPoints: [process.argv[2]], bundle: true, format: 'esm', platform: 'browser',"
        " outfile: process.argv[3], nodePaths: [process.argv[4]], logLevel: 'warning' });"
    )
    esbuild = PROJECT_ROOT / "node_modules" / "esbuild" / "lib" / "main.js"
    out = src / "app.js"
    subprocess.run(
        ["node", "--input-type=module", "-e", script, str(esbuild), str(src / "main.ts"), str(out),
         str(PROJECT_ROOT / "node_modules")],
        check=True,
    )  # fmt: skip
    yield out.read_bytes()


def test_old_refresher_stops_refreshing_after_one_dropped_connection(
    browser: Browser, demo_host: RealAppHost, local_azure: LocalAzureProcess, old_bundle: bytes, artifacts_dir: Path
) -> None:
    requests: list[float] = []

    def serve_old(route: Route, _: Request) -> None:
        route.fulfill(status=200, body=old_bundle, headers={"Content-Type": "text/javascript"})

    user = f"tc-old-{time.time_ns()}"
    with signed_in(
        browser, demo_host.base_url, user, setup=lambda page: page.route("**/demo/app.js", serve_old)
    ) as page:
        page.on("request", lambda r: requests.append(time.monotonic()) if r.url.endswith("/api/token") else None)
        first = get_token(page)
        local_azure.set_faults(fail_after={"calls": 0, "status": "drop"})
        try:
            page.clock.fast_forward("50:30")  # the SDK's timer: the old refresher re-throws the 503
            page.wait_for_selector("#error:not([hidden])", timeout=60_000)
            error = page.inner_text("#error")
        finally:
            local_azure.reset_faults()
        time.sleep(10)  # the service is healthy again: nothing tries
        assert len(requests) == 1, "the old refresher retried"
        during = get_token(page)
        page.clock.fast_forward("09:10")  # 10 s before expiry
        time.sleep(2)
        last = get_token(page)
        assert during["token"] == last["token"] == first["token"], "the old page refreshed after all"
        assert len(requests) == 1
        record(artifacts_dir, "old_refresher_connection_dropped", {
            "error_shown": error,
            "refresh_attempts_after_failure": len(requests) - 1,
            "first_token_still_handed_out_s_before_expiry": round((last["expiresOn"] - last["now"]) / 1000),
            "getToken_stayed_valid": "only until the first token's expiry (never replaced)",
        })  # fmt: skip
