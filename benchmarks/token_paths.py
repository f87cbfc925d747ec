"""The request paths the token benchmark drives, and its closed loop (benchmarks/token_issuance.py).

- FunctionPath: an aiohttp client -> a devhost (direct or worker mode) serving the real function_app;
- DirectPath: `CommunicationIdentityClient.get_token` straight to local_azure, with managed identity;
- FloorPath: the same direct call preceded by exactly the storage round trips the app makes per steady
  request (GET of the user's row, one etag-conditional MERGE), from a plain azure-data-tables client.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp

from benchmarks.common import percentile
from local_azure.process import LocalAzureProcess

SCOPES = ["voip"]
MINUTES = 60
MAX_CONNECTIONS = 136  # the highest concurrency measured (128) and a few spare


@dataclass
class User:
    key: str
    bearer: str
    acs_id: str = ""


@dataclass
class Round:
    mode: str
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        p50, p99 = percentile(self.latencies_ms, 50), percentile(self.latencies_ms, 99)
        return f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {self.errors}"


Send = Callable[[User], Awaitable[bool]]


async def closed_loop(mode: str, send: Send, users: list[User], concurrency: int, seconds: float) -> Round:
    """`concurrency` workers issue requests back to back for `seconds`; each request for the next user."""
    result = Round(mode, concurrency, seconds)
    picker = itertools.cycle(users)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            user = next(picker)
            started = time.perf_counter()
            try:
                ok = await send(user)
            except Exception:
                ok = False
            if ok:
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
            else:
                result.errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started  # includes the tail of the last requests
    return result


class FunctionPath:
    """HTTP client for the devhost: one keep-alive pool, as a frontend fleet behind a gateway would reuse."""

    def __init__(self, base_url: str) -> None:
        self._url = base_url + "/api/token"
        self._body = json.dumps({"scopes": SCOPES, "expiresInMinutes": MINUTES}).encode()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS),
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def send(self, user: User) -> bool:
        headers = {"Authorization": f"Bearer {user.bearer}", "Content-Type": "application/json"}
        async with self._session.post(self._url, data=self._body, headers=headers) as response:
            payload = await response.read()
            if response.status == 201 and not user.acs_id:
                user.acs_id = json.loads(payload)["communicationUserId"]
            return response.status in (200, 201)

    async def close(self) -> None:
        await self._session.close()


class DirectPath:
    """The SDK straight to local_azure, with managed identity like the app.

    Its aiohttp session is configured as the app's clients are (token_service.platform.transport): local_azure's
    CA through one SSL context, so connections are kept alive, and proxy settings read from the
    environment only if a proxy variable is set.
    """

    def __init__(self, endpoint: str, ca_file: str) -> None:
        from azure.communication.identity.aio import CommunicationIdentityClient
        from azure.core.pipeline.transport import AioHttpTransport
        from azure.identity.aio import DefaultAzureCredential

        from token_service.platform.transport import proxy_configured

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=ca_file)),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=proxy_configured(),  # the app's rule: per-request proxy lookups only if a proxy is set
        )
        self._credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
        self._client = CommunicationIdentityClient(
            endpoint, self._credential, transport=AioHttpTransport(session=self._session, session_owner=False)
        )

    async def send(self, user: User) -> bool:
        from azure.communication.identity import CommunicationUserIdentifier

        token = await self._client.get_token(
            CommunicationUserIdentifier(user.acs_id), SCOPES, token_expires_in=timedelta(minutes=MINUTES)
        )
        return bool(token.token)

    async def close(self) -> None:
        await self._client.close()
        await self._credential.close()
        await self._session.close()


class FloorPath:
    """The direct SDK call plus the app's per-request storage round trips, from a plain client."""

    TABLE = "benchfloor"

    def __init__(self, direct: DirectPath, connection_string: str) -> None:
        from azure.data.tables.aio import TableServiceClient

        from token_service.platform.transport import proxy_configured

        self._direct = direct
        # Configured as the app's registry client is (registry/table.py): no per-request proxy lookups.
        self._service = TableServiceClient.from_connection_string(
            connection_string, use_env_settings=proxy_configured()
        )
        self._table = self._service.get_table_client(self.TABLE)

    async def prepare(self, users: list[User]) -> None:
        await self._service.create_table_if_not_exists(self.TABLE)
        for user in users:
            await self._table.upsert_entity({"PartitionKey": user.key, "RowKey": user.key, "count": 0})

    async def send(self, user: User) -> bool:
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        entity = await self._table.get_entity(user.key, user.key)
        patch = {"PartitionKey": user.key, "RowKey": user.key, "count": int(entity["count"]) + 1}
        await self._table.update_entity(
            patch, mode=UpdateMode.MERGE, etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified
        )
        return await self._direct.send(user)

    async def close(self) -> None:
        await self._table.close()
        await self._service.close()


async def prepare_users(local_azure: LocalAzureProcess, function: FunctionPath, count: int) -> list[User]:
    """Mint a bearer per user and create each user's identity through the app (201), concurrently."""
    loop = asyncio.get_running_loop()
    keys = [f"bench-user-{i:04d}" for i in range(count)]
    bearers = await asyncio.gather(
        *(loop.run_in_executor(None, functools.partial(local_azure.mint_user_token, k, oid=k)) for k in keys)
    )
    users = [User(key, bearer) for key, bearer in zip(keys, bearers, strict=True)]
    semaphore = asyncio.Semaphore(16)

    async def create(user: User) -> None:
        async with semaphore:
            if not await function.send(user) or not user.acs_id:
                raise RuntimeError(f"could not create the identity of {user.key}")

    await asyncio.gather(*(create(user) for user in users))
    return users
