"""Runs last (file order): no token, key or JWT appears in anything the suite logged.

Covers the in-process log records of every earlier test (the function app, SDKs, credentials) and
the log files of the hosts the tests started (devhost, make run). local_azure's and Azurite's own logs
are excluded: they are the stand-ins, and local_azure prints its dev connection string on purpose.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from local_azure.azurite import DEV_ACCOUNT_KEY
from tests.conftest import ARTIFACTS, SUITE_LOGS

SECRET_PATTERNS = {
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "ACS access key": re.compile(r"accesskey=[A-Za-z0-9+/=]{16,}", re.IGNORECASE),
    "storage account key": re.compile(r"AccountKey=[A-Za-z0-9+/=]{16,}"),
    "bearer header": re.compile(r"Bearer\s+[A-Za-z0-9._-]{20,}"),
    "HMAC signature": re.compile(r"Signature=[A-Za-z0-9+/=]{20,}"),
}
EXCLUDED_PREFIXES = ("local_azure", "azurite")


def _findings(name: str, text: str) -> list[str]:
    found = [f"{name}: {label}" for label, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    if DEV_ACCOUNT_KEY in text:
        found.append(f"{name}: storage account key")
    return found


def test_patterns_catch_what_they_should() -> None:
    """The control: each pattern fires on a sample, so a clean result below means something."""
    samples = [
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eHh4eHh4In0.c2lnbmF0dXJl",
        "endpoint=https://127.0.0.1:1/;accesskey=" + base64.b64encode(b"sample, built at run time").decode(),
        "AccountKey=QUJDREVGR0hJSktMTU5PUFFSU1Q=",
        "Authorization: Bearer abcdefghijklmnopqrstuvwxyz",
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=QUJDREVGR0hJSktMTU5PUFFSU1Q=",
    ]
    for sample, label in zip(samples, SECRET_PATTERNS, strict=True):
        assert _findings("sample", sample), label


def test_no_secret_in_any_log_of_the_suite() -> None:
    assert len(SUITE_LOGS.lines) > 50, "the capture saw too little to mean anything"
    assert any('"event":"request"' in line for line in SUITE_LOGS.lines), "request log lines were not captured"
    findings = _findings("in-process logs", "\n".join(SUITE_LOGS.lines))
    for path in sorted(Path(ARTIFACTS).glob("*.log")):
        if not path.name.startswith(EXCLUDED_PREFIXES):
            findings += _findings(path.name, path.read_text(errors="replace"))
    assert findings == []
