"""How the app's SDK clients reach the network: TLS trust and proxy settings, decided once per worker.

- TLS: in Azure, system trust. Locally, SSL_CERT_FILE names local_azure's CA. azure-core given
  `connection_verify=<path>` builds a new SSLContext for every request, and aiohttp pools connections
  by context, so every call would open (and handshake) a new TLS connection; `CaBundleTransport` keeps
  one context on its session's connector instead, so connections are kept alive and reused.
- Proxies: azure-core's default (`use_env_settings=True`) makes aiohttp look up proxy variables and
  ~/.netrc on every request, each lookup a hop through a thread pool. The environment of a worker does
  not change while it runs, so it is read once: with no proxy variable set at start, clients skip the
  per-request lookups; with one set, they honour it as before.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import aiohttp
from azure.core.pipeline.transport import AioHttpTransport

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")


def ca_bundle() -> str | None:
    """The CA file from SSL_CERT_FILE, read now rather than when aiohttp was imported.

    aiohttp builds its default TLS context at import; locally (local_azure's CA) the variable may be
    set later than that, so clients are given the file explicitly. Unset in Azure: system trust.
    """
    return os.environ.get("SSL_CERT_FILE") or None


def proxy_configured() -> bool:
    """Whether the environment names a proxy (then clients read proxy settings from it, per request)."""
    return any(os.environ.get(name) for name in PROXY_VARIABLES)


class CaBundleTransport(AioHttpTransport):
    """azure-core's aiohttp transport, trusting a CA file through one SSL context for its lifetime."""

    session: aiohttp.ClientSession | None

    def __init__(self, cafile: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cafile = cafile

    async def open(self) -> None:
        if self.session is None and not self._has_been_opened:
            connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=self._cafile))
            self.session = aiohttp.ClientSession(
                connector=connector,
                trust_env=self._use_env_settings,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
            )
        await super().open()


def transport_options(timeout_seconds: float) -> dict[str, Any]:
    """Keyword arguments for an azure-core client: TLS trust, proxy use and timeouts (a given transport
    carries the timeouts itself)."""
    options: dict[str, Any] = {
        "connection_timeout": timeout_seconds,
        "read_timeout": timeout_seconds,
        "use_env_settings": proxy_configured(),
    }
    cafile = ca_bundle()
    if cafile:
        return {"transport": CaBundleTransport(cafile, **options)}
    return {"connection_verify": True, **options}
