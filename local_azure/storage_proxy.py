"""A counting, delaying pass-through in front of Azurite's Table endpoint (tests and benchmarks).

    python -m local_azure.storage_proxy --target http://127.0.0.1:<azurite table port> [--read-ms 5 --write-ms 8]

Every request is forwarded unchanged (method, path, query, headers, body) and its answer streamed
back, so the storage SDK signs and parses exactly as against Azurite. The proxy counts each request at
the storage endpoint by HTTP method and Table operation kind (`classify`), which is what a round trip
to Table Storage costs, and can hold each request for a fixed time first (reads and writes apart), so a
local run pays round trips as it would in Azure. It binds to 127.0.0.1 only.

Control endpoints, outside any storage path: `GET /_proxy/counts`, `POST /_proxy/reset` (counts to
zero), `PUT /_proxy/delays` with `{"read_ms": N, "write_ms": N}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import subprocess
import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from local_azure.process import stop_process_group

CONTROL_PREFIX = "/_proxy/"
# Hop-by-hop headers (RFC 9110 7.6.1) and the ones aiohttp sets itself for the next hop.
_DROPPED_REQUEST = {"host", "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "content-length"}
_DROPPED_RESPONSE = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length"}
_ENTITY = re.compile(r"^(?P<table>[^/(]+)\((?P<keys>.+)\)$")  # table(PartitionKey='..',RowKey='..')
_WRITES = {"PUT", "PATCH", "MERGE", "DELETE"}


def classify(method: str, raw_path: str, if_match: str | None) -> str:
    """The Table operation a request is, as `"<METHOD> <kind>"`, from the REST shape alone.

    `raw_path` is the path as sent (percent-encoded keys stay encoded, so a `/` inside a key does not
    split it); the last segment is the resource (Azurite prefixes the account, Azure does not). Writes
    of one entity say whether they were conditional: `if-match` (an etag), `upsert` (no If-Match:
    insert-or-replace / insert-or-merge) or nothing (If-Match `*`). The SDK sends merges as PATCH; they
    are named MERGE, the Table operation.
    """
    method = method.upper()
    path = raw_path.split("?", 1)[0].rstrip("/")
    resource = path.rsplit("/", 1)[-1]
    name = unquote(resource).lower()
    if name == "$batch":
        return f"{method} batch"
    if name == "tables" or name.startswith("tables("):
        return f"{method} table" if method != "GET" else "GET tables"
    entity = _ENTITY.match(resource)
    if entity is None:  # `table` or `table()`: the collection
        if method == "GET":
            return "GET query"
        if method == "POST":
            return "POST insert"
        return f"{method} other"
    if method == "GET":
        return "GET entity"
    verb = "MERGE" if method in ("PATCH", "MERGE") else method
    if method not in _WRITES:
        return f"{method} other"
    if if_match is None:
        return f"{verb} upsert" if verb != "DELETE" else "DELETE"
    if if_match.strip() == "*":
        return verb
    return f"{verb} if-match"


@dataclass
class Delays:
    """Milliseconds each request waits before it is forwarded: GETs are reads, the rest writes."""

    read_ms: float = 0.0
    write_ms: float = 0.0

    def for_method(self, method: str) -> float:
        return (self.read_ms if method.upper() in ("GET", "HEAD") else self.write_ms) / 1000


@dataclass
class Counts:
    """Round trips per operation kind, and per kind the statuses answered (a 412 is a round trip too)."""

    kinds: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, kind: str, status: int | str) -> None:
        self.kinds[kind] += 1
        self.statuses.setdefault(kind, Counter())[str(status)] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "kinds": dict(sorted(self.kinds.items())),
            "statuses": {kind: dict(sorted(c.items())) for kind, c in sorted(self.statuses.items())},
            "total": sum(self.kinds.values()),
        }


class StorageProxy:
    """The aiohttp application: control endpoints under /_proxy/, everything else forwarded to `target`."""

    def __init__(self, target: str, delays: Delays) -> None:
        self.target = target.rstrip("/")
        self.delays = delays
        self.counts = Counts()
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)  # a Table batch is at most 4 MiB
        app.router.add_get(CONTROL_PREFIX + "counts", self._counts)
        app.router.add_post(CONTROL_PREFIX + "reset", self._reset)
        app.router.add_put(CONTROL_PREFIX + "delays", self._set_delays)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    async def _open(self, _: web.Application) -> None:
        # No cookie jar, no decompression, no proxy variables: bytes pass through as they came.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _counts(self, _: web.Request) -> web.Response:
        return web.json_response(self.counts.to_json())

    async def _reset(self, _: web.Request) -> web.Response:
        self.counts = Counts()
        return web.json_response(self.counts.to_json())

    async def _set_delays(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            read_ms, write_ms = float(body.get("read_ms", 0)), float(body.get("write_ms", 0))
        except (AttributeError, TypeError, ValueError):
            raise web.HTTPBadRequest(text="body: {read_ms, write_ms} in milliseconds") from None
        if not (0 <= read_ms <= 60_000 and 0 <= write_ms <= 60_000):
            raise web.HTTPBadRequest(text="delays must be between 0 and 60000 ms")
        self.delays = Delays(read_ms, write_ms)
        return web.json_response({"read_ms": read_ms, "write_ms": write_ms})

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        kind = classify(request.method, request.raw_path, request.headers.get("If-Match"))
        delay = self.delays.for_method(request.method)
        if delay:
            await asyncio.sleep(delay)
        body = await request.read()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _DROPPED_REQUEST]
        try:
            upstream = await self._session.request(
                request.method,
                self.target + request.raw_path,
                headers=headers,
                data=body or None,
                allow_redirects=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        except aiohttp.ClientError:
            self.counts.record(kind, "unreachable")
            raise web.HTTPBadGateway(text="storage target unreachable") from None
        async with upstream:
            self.counts.record(kind, upstream.status)
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in _DROPPED_RESPONSE:
                    response.headers.add(name, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(64 * 1024):
                await response.write(chunk)
            await response.write_eof()
            return response


async def serve(target: str, port: int, delays: Delays, host: str = "127.0.0.1") -> None:
    """Run until SIGTERM/SIGINT."""
    runner = web.AppRunner(StorageProxy(target, delays).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"storage proxy on http://{host}:{port} -> {target}", flush=True)
    await stop.wait()
    await runner.cleanup()


@dataclass
class StorageProxyProcess:
    """A running `python -m local_azure.storage_proxy`; `stop()` ends exactly the process group started."""

    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, target: str, delays: Delays | None = None, log_file: Path | None = None) -> StorageProxyProcess:
        from local_azure.azurite import free_port, wait_for_port

        port = free_port()
        delays = delays or Delays()
        args = [sys.executable, "-m", "local_azure.storage_proxy", "--target", target, "--port", str(port)]
        args += ["--read-ms", str(delays.read_ms), "--write-ms", str(delays.write_ms)]
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                args, cwd=Path(__file__).resolve().parent.parent, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        finally:
            if log_file:
                out.close()  # type: ignore[union-attr]  # the child keeps its own copy
        proxy = cls(process, port)
        try:
            wait_for_port("127.0.0.1", port, timeout=30, process=process)
        except BaseException:
            proxy.stop()
            raise
        return proxy

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection_string(self, azurite_connection_string: str) -> str:
        """Azurite's connection string with its TableEndpoint pointed at this proxy (blob, queue direct)."""
        parts = [p for p in azurite_connection_string.split(";") if p and not p.startswith("TableEndpoint=")]
        account = next(p.split("=", 1)[1] for p in parts if p.startswith("AccountName="))
        return ";".join([*parts, f"TableEndpoint={self.url}/{account}"]) + ";"

    def _call(self, method: str, name: str, body: Any = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (our own loopback URL)
            self.url + CONTROL_PREFIX + name, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            result: dict[str, Any] = json.loads(response.read())
        return result

    def counts(self) -> dict[str, Any]:
        """`{"kinds": {"GET entity": n, ...}, "statuses": {kind: {status: n}}, "total": n}`."""
        return self._call("GET", "counts")

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def set_delays(self, delays: Delays) -> None:
        self._call("PUT", "delays", {"read_ms": delays.read_ms, "write_ms": delays.write_ms})

    def stop(self, timeout: float = 10) -> None:
        stop_process_group(self.process, timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_azure.storage_proxy", description=__doc__.split("\n")[0])
    parser.add_argument("--target", required=True, help="Azurite's Table endpoint, http://127.0.0.1:<port>")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--read-ms", type=float, default=0.0, help="delay before each GET is forwarded")
    parser.add_argument("--write-ms", type=float, default=0.0, help="delay before each other request")
    args = parser.parse_args(argv)
    if not args.target.startswith(("http://127.0.0.1:", "http://localhost:")):
        parser.error("--target must be a loopback http URL")
    asyncio.run(serve(args.target, args.port, Delays(args.read_ms, args.write_ms)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
