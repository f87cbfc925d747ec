"""Network audit for the telemetry tests: Python imports this module at start-up when this directory is on
PYTHONPATH (tests/telemetry puts it there for the app it starts, and only then).

With NETAUDIT_FILE set, an audit hook (PEP 578) appends one line per socket connection, datagram or DNS
lookup whose host is not loopback: `<pid> <event> <host>`. The test reads the file: empty means the process
reached nothing but 127.0.0.1 (an IMDS probe, statsbeat or OneSettings would each leave a line).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from typing import Any

_FILE = os.environ.get("NETAUDIT_FILE")
_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname"})


def _host(event: str, args: tuple[Any, ...]) -> str | None:
    if event in ("socket.connect", "socket.sendto"):
        address = args[1]
        return str(address[0]) if isinstance(address, tuple) and address else None  # AF_UNIX paths: not network
    host = args[0]
    return host.decode() if isinstance(host, bytes) else None if host is None else str(host)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS or _FILE is None:
        return
    host = _host(event, args)
    if host is not None and not _loopback(host):
        with open(_FILE, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {event} {host}\n")


if _FILE:
    sys.addaudithook(_hook)
