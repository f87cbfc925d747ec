"""A TCP proxy on 127.0.0.1 that forwards to Azurite and holds the first request whose bytes match.

Lets a test stop an instance at one precise storage step (e.g. the identity row's insert, right after
ACS answered a create) and kill -9 it there, without any test hook in the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class HoldingProxy:
    def __init__(self, upstream_port: int, marker: bytes) -> None:
        self._upstream = upstream_port
        self._marker = marker
        self.held = threading.Event()
        self._armed = True
        self._loop = asyncio.new_event_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, sock=self._listener))
        self._loop.run_forever()
        server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:
            writer.close()
            return

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

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
