"""The secret scan pytest runs after the whole test run (hooks in tests/conftest.py), and what it reads.

No token, key or JWT may appear in anything the suite logged: the in-process log records of every
test (the function app, SDKs, credentials) and the log files of the hosts the tests started
(devhost, make run) in test-artifacts/. local_azure's and Azurite's own logs are excluded: they are
the stand-ins, and local_azure prints its dev connection string on purpose.

Findings name where and what kind of secret, never the secret itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from local_azure.azurite import DEV_ACCOUNT_KEY

SECRET_PATTERNS = {
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    "ACS access key": re.compile(r"accesskey=[A-Za-z0-9+/=]{16,}", re.IGNORECASE),
    "storage account key": re.compile(r"AccountKey=[A-Za-z0-9+/=]{16,}"),
    "bearer header": re.compile(r"Bearer\s+[A-Za-z0-9._-]{20,}"),
    "HMAC signature": re.compile(r"Signature=[A-Za-z0-9+/=]{20,}"),
}
EXCLUDED_PREFIXES = ("local_azure", "azurite")


def findings(source: str, text: str) -> list[str]:
    """`source: kind` for each kind of secret found in `text`."""
    found = [f"{source}: {label}" for label, pattern in SECRET_PATTERNS.items() if pattern.search(text)]
    if DEV_ACCOUNT_KEY in text:
        found.append(f"{source}: storage account key")
    return found


def host_log_files(artifacts: Path) -> list[Path]:
    """The hosts' log files the scan covers (the stand-ins' own logs excluded)."""
    return [path for path in sorted(artifacts.glob("*.log")) if not path.name.startswith(EXCLUDED_PREFIXES)]


def scan(in_process_lines: Iterable[str], artifacts: Path) -> list[str]:
    """Everything the suite logged, in process and in the hosts' log files."""
    found = findings("in-process logs", "\n".join(in_process_lines))
    for path in host_log_files(artifacts):
        found += findings(path.name, path.read_text(errors="replace"))
    return found


class SuiteLogCapture(logging.Handler):
    """Keeps every log line the suite's own process emits, for the secret scan after the run."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a log line that cannot format is not a test failure
            self.lines.append(f"{record.name} unformattable")


SUITE_LOGS = SuiteLogCapture()
