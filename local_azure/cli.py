"""Command line of `python -m local_azure`: parses flags into a Config."""

from __future__ import annotations

import argparse
import ipaddress
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_azure.acs.faults import OPERATIONS

_RATE = re.compile(r"^(?P<op>[a-z]+)=(?P<count>\d+)/(?P<seconds>\d+(\.\d+)?)$")


@dataclass(frozen=True)
class Config:
    data_dir: Path | None = None
    settings_file: Path | None = None
    host: str = "127.0.0.1"
    acs_port: int = 0
    local_port: int = 0
    issuer_port: int = 0
    spa_redirect_uris: tuple[str, ...] = ()
    latency_ms: float = 0
    rate_limits: dict[str, dict[str, float]] = field(default_factory=dict)
    error_rate: float = 0.0
    drop_rate: float = 0.0
    mi_token_lifetime: int = 3600

    def initial_faults(self) -> dict[str, Any]:
        """The knob changes the flags ask for, in the PUT /_local/faults shape."""
        changes: dict[str, Any] = {"latency_ms": self.latency_ms, "error_rate": self.error_rate,
                                   "drop_rate": self.drop_rate}  # fmt: skip
        if self.rate_limits:
            changes["rate_limits"] = self.rate_limits
        return changes


def _rate_limit(value: str) -> tuple[str, dict[str, float]]:
    match = _RATE.match(value.strip())
    if not match or match["op"] not in OPERATIONS:
        raise argparse.ArgumentTypeError(f"expected OP=COUNT/SECONDS with OP in {', '.join(OPERATIONS)}; got {value!r}")
    return match["op"], {"limit": int(match["count"]), "window_seconds": float(match["seconds"])}


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError("must be within [0, 1]")
    return number


def _loopback(value: str) -> str:
    try:
        loopback = value == "localhost" or ipaddress.ip_address(value).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise argparse.ArgumentTypeError("local_azure binds to loopback addresses only")
    return value


def _loopback_uri(value: str) -> str:
    """Redirect URIs point at loopback pages only: the issuer sends codes there."""
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or parsed.hostname is None:
        raise argparse.ArgumentTypeError(f"expected an http(s) URI; got {value!r}")
    _loopback(parsed.hostname)
    return value


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m local_azure",
        description="Local stand-ins for ACS Identity (HTTPS), managed identity and a dev OIDC issuer.",
    )
    parser.add_argument("--data-dir", type=Path, help="state, keys and CA (default: a temporary dir)")
    parser.add_argument("--settings-file", type=Path, help="where to write settings (default: DATA_DIR/settings.json)")
    parser.add_argument("--host", type=_loopback, default="127.0.0.1")
    parser.add_argument("--acs-port", type=int, default=0, help="HTTPS port of the ACS stand-in (0: free port)")
    parser.add_argument("--local-port", type=int, default=0, help="HTTP port of MSI and issuer (0: free port)")
    parser.add_argument(
        "--issuer-port", type=int, default=0, help="HTTPS port of the dev sign-in issuer (0: free port)"
    )
    parser.add_argument(
        "--spa-redirect-uri",
        action="append",
        type=_loopback_uri,
        default=[],
        metavar="URI",
        help="a redirect URI of the demo SPA client (repeatable; default: /demo/ on ports 7071 and 7072)",
    )
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every ACS data-plane call")
    parser.add_argument(
        "--rate-limit",
        action="append",
        type=_rate_limit,
        default=[],
        metavar="OP=COUNT/SECONDS",
        help=f"per-operation limit; OP in {', '.join(OPERATIONS)}; repeatable",
    )
    parser.add_argument("--error-rate", type=_fraction, default=0.0, help="share of calls answered 503")
    parser.add_argument("--drop-rate", type=_fraction, default=0.0, help="share of calls whose connection is dropped")
    parser.add_argument("--mi-token-lifetime", type=int, default=3600, help="managed identity token lifetime (s)")
    args = parser.parse_args(argv)
    if args.mi_token_lifetime < 1:
        parser.error("--mi-token-lifetime must be at least 1")
    return Config(
        data_dir=args.data_dir,
        settings_file=args.settings_file,
        host=args.host,
        acs_port=args.acs_port,
        local_port=args.local_port,
        issuer_port=args.issuer_port,
        spa_redirect_uris=tuple(args.spa_redirect_uri),
        latency_ms=args.latency_ms,
        rate_limits=dict(args.rate_limit),
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        mi_token_lifetime=args.mi_token_lifetime,
    )
