"""The seed quickstart through the function URLs prints exactly the quickstart's lines."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.devhost.real_app import PROJECT_ROOT, RealAppHost

EXPECTED = re.compile(
    r"\AAzure Communication Services - Access Tokens Quickstart\n"
    r"\n"
    r"Created an identity with ID: (?P<id>8:acs:[0-9a-f-]{36}_"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\n"
    r"\n"
    r"Issued an access token with 'voip' scope that expires at "
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00:\n"
    r"(?P<token>eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+)\n"
    r"\n"
    r"Successfully revoked all access tokens for identity with ID: (?P=id)\n"
    r"\n"
    r"Deleted the identity with ID: (?P=id)\n\Z"
)


def run_quickstart(host: RealAppHost, *args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools.quickstart", "--url", host.base_url, *args],
        cwd=cwd, env={**host.env, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_quickstart_output_matches_the_seed(real_app_host: RealAppHost) -> None:
    result = run_quickstart(
        real_app_host, "--function-key", real_app_host.function_key, "--issuer-mint-url", real_app_host.mint_url
    )
    assert result.returncode == 0, result.stderr
    found = EXPECTED.match(result.stdout)
    assert found, result.stdout
    check = real_app_host.local_azure.check_token(found["token"])
    assert check["valid"] is False and check["reason"] in {"revoked", "identity deleted"}
    live = {identity.get("id") for identity in real_app_host.local_azure.identities(live_only=True)}
    assert found["id"] not in live


def test_quickstart_with_admin_token_and_custom_expiry(real_app_host: RealAppHost) -> None:
    result = run_quickstart(
        real_app_host, "--function-key", real_app_host.function_key, "--admin-token", real_app_host.admin_token(),
        "--expires-in-minutes", "90",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert EXPECTED.match(result.stdout), result.stdout


def test_quickstart_errors_are_clear_and_non_zero(real_app_host: RealAppHost) -> None:
    wrong_key = run_quickstart(real_app_host, "--function-key", "wrong", "--issuer-mint-url", real_app_host.mint_url)
    assert wrong_key.returncode != 0
    assert "401" in wrong_key.stderr and "--function-key" in wrong_key.stderr
    not_admin = run_quickstart(
        real_app_host, "--function-key", real_app_host.function_key,
        "--admin-token", real_app_host.local_azure.mint_user_token("not-an-admin"),
    )  # fmt: skip
    assert not_admin.returncode != 0 and "403" in not_admin.stderr
    closed = run_quickstart(real_app_host, "--url", "http://127.0.0.1:9", "--issuer-mint-url", real_app_host.mint_url)
    assert closed.returncode != 0 and "cannot reach" in closed.stderr


def test_quickstart_finds_issuer_audience_and_key_through_the_running_app(
    real_app_host: RealAppHost, tmp_path: Path
) -> None:
    """Run outside the project (no .local/azure, no local.settings.json): only /demo/config.json can tell."""
    env_without = {k: v for k, v in real_app_host.env.items() if k not in {"AUTH_AUDIENCE", "FUNCTIONS_KEY"}}
    result = subprocess.run(
        [sys.executable, "-m", "devtools.quickstart", "--url", real_app_host.base_url],
        cwd=tmp_path, env={**env_without, "PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert EXPECTED.match(result.stdout), result.stdout


def test_quickstart_names_the_flag_when_it_cannot_find_the_issuer(real_app_host: RealAppHost, tmp_path: Path) -> None:
    closed = run_quickstart(real_app_host, "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert closed.returncode == 1
    assert "cannot find the local dev issuer" in closed.stderr and "--issuer-mint-url" in closed.stderr
