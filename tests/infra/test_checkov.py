"""checkov on infra/: no failure but the skips below, each justified; and it does catch a broken copy.

checkov runs from its own virtualenv (.venv-checkov, `make install`), offline: --skip-download, and
proxies pointed at a closed loopback port so that nothing it tries can leave the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import INFRA, ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"

# Failing checks accepted on purpose, one line of reason each. The test fails on any other failure,
# and on a skip that no longer fails (so the list cannot go stale).
SKIPS = {
    "CKV_AZURE_35": "No VNet here: Flex Consumption reaches storage over its public endpoint; storage is Entra-only "
    "(shared keys off), so a deny-by-default network rule would lock out the app itself.",
    "CKV_AZURE_59": "Same: public network access to storage is how the function app reaches it without a VNet; "
    "every request still needs an Entra token of the managed identity.",
    "CKV_AZURE_206": "Standard_LRS is the cheapest at rest; geo/zone replication of the registry is an operator's "
    "cost/durability choice, not a security defect.",
    "CKV_AZURE_43": "The name is an expression ('st' + uniqueString: 15 lowercase letters and digits, valid); "
    "checkov cannot evaluate it.",
    "CKV_AZURE_225": "Zone-redundant Flex Consumption needs always-ready instances (billed at rest) and a supporting "
    "region; this deployment scales to zero.",
    "CKV_AZURE_222": "The function URLs are a public API for browser and mobile frontends; callers are "
    "authenticated by bearer JWT in code.",
    "CKV_AZURE_17": "Browsers cannot present client certificates; callers authenticate with Entra bearer tokens.",
    "CKV_AZURE_212": "Flex Consumption scales out on demand and to zero; a minimum instance count would bill at rest.",
    "CKV_AZURE_78": "siteConfig.ftpsState is on Flex Consumption's list of site properties not to set; FTP is off "
    "anyway: the 'ftp' basicPublishingCredentialsPolicies resource disallows FTP publishing.",
    "CKV_AZURE_213": "App Service health check pings every instance every minute, keeping a scale-to-zero app awake; "
    "GET /api/health is there for external probes.",
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} missing: run `make install` (it creates .venv-checkov from requirements-checkov.txt)")
    dead = f"http://127.0.0.1:{_closed_port()}"
    env = {**os.environ, "HTTPS_PROXY": dead, "HTTP_PROXY": dead, "NO_PROXY": "", "no_proxy": ""}
    result = subprocess.run(
        [
            str(CHECKOV),
            "-d",
            str(directory),
            "--framework",
            "bicep",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def failed_ids(report: dict[str, Any]) -> dict[str, str]:
    return {c["check_id"]: f"{c['check_name']} ({c['resource']})" for c in report["results"]["failed_checks"]}


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run_checkov(INFRA)


def test_checkov_finds_nothing_but_the_justified_skips(report: dict[str, Any]) -> None:
    summary = report["summary"]
    failed = failed_ids(report)
    passed = summary["passed"]
    print(
        f"checkov {summary['checkov_version']}: {passed} passed, {len(failed)} failed and skipped (SKIPS): "
        f"{sorted(failed)}; {summary['resource_count']} resources"
    )
    assert summary["parsing_errors"] == 0
    assert passed >= 15
    unexpected = {k: v for k, v in failed.items() if k not in SKIPS}
    assert not unexpected, f"checkov failures without a justified skip: {unexpected}"
    stale = set(SKIPS) - set(failed)
    assert not stale, f"skips that no longer fail (remove them): {sorted(stale)}"


def test_checkov_reports_a_broken_copy(tmp_path: Path) -> None:
    copy = tmp_path / "infra"
    shutil.copytree(INFRA, copy)
    main = copy / "main.bicep"
    text = main.read_text(encoding="utf-8")
    breaks = (("httpsOnly: true", "httpsOnly: false"), ("minimumTlsVersion: 'TLS1_2'", "minimumTlsVersion: 'TLS1_0'"))
    for old, new in breaks:
        assert old in text
        text = text.replace(old, new)
    main.write_text(text, encoding="utf-8")
    failed = failed_ids(run_checkov(copy))
    assert set(failed) - set(SKIPS), failed
