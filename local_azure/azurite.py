"""Start and stop Azurite (npm package) on loopback for tests and `make run`.

Azurite is the official local emulator for Table and Queue storage; we run the npm build from
node_modules so no global install is needed.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from local_azure.process import stop_process_group

# Azurite's documented development account: public, identical on every machine.
DEV_ACCOUNT = "devstoreaccount1"
DEV_ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free right now (a small race is accepted for local tooling)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Block until something accepts TCP connections on host:port, or raise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@dataclass
class AzuriteProcess:
    """A running Azurite; `stop()` ends exactly the process group we started."""

    process: subprocess.Popen[bytes]
    host: str
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        base = f"http://{self.host}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_ACCOUNT_KEY};"
            f"BlobEndpoint={base}:{self.blob_port}/{DEV_ACCOUNT};"
            f"QueueEndpoint={base}:{self.queue_port}/{DEV_ACCOUNT};"
            f"TableEndpoint={base}:{self.table_port}/{DEV_ACCOUNT};"
        )

    @classmethod
    def start(
        cls,
        data_dir: Path,
        host: str = "127.0.0.1",
        ports: tuple[int, int, int] | None = None,
        log_file: Path | None = None,
    ) -> AzuriteProcess:
        binary = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            raise FileNotFoundError(f"{binary} is missing: run `npm ci` (make install does it)")
        data_dir.mkdir(parents=True, exist_ok=True)
        blob, queue, table = ports or (free_port(host), free_port(host), free_port(host))
        args = [
            str(binary),
            "--disableTelemetry",
            "--silent",
            "--skipApiVersionCheck",
            "--location", str(data_dir),
            "--blobHost", host, "--blobPort", str(blob),
            "--queueHost", host, "--queuePort", str(queue),
            "--tableHost", host, "--tablePort", str(table),
        ]  # fmt: skip
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL
        try:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            if log_file:
                out.close()  # type: ignore[union-attr]  # the child keeps its own copy
        azurite = cls(process, host, blob, queue, table)
        try:
            for port in (blob, queue, table):
                wait_for_port(host, port, timeout=30, process=process)
        except BaseException:
            azurite.stop()
            raise
        return azurite

    def stop(self, timeout: float = 10) -> None:
        stop_process_group(self.process, timeout)
