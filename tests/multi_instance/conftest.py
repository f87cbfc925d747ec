"""The module-scoped cluster (cluster.py): the instances start before a test module and stop after it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests.devhost.real_app import RealAppHost, start_real_app
from tests.multi_instance.cluster import DELETE_RATE, INSTANCES, TOKEN_RATE, Cluster


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    artifacts_dir: Path,
    local_azure: LocalAzureProcess,
    azurite: AzuriteProcess,
) -> Iterator[Cluster]:
    tmp = tmp_path_factory.mktemp("multi")
    table = "multi" + uuid.uuid4().hex[:12]
    env = {
        "REGISTRY_TABLE": table,
        "TOKEN_RATE_PER_MINUTE": str(TOKEN_RATE),
        "DELETE_RATE_PER_MINUTE": str(DELETE_RATE),
    }
    hosts: list[RealAppHost] = []
    try:
        for index in range(INSTANCES):
            folder = tmp / f"host{index}"
            folder.mkdir()
            hosts.append(start_real_app(folder, artifacts_dir, local_azure, azurite, f"multi-{index}", env))
        yield Cluster(hosts, local_azure, azurite, table, tmp, artifacts_dir, env)
    finally:
        for running in hosts:
            running.host.stop()
