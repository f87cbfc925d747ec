"""devtools/operator_example.py against the real app: MSAL Python's client-credentials flow on the local
issuer (secret, then certificate) yields an app-only token whose `roles` open GET /api/identities."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.devhost.real_app import PROJECT_ROOT, RealAppHost


def _created_identity(host: RealAppHost) -> str:
    request = urllib.request.Request(
        f"{host.base_url}/api/identities",
        data=b"{}",
        method="POST",
        headers={
            "Authorization": f"Bearer {host.admin_token()}",
            "x-functions-key": host.function_key,
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return str(json.loads(response.read())["communicationUserId"])


def run_example(host: RealAppHost, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    settings = Path(host.local_azure.settings.data_dir) / "settings.json"
    command = [
        sys.executable,
        "-m",
        "devtools.operator_example",
        "--url",
        host.base_url,
        "--function-key",
        host.function_key,
        "--local-settings",
        str(settings),
        "--page-size",
        "2",
        *args,
    ]
    clean = {name: value for name, value in host.env.items() if not name.startswith("OPERATOR_")}
    return subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env={**clean, **(env or {}), "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_operator_lists_identities_with_an_app_only_token(real_app_host: RealAppHost) -> None:
    made = {_created_identity(real_app_host) for _ in range(3)}
    with_secret = run_example(real_app_host)
    assert with_secret.returncode == 0, with_secret.stderr
    listed = {line.split()[0] for line in with_secret.stdout.splitlines() if line.startswith("8:acs:")}
    assert made <= listed  # paged two at a time, all found
    settings = real_app_host.local_azure.settings
    assert settings.operator_client_secret not in with_secret.stdout + with_secret.stderr
    certificate = ("--certificate", settings.operator_certificate_file, "--private-key", settings.operator_key_file)
    with_certificate = run_example(real_app_host, *certificate, env={"OPERATOR_CLIENT_SECRET": ""})
    assert with_certificate.returncode == 0, with_certificate.stderr
    assert made <= {line.split()[0] for line in with_certificate.stdout.splitlines() if line.startswith("8:acs:")}


def test_a_wrong_secret_is_reported_without_secrets(real_app_host: RealAppHost) -> None:
    wrong = run_example(real_app_host, env={"OPERATOR_CLIENT_SECRET": "wrong-secret-value"})
    assert wrong.returncode == 1 and "invalid_client" in wrong.stderr and "AADSTS7000215" in wrong.stderr
    assert "wrong-secret-value" not in wrong.stderr + wrong.stdout
