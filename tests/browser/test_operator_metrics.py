"""The operator tab charts the Azure workbook's views from GET /api/metrics, in headless Chromium.

Traffic is real (users' token calls through the devhost); the charts must show the workbook's views
(same names as infra/monitoring/workbook.json) with the values GET /api/metrics reports at that moment.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from tests.devhost.real_app import RealAppHost
from tests.infra.kql import workbook_queries


def post_token(host: RealAppHost, token: str) -> int:
    request = urllib.request.Request(
        f"{host.base_url}/api/token",
        data=b"{}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def metrics(host: RealAppHost) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {host.admin_token()}", "x-functions-key": host.function_key}
    request = urllib.request.Request(f"{host.base_url}/api/metrics", headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        snapshot: dict[str, Any] = json.loads(response.read())
        return snapshot


def total(snapshot: dict[str, Any], name: str, **attributes: str) -> float:
    return sum(
        point["value"]
        for metric in snapshot["metrics"]
        if metric["name"] == name
        for point in metric["points"]
        if all(point["attributes"].get(key) == value for key, value in attributes.items())
    )


def test_operator_tab_charts_the_workbook_views(browser: Browser, demo_host: RealAppHost, artifacts_dir: Path) -> None:
    for n in range(3):
        user = demo_host.local_azure.mint_user_token(f"metrics-tab-{n}-{uuid.uuid4().hex[:6]}")
        assert post_token(demo_host, user) == 201
        assert post_token(demo_host, user) == 200
    page = browser.new_page()
    try:
        page.goto(f"{demo_host.base_url}/demo/")
        page.click("#tab-operator")
        page.fill("#admin-id", "metrics-admin")
        page.click("#admin-sign-in-button")
        page.wait_for_selector("#metrics[data-loaded] figure", timeout=20_000)
        expected = metrics(demo_host)  # token and ACS counts do not move while the page reads them
        loaded = page.eval_on_selector("#metrics", "m => m.dataset.loaded")
        page.click("#metrics-button")  # a refresh after the sign-in's own load
        page.wait_for_function(f"document.querySelector('#metrics').dataset.loaded !== '{loaded}'", timeout=20_000)
        page.screenshot(path=str(artifacts_dir / "operator-metrics.png"), full_page=True)

        views = page.eval_on_selector_all("#metrics figure", "fs => fs.map(f => f.dataset.view)")
        assert views == list(workbook_queries()), "the operator tab and the Azure workbook show different views"
        bars = page.eval_on_selector_all(
            "#metrics figure[data-view=tokens] g.bar", "bs => bs.map(b => [b.dataset.label, Number(b.dataset.value)])"
        )
        issued = total(expected, "acs_token_service.tokens.issued", function="issue_user_token")
        assert issued >= 6
        assert ["issue_user_token", issued] in bars, bars
        calls = dict(
            page.eval_on_selector_all(
                "#metrics figure[data-view=acs_calls] g.bar",
                "bs => bs.map(b => [b.dataset.label, Number(b.dataset.value)])",
            )
        )
        created = total(expected, "acs_token_service.acs.calls", operation="create", outcome="ok")
        assert calls.get("create · ok") == created >= 3, calls
        latency = page.eval_on_selector_all("#metrics figure[data-view=acs_latency] g.bar", "bs => bs.length")
        assert latency >= 1
        figures = page.eval_on_selector_all("#metrics figure", "fs => fs.map(f => f.dataset.metric)")
        assert all(name.startswith("acs_token_service.") for name in figures), figures
    finally:
        page.close()
