"""A restart with the same data dir keeps identities, revocations, keys, the CA and the secrets."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from azure.communication.identity import CommunicationIdentityClient, CommunicationUserIdentifier
from azure.core.exceptions import ResourceNotFoundError

from local_azure.process import LocalAzureProcess

STABLE = (
    "acs_resource_id", "ca_cert_file", "identity_header", "managed_identity_client_id", "default_audience",
)  # fmt: skip


def test_restart_keeps_state(tmp_path: Path, artifacts_dir: Path) -> None:
    log = artifacts_dir / "local_azure-restart.log"
    first = LocalAzureProcess.start(tmp_path, log_file=log)
    try:
        client = CommunicationIdentityClient.from_connection_string(
            first.settings.acs_connection_string, connection_verify=first.settings.ca_cert_file
        )
        kept, token = client.create_user_and_token(["chat"])
        revoked, revoked_token = client.create_user_and_token(["voip"])
        client.revoke_tokens(revoked)
        deleted = client.create_user()
        client.delete_user(deleted)
        ca_pem = Path(first.settings.ca_cert_file).read_bytes()
    finally:
        first.stop()
    assert first.process.returncode == 0

    second = LocalAzureProcess.start(tmp_path, log_file=log)
    try:
        assert second.settings.pid != first.settings.pid
        for key in STABLE:
            assert getattr(second.settings, key) == getattr(first.settings, key), key
        assert (
            second.settings.acs_connection_string.split(";accesskey=")[1]
            == first.settings.acs_connection_string.split(";accesskey=")[1]
        )
        assert Path(second.settings.ca_cert_file).read_bytes() == ca_pem
        assert second.check_token(token.token)["valid"], "tokens signed before the restart still verify"
        assert second.check_token(revoked_token.token)["reason"] == "revoked"
        listed = {item["id"]: item for item in second.identities()}
        assert listed[deleted.properties["id"]]["deleted"] is True
        assert listed[kept.properties["id"]]["lastTokenIssuedAt"]
        client = CommunicationIdentityClient.from_connection_string(
            second.settings.acs_connection_string, connection_verify=second.settings.ca_cert_file
        )
        client.get_token(CommunicationUserIdentifier(kept.properties["id"]), ["chat"])
        with pytest.raises(ResourceNotFoundError):
            client.get_token(deleted, ["chat"])
    finally:
        second.stop()
    assert second.process.returncode == 0


def test_flags_set_initial_knobs_and_sigint_exits_cleanly(tmp_path: Path, artifacts_dir: Path) -> None:
    process = LocalAzureProcess.start(
        tmp_path,
        extra_args=[
            "--latency-ms", "5", "--rate-limit", "create=3/2", "--rate-limit", "issue=7/1",
            "--error-rate", "0.25", "--drop-rate", "0.125", "--settings-file", str(tmp_path / "elsewhere.json"),
        ],
        log_file=artifacts_dir / "local_azure-flags.log",
    )  # fmt: skip
    try:
        assert (tmp_path / "elsewhere.json").exists() and not (tmp_path / "settings.json").exists()
        faults = process.faults()
        assert faults["latency_ms"] == 5 and faults["error_rate"] == 0.25 and faults["drop_rate"] == 0.125
        assert faults["rate_limits"]["create"] == {"limit": 3, "window_seconds": 2}
        assert faults["rate_limits"]["issue"] == {"limit": 7, "window_seconds": 1}
        process.reset_faults()  # reset goes back to the flags' values, not the built-in defaults
        assert process.faults() == faults
    finally:
        process.process.send_signal(signal.SIGINT)
        assert process.process.wait(10) == 0
