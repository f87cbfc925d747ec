"""The scanner behind the after-the-run log-hygiene hook (tests/conftest.py): it must be able to fail."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

from local_azure.azurite import DEV_ACCOUNT_KEY
from tests import log_hygiene
from tests.log_hygiene import SUITE_LOGS

# Built at run time, so no sample secret sits in the source.
SAMPLES = {
    "JWT": ".".join(base64.urlsafe_b64encode(part).decode().rstrip("=")
                    for part in (b'{"alg":"RS256"}', b'{"sub":"xxxxxxx"}', b"signature")),
    "ACS access key": "endpoint=https://127.0.0.1:1/;accesskey="
    + base64.b64encode(b"sample, built at run time").decode(),
    "storage account key": "AccountKey=" + base64.b64encode(b"ABCDEFGHIJKLMNOPQRST").decode(),
    "bearer header": "Authorization: Bearer " + "abcdefghijklmnopqrstuvwxyz",
    "HMAC signature": "HMAC-SHA256 SignedHeaders=x-ms-date;host&Signature="
    + base64.b64encode(b"ABCDEFGHIJKLMNOPQRST").decode(),
}  # fmt: skip


def test_each_pattern_fires_on_its_sample() -> None:
    assert set(SAMPLES) == set(log_hygiene.SECRET_PATTERNS)
    for label, sample in SAMPLES.items():
        assert f"sample: {label}" in log_hygiene.findings("sample", f"something happened: {sample} (end)")


def test_the_dev_storage_key_alone_is_found() -> None:
    assert log_hygiene.findings("x", DEV_ACCOUNT_KEY) == ["x: storage account key"]


def test_clean_text_is_clean() -> None:
    line = '{"event":"request","function":"issue_token","status":200,"user":"1f2e3d4c5b6a7980"}'
    assert log_hygiene.findings("x", line) == []


def test_scan_names_the_file_not_the_secret(tmp_path: Path) -> None:
    (tmp_path / "devhost-x.log").write_text("ok\n" + SAMPLES["bearer header"] + "\n")
    (tmp_path / "local_azure.log").write_text(SAMPLES["ACS access key"])  # the stand-in's own log: excluded
    (tmp_path / "clean.log").write_text("nothing to see\n")
    found = log_hygiene.scan(["in process: " + SAMPLES["JWT"]], tmp_path)
    assert found == ["in-process logs: JWT", "devhost-x.log: bearer header"]
    assert not any(secret in finding for finding in found for secret in SAMPLES.values())


def test_the_suite_capture_sees_the_apps_log_records() -> None:
    """The hook scans SUITE_LOGS; the app's loggers must reach it (propagation to the root logger)."""
    marker = "hygiene-capture-probe"
    logging.getLogger("token_service.request").info('{"event":"request","probe":"%s"}', marker)
    assert any(marker in line for line in SUITE_LOGS.lines)
