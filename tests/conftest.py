"""Session-wide real services: Azurite and local_azure, started once on free ports, stopped by pid."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


class SuiteLogCapture(logging.Handler):
    """Keeps every log line the suite's own process emits, for the secret-hygiene test that runs last."""

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


def pytest_sessionstart(session: pytest.Session) -> None:
    logging.getLogger().addHandler(SUITE_LOGS)
    logging.getLogger("token_service").setLevel(logging.DEBUG)


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
