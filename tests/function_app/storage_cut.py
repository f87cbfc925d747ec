"""A TCP proxy on 127.0.0.1 in front of Azurite that fails storage at one precise write.

It forwards everything until a request's bytes contain `marker`; that request's connection is then
dropped. `times` such requests are dropped (the SDK retries a dropped request: 10 outlast its tries,
then `restore()`); with `sever`, every later request is dropped too, until `restore()` (storage gone from that
write on). No test hook in the app: the registry's own client meets a real broken connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class StorageCut:
    def __init__(self, upstream_port: int, marker: bytes, *, times: int = 10, sever: bool = False) -> None:
        self._upstream = upstream_port
        self._marker = marker
        self._left = times
        self._sever = sever
        self.severed = False
        self.dropped = 0
        self._loop = asyncio.new_event_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        self.port: int = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def table_connection_string(self, connection_string: str, table_port: int) -> str:
        """Azurite's connection string with its table endpoint pointed at this proxy."""
        return connection_string.replace(f"127.0.0.1:{table_port}", f"127.0.0.1:{self.port}")

    def restore(self) -> None:
        self.severed = False
        self._left = 0

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, sock=self._listener))
        self._loop.run_forever()
        server.close()

    def _drops(self, data: bytes) -> bool:
        if self.severed:
            return True
        if self._left > 0 and self._marker in data:
            self._left -= 1
            self.severed = self._sever
            return True
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, inspect: bool) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if inspect and self._drops(data):
                        self.dropped += 1
                        break
                    dst.write(data)
                    await dst.drain()
            dst.close()
            writer.close()
            up_writer.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
