"""A TCP proxy on 127.0.0.1 that forwards to Azurite and holds the first request whose bytes match.

Lets a test stop an instance at one precise storage step (e.g. the identity row's insert, right after
ACS answered a create) and kill -9 it there, without any test hook in the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.tcp_proxy import LoopbackProxy


class HoldingProxy(LoopbackProxy):
    def __init__(self, upstream_port: int, marker: bytes) -> None:
        self._marker = marker
        self.held = threading.Event()
        self._armed = True
        super().__init__(upstream_port)

    async def relay(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
    ) -> None:
        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, inspect: bool) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if inspect and self._armed and self._marker in data:
                        self._armed = False
                        self.held.set()
                        await asyncio.Event().wait()  # held until the connection dies with its instance
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))
