"""A TCP proxy on 127.0.0.1 that forwards to a local service and loses one response after the fact.

When armed with a marker, the first request whose bytes contain it is forwarded; once the service has
answered (the request took effect), the client's connection is closed without the answer. This is the
"lost response after the write happened" of the contract suite, shown on the real service.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.tcp_proxy import LoopbackProxy


class DroppingProxy(LoopbackProxy):
    def __init__(self, upstream_port: int) -> None:
        self._marker: bytes | None = None
        self.dropped = 0
        super().__init__(upstream_port)

    def arm(self, marker: bytes) -> None:
        self._marker = marker

    async def relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        dropping = asyncio.Event()

        async def requests() -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    if self._marker is not None and self._marker in data:
                        self._marker = None
                        dropping.set()
                    up_writer.write(data)
                    await up_writer.drain()

        async def responses() -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await up_reader.read(65536):
                    if dropping.is_set():  # the service answered: the write happened; the caller never learns
                        self.dropped += 1
                        writer.transport.abort()
                        up_writer.transport.abort()
                        return
                    writer.write(data)
                    await writer.drain()

        await asyncio.gather(requests(), responses())
        writer.close()
        up_writer.close()
