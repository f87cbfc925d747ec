"""The devhost as a subprocess on a free port, against the fixture app (fixture_host.py) and the real app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests.devhost.fixture_host import RunningHost, start_fixture_host
from tests.devhost.real_app import RealAppHost, start_real_app


@pytest.fixture(scope="module")
def fixture_host(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[RunningHost]:
    tmp = tmp_path_factory.mktemp("devhost")
    running = start_fixture_host(tmp, artifacts_dir, {"OVERRIDDEN": "env"}, "fixture")
    yield running
    running.host.stop()


@pytest.fixture(scope="session")
def real_app_host(
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
    local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
) -> Iterator[RealAppHost]:
    """The devhost serving the real function_app.app (started once for tests/devhost)."""
    running = start_real_app(tmp_path_factory.mktemp("real_app"), artifacts_dir, local_azure, azurite, "real-app")
    yield running
    running.host.stop()
