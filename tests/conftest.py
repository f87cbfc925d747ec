"""Session-wide real services: Azurite and local_azure, started once on free ports, stopped by pid.

Also the log-hygiene scan: every log line the run produced is captured, and after the last test
(whatever ran, in whatever order) tests/log_hygiene.py scans it; a secret fails the run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests import log_hygiene
from tests.log_hygiene import SUITE_LOGS

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.getLogger().addHandler(SUITE_LOGS)
    logging.getLogger("token_service").setLevel(logging.DEBUG)


HYGIENE = pytest.StashKey[tuple[list[str], int, int]]()  # findings, in-process lines, host log files


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """After the last test (session fixtures torn down, host logs flushed): scan every log of the run.

    A finding counts as a failed test, so the run exits non-zero; the summary names where and what.
    """
    try:
        return (yield)
    finally:
        if session.testscollected and not session.config.option.collectonly:
            found = log_hygiene.scan(SUITE_LOGS.lines, ARTIFACTS)
            session.config.stash[HYGIENE] = (found, len(SUITE_LOGS.lines), len(log_hygiene.host_log_files(ARTIFACTS)))
            if found:
                session.testsfailed += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if HYGIENE not in config.stash:
        return
    found, lines, files = config.stash[HYGIENE]
    if found:
        terminalreporter.section("log hygiene: secrets in the logs", red=True)
        for finding in found:
            terminalreporter.line(finding, red=True)
        terminalreporter.line("(kind and place only; the values are not repeated here)")
    else:
        terminalreporter.line(f"log hygiene: {lines} in-process log lines and {files} host log files, no secrets")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[AzuriteProcess]:
    process = AzuriteProcess.start(tmp_path_factory.mktemp("azurite"), log_file=artifacts_dir / "azurite.log")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def local_azure(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[LocalAzureProcess]:
    """local_azure for the whole session, with the process environment pointed at it.

    SSL_CERT_FILE/REQUESTS_CA_BUNDLE make every client trust its CA; IDENTITY_ENDPOINT/IDENTITY_HEADER
    make azure-identity's managed-identity credential use its token endpoint, as in App Service.
    """
    process = LocalAzureProcess.start(
        tmp_path_factory.mktemp("local_azure"), log_file=artifacts_dir / "local_azure.log"
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in process.client_environment().items():
            patch.setenv(name, value)
        yield process
    process.stop()


@pytest.fixture
def acs_faults(local_azure: LocalAzureProcess) -> Iterator[LocalAzureProcess]:
    """Gives a test the fault knobs, and puts them back to defaults afterwards."""
    local_azure.reset_faults()
    yield local_azure
    local_azure.reset_faults()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AZURE_CORE_DISABLE_TRACING", "1")
