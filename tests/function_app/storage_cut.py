"""A TCP proxy on 127.0.0.1 in front of Azurite that fails storage at one precise write.

It forwards everything until a request's bytes contain `marker`; that request's connection is then
dropped. `times` such requests are dropped (the SDK retries a dropped request: 10 outlast its tries,
then `restore()`); with `sever`, every later request is dropped too, until `restore()` (storage gone from that
write on). No test hook in the app: the registry's own client meets a real broken connection.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.tcp_proxy import LoopbackProxy


class StorageCut(LoopbackProxy):
    def __init__(self, upstream_port: int, marker: bytes, *, times: int = 10, sever: bool = False) -> None:
        self._marker = marker
        self._left = times
        self._sever = sever
        self.severed = False
        self.dropped = 0
        super().__init__(upstream_port)

    def table_connection_string(self, connection_string: str, table_port: int) -> str:
        """Azurite's connection string with its table endpoint pointed at this proxy."""
        return connection_string.replace(f"127.0.0.1:{table_port}", f"127.0.0.1:{self.port}")

    def restore(self) -> None:
        self.severed = False
        self._left = 0

    def _drops(self, data: bytes) -> bool:
        if self.severed:
            return True
        if self._left > 0 and self._marker in data:
            self._left -= 1
            self.severed = self._sever
            return True
        return False

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
                    if inspect and self._drops(data):
                        self.dropped += 1
                        break
                    dst.write(data)
                    await dst.drain()
            dst.close()
            writer.close()
            up_writer.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))
