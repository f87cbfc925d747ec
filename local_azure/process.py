"""Start/stop local_azure as a child process and talk to its local endpoints (tests, tools, `make run`).

`stop()` signals exactly the process group it started, never anything by name.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_azure import settings_file
from local_azure.settings_file import LocalAzureSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LocalAzureProcess:
    """A running `python -m local_azure` and the settings it published."""

    process: subprocess.Popen[bytes]
    settings: LocalAzureSettings

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        extra_args: Sequence[str] = (),
        log_file: Path | None = None,
        timeout: float = 30,
    ) -> LocalAzureProcess:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = _settings_path(data_dir, extra_args)
        args = [sys.executable, "-m", "local_azure", "--data-dir", str(data_dir), *extra_args]
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                args, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if log_file:
                out.close()  # type: ignore[union-attr]
        try:
            settings = settings_file.wait_for(path, process.pid, timeout, alive=lambda: process.poll() is None)
        except BaseException:
            stop_process_group(process, 10)
            raise
        return cls(process, settings)

    def stop(self, timeout: float = 10) -> None:
        stop_process_group(self.process, timeout)

    def client_environment(self) -> dict[str, str]:
        """Environment that makes SDK clients trust the CA and use the managed-identity endpoint."""
        return self.settings.client_environment()

    @property
    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_cert_file)

    def request(self, method: str, url: str, body: Any = None) -> Any:
        """A JSON call to one of local_azure's local endpoints; raises urllib.error.HTTPError on 4xx/5xx."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 (http/https URLs from our own settings)
            url, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        context = self.ssl_context if url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310
            payload = response.read()
        return json.loads(payload) if payload else None

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PUT", self.settings.acs_control_url, changes)
        return result

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", self.settings.acs_control_url)
        return result

    def reset_faults(self) -> None:
        self.request("POST", self.settings.acs_control_url + "/reset", {})

    def set_mi_faults(self, error_status: int | None) -> None:
        self.request("PUT", self.settings.mi_faults_url, {"error_status": error_status})

    def mint_user_token(
        self,
        sub: str,
        *,
        oid: str | None = None,
        roles: Sequence[str] = (),
        aud: str | None = None,
        lifetime_seconds: int = 3600,
        **claims: Any,
    ) -> str:
        """A user access token as Entra writes it for a client that asked for the `profile` scope: with
        `oid` (the app refuses Entra user tokens without one), `sub` unless `oid` is given."""
        body: dict[str, Any] = {
            "sub": sub,
            "roles": list(roles),
            "lifetime_seconds": lifetime_seconds,
            **claims,
        }
        body["oid"] = oid if oid is not None else sub
        if aud is not None:
            body["aud"] = aud
        result = self.request("POST", self.settings.issuer_mint_url, body)
        return str(result["access_token"])

    def check_token(self, token: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", self.settings.acs_token_check_url, {"token": token})
        return result

    def identities(self, live_only: bool = False) -> list[dict[str, Any]]:
        url = self.settings.acs_identities_url + ("?live=true" if live_only else "")
        result: list[dict[str, Any]] = self.request("GET", url)["identities"]
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", self.settings.acs_stats_url)
        return result

    def reset_stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", self.settings.acs_stats_url + "/reset", {})
        return result

    # -- Application Insights ingestion stand-in (appinsights.py), on the ACS listener --------------

    def appinsights_connection_string(self, instrumentation_key: str) -> str:
        """An APPLICATIONINSIGHTS_CONNECTION_STRING whose ingestion endpoint is the stand-in."""
        return f"InstrumentationKey={instrumentation_key};IngestionEndpoint={self.settings.acs_endpoint}/"

    def appinsights_batches(self, instrumentation_key: str) -> list[dict[str, Any]]:
        url = f"{self.settings.acs_endpoint}/_local/appinsights/batches?ikey={instrumentation_key}"
        result: list[dict[str, Any]] = self.request("GET", url)["batches"]
        return result

    def set_appinsights_resource(self, instrumentation_key: str, *, disable_local_auth: bool) -> None:
        url = f"{self.settings.acs_endpoint}/_local/appinsights/resources/{instrumentation_key}"
        self.request("PUT", url, {"disable_local_auth": disable_local_auth})


def _settings_path(data_dir: Path, extra_args: Sequence[str]) -> Path:
    args = list(extra_args)
    for index, arg in enumerate(args):
        if arg == "--settings-file" and index + 1 < len(args):
            return Path(args[index + 1])
        if arg.startswith("--settings-file="):
            return Path(arg.split("=", 1)[1])
    return settings_file.default_path(data_dir)


def stop_process_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the process group we started, then SIGKILL if it lingers (local_azure, Azurite, the proxy)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
    except ProcessLookupError:
        process.wait(timeout)
