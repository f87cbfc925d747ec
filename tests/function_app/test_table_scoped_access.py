"""The app's storage role in Azure is scoped to the registry table, which need not allow creating tables.

Azurite shows the same shape with a SAS scoped to one table: row operations pass, creating a table is
refused with 403. The registry must keep serving (the deployment created the table), not answer 503.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from azure.core.credentials import AzureNamedKeyCredential, AzureSasCredential
from azure.data.tables import TableSasPermissions, generate_table_sas
from azure.data.tables.aio import TableServiceClient

from local_azure.azurite import DEV_ACCOUNT, DEV_ACCOUNT_KEY, AzuriteProcess
from token_service.registry.table import CLIENT_OPTIONS, Table


def test_a_table_scoped_grant_that_cannot_create_tables_still_reads_and_writes_rows(
    azurite: AzuriteProcess,
) -> None:
    asyncio.run(_check(azurite))


async def _check(azurite: AzuriteProcess) -> None:
    name = f"scoped{uuid.uuid4().hex[:12]}"
    async with TableServiceClient.from_connection_string(azurite.connection_string) as owner:
        await owner.create_table(name)
    sas = generate_table_sas(
        AzureNamedKeyCredential(DEV_ACCOUNT, DEV_ACCOUNT_KEY),
        name,
        permission=TableSasPermissions(read=True, add=True, update=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    endpoint = f"http://{azurite.host}:{azurite.table_port}/{DEV_ACCOUNT}"
    service = TableServiceClient(endpoint, credential=AzureSasCredential(sas), **CLIENT_OPTIONS)
    table = Table(service.get_table_client(name), service)
    try:
        etag = await table.create({"PartitionKey": "p", "RowKey": "r", "value": 1})
        await table.merge({"PartitionKey": "p", "RowKey": "r", "value": 2}, etag)
        row = await table.get("p", "r")
        assert row is not None and row["value"] == 2
    finally:
        await table.close()
