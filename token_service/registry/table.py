"""Table Storage plumbing for the registry: clients, short timeouts, and storage errors as ours.

Every storage call runs inside `storage_errors()`, which turns azure-core's exceptions into
`Conflict` (an etag or existence precondition failed) or `RegistryUnavailable` (503 to the caller).

One precondition convention: a write that carries an etag (or a create, whose precondition is that no
row exists) raises Conflict when the precondition fails, whether the row changed or vanished; a write
without an etag is an upsert and has none. Deleting is idempotent: an absent row counts as deleted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from token_service.errors import RegistryUnavailable
from token_service.platform.transport import proxy_configured

# A request waits for the registry a few seconds at most, then answers 503: short timeouts, two quick retries.
CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 2,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 1,
    "connection_timeout": 3,
    "read_timeout": 10,
}


class Conflict(Exception):
    """An etag or existence precondition failed: someone else changed the row first."""


@contextmanager
def storage_errors() -> Iterator[None]:
    try:
        yield
    except (ResourceModifiedError, ResourceExistsError) as error:
        raise Conflict(type(error).__name__) from error
    except (ServiceRequestError, ServiceResponseError) as error:
        raise RegistryUnavailable("the registry could not be reached", retry_after=5) from error
    except HttpResponseError as error:
        status = error.status_code or 0
        if status in (409, 412):
            raise Conflict(f"precondition failed ({status})") from error
        raise RegistryUnavailable(f"the registry answered {status}", retry_after=5) from error


class Table:
    """Row operations on one table, created on first use. One instance per worker, reused."""

    def __init__(self, table: TableClient, service: TableServiceClient) -> None:
        self._table = table
        self._service = service
        self._ready = False

    @classmethod
    def from_connection_string(cls, connection_string: str, table_name: str) -> Table:
        service = TableServiceClient.from_connection_string(
            connection_string, use_env_settings=proxy_configured(), **CLIENT_OPTIONS
        )
        return cls(service.get_table_client(table_name), service)

    @classmethod
    def from_endpoint(cls, endpoint: str, table_name: str, credential: AsyncTokenCredential) -> Table:
        service = TableServiceClient(
            endpoint, credential=credential, use_env_settings=proxy_configured(), **CLIENT_OPTIONS
        )
        return cls(service.get_table_client(table_name), service)

    async def close(self) -> None:
        await self._table.close()
        await self._service.close()

    async def ensure(self) -> None:
        """Create the table on first use (local runs). In Azure the deployment creates it and the app's
        role is scoped to that one table, which need not include creating tables: a 403 here means "not
        ours to create", and the row operations that follow say whether the table is really there."""
        if self._ready:
            return
        with storage_errors():
            try:
                await self._service.create_table_if_not_exists(self._table.table_name)
            except HttpResponseError as error:
                if error.status_code != 403:
                    raise
        self._ready = True

    async def get(self, partition: str, row: str) -> Any:
        await self.ensure()
        with storage_errors():
            try:
                return await self._table.get_entity(partition, row)
            except ResourceNotFoundError:
                return None

    async def query(self, query: str, parameters: dict[str, Any], page_size: int) -> AsyncIterator[Any]:
        await self.ensure()
        with storage_errors():
            async for entity in self._table.query_entities(query, parameters=parameters, results_per_page=page_size):
                yield entity

    async def query_page(
        self, query: str, parameters: dict[str, Any], page_size: int, continuation: Any, select: list[str] | None
    ) -> tuple[list[Any], Any]:
        """One page of a query and Table Storage's own continuation for the next (None at the end)."""
        await self.ensure()
        with storage_errors():
            pages = self._table.query_entities(
                query, parameters=parameters, results_per_page=page_size, select=select
            ).by_page(continuation_token=continuation)
            try:
                page = await pages.__anext__()
            except StopAsyncIteration:
                return [], None
            rows = [entity async for entity in page]
            return rows, pages.continuation_token  # type: ignore[attr-defined]

    async def create(self, entity: dict[str, Any]) -> str:
        await self.ensure()
        with storage_errors():
            metadata = await self._table.create_entity(entity)
        return str(metadata["etag"])

    async def replace(self, entity: dict[str, Any], etag: str | None) -> str:
        """Replace the row whole (upsert without an etag); the new etag."""
        return await self._write(entity, etag, UpdateMode.REPLACE)

    async def merge(self, patch: dict[str, Any], etag: str | None = None) -> str:
        """Merge fields into the row (upsert without an etag); the new etag."""
        return await self._write(patch, etag, UpdateMode.MERGE)

    async def _write(self, entity: dict[str, Any], etag: str | None, mode: UpdateMode) -> str:
        await self.ensure()
        with storage_errors():
            try:
                if etag is None:
                    metadata = await self._table.upsert_entity(entity, mode=mode)
                else:
                    metadata = await self._table.update_entity(
                        entity, mode=mode, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
            except ResourceNotFoundError as vanished:
                raise Conflict("row vanished") from vanished
        return str(metadata["etag"])

    async def delete(self, partition: str, row: str, etag: str | None = None) -> None:
        """Delete the row if present; with an etag only if unchanged since."""
        await self.ensure()
        with storage_errors():
            try:
                if etag is None:
                    await self._table.delete_entity(partition, row)
                else:
                    await self._table.delete_entity(
                        partition, row, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
            except ResourceNotFoundError:
                return
