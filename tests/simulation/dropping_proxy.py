"""A TCP proxy on 127.0.0.1 that forwards to a local service and loses one response after the fact.

When armed with a marker, the first request whose bytes contain it is forwarded; once the service has
answered (the request took effect), the client's connection is closed without the answer. This is the
"lost response after the write happened" of the contract suite, shown on the real service.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class DroppingProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream = upstream_port
        self._marker: bytes | None = None
        self.dropped = 0
        self._loop = asyncio.new_event_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # listening before the constructor returns: no refused first connection
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def arm(self, marker: bytes) -> None:
        self._marker = marker

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(asyncio.start_server(self._serve, sock=self._listener))
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:
            writer.close()
            return
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

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
