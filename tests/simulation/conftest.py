"""Backends for the contract suites: each test runs against the model AND the real service.

real Table = `token_service.registry.Table` on the session's Azurite (through a proxy that can lose
one response); real ACS = `AcsGateway` on the session's local_azure, with its fault knobs.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from local_azure.azurite import AzuriteProcess
from tests.simulation.dropping_proxy import DroppingProxy
from tests.simulation.table_model import TableModel
from token_service.registry import Table


@dataclass
class TableBackend:
    table: Table | TableModel
    name: str
    proxy: DroppingProxy | None  # None for the model: its weather loses responses instead


@pytest.fixture(scope="session")
def azurite_proxy(azurite: AzuriteProcess) -> Iterator[DroppingProxy]:
    proxy = DroppingProxy(azurite.table_port)
    yield proxy
    proxy.close()


@pytest.fixture(params=["model", "azurite"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[TableBackend]:
    if request.param == "model":
        yield TableBackend(TableModel(), "model", None)
        return
    azurite: AzuriteProcess = request.getfixturevalue("azurite")
    proxy: DroppingProxy = request.getfixturevalue("azurite_proxy")
    via_proxy = re.sub(r"TableEndpoint=http://[^:]+:\d+/", f"TableEndpoint=http://127.0.0.1:{proxy.port}/",
                       azurite.connection_string)  # fmt: skip
    table = Table.from_connection_string(via_proxy, "sim" + uuid.uuid4().hex[:12])
    yield TableBackend(table, "azurite", proxy)
    await table.close()
