"""The configured issuers' signing keys, found through OIDC discovery and kept fresh without ever making
a request wait on a slow or dead issuer more than once.

- One refresh at a time for all issuers (discovery of issuers not yet resolved, then each distinct
  `jwks_uri` once: issuers naming the same `jwks_uri` share one key set), bounded as a whole by one
  timeout. An issuer's `jwks_uri` is resolved once per instance (Entra's never change).
- Stale-while-revalidate: a key whose `kid` is known is returned at once; past the TTL a refresh
  starts in the background.
- A `kid` nobody knows waits for the refresh in progress (or starts one, at most once a minute after
  a success, so random kids cannot make us hammer the issuer).
- A failed refresh keeps the old keys and backs off (1 s, 2 s, 4 s ... 60 s); until the backoff ends
  nobody starts another, and callers with unknown kids get 503 `auth_keys_unavailable` + Retry-After,
  not 401: the token may be fine, we just cannot check it yet.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import jwt

from token_service.errors import AuthKeysUnavailable, Unauthenticated
from token_service.platform.transport import ca_bundle

TTL_SECONDS = 3600.0
MIN_REFRESH_SECONDS = 60.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
TIMEOUT_SECONDS = 5.0
log = logging.getLogger("token_service.auth")


def discovery_url(issuer: str) -> str:
    """OIDC Discovery 1.0 §4: a terminating '/' of the issuer is removed before the well-known path."""
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class KeyRing:
    """Signing keys per configured issuer (exact `iss` strings)."""

    def __init__(
        self,
        issuers: Sequence[str],
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
        ttl_seconds: float = TTL_SECONDS,
        min_refresh_seconds: float = MIN_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._issuers = tuple(issuers)
        self._timeout = timeout_seconds
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._jwks_uri: dict[str, str] = {}  # issuer -> jwks_uri, from its discovery document
        self._key_sets: dict[str, dict[str, Any]] = {}  # jwks_uri -> kid -> public key
        self._fetched_at: dict[str, float] = {}  # jwks_uri -> last successful fetch
        self._last_success = -math.inf
        self._failures = 0
        self._retry_at = -math.inf
        self._last_failed = False
        self._task: asyncio.Task[None] | None = None
        self.refreshes_started = 0  # how many refreshes began (tests count them)

    async def key_for(self, issuer: str, kid: str) -> Any:
        keys = self._keys(issuer)
        if kid in keys:
            if self._stale(issuer):
                self._start_refresh()  # in the background; this request does not wait
            return keys[kid]
        task = self._task if self._task is not None else self._refresh_for_unknown(issuer)
        if task is not None:
            await asyncio.shield(task)  # a cancelled request must not cancel everyone's refresh
        keys = self._keys(issuer)
        if kid in keys:
            return keys[kid]
        if not keys or self._last_failed:
            raise AuthKeysUnavailable(
                "the token issuer's signing keys cannot be fetched right now; retry shortly",
                retry_after=self.retry_after(),
            )
        raise Unauthenticated("the token's signing key is not one of the issuer's keys")

    def retry_after(self) -> int:
        return max(1, math.ceil(self._retry_at - self._clock()))

    def _keys(self, issuer: str) -> dict[str, Any]:
        uri = self._jwks_uri.get(issuer)
        return self._key_sets.get(uri, {}) if uri else {}

    def _stale(self, issuer: str) -> bool:
        uri = self._jwks_uri.get(issuer)
        return uri is None or self._clock() - self._fetched_at.get(uri, -math.inf) >= self._ttl

    def _refresh_for_unknown(self, issuer: str) -> asyncio.Task[None] | None:
        recently = self._clock() - self._last_success < self._min_refresh
        if recently and self._keys(issuer):
            return None
        return self._start_refresh()

    def _start_refresh(self) -> asyncio.Task[None] | None:
        """The refresh in progress, or a new one unless backing off after a failure."""
        if self._task is not None:
            return self._task
        if self._clock() < self._retry_at:
            return None
        self.refreshes_started += 1
        self._task = asyncio.get_running_loop().create_task(self._run_refresh())
        return self._task

    async def _run_refresh(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                complete = await self._refresh()
        except (TimeoutError, aiohttp.ClientError, ssl.SSLError, OSError):
            complete = False
        except Exception as error:  # never let a background task die unobserved
            log.warning("signing key refresh failed: %s", type(error).__name__)
            complete = False
        finally:
            self._task = None
        now = self._clock()
        if complete:
            self._last_success, self._failures, self._retry_at, self._last_failed = now, 0, -math.inf, False
        else:
            delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2**self._failures)
            self._failures += 1
            self._retry_at, self._last_failed = now + delay, True
            log.warning("signing keys of the token issuer unavailable; next attempt in %.0f s", delay)

    async def _refresh(self) -> bool:
        """Fetch what can be fetched; True when every issuer has fresh keys. Partial results are kept."""
        connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=ca_bundle()))
        async with aiohttp.ClientSession(connector=connector) as session:
            missing = [issuer for issuer in self._issuers if issuer not in self._jwks_uri]
            found = await asyncio.gather(*(self._discover(session, i) for i in missing), return_exceptions=True)
            for issuer, uri in zip(missing, found, strict=True):
                if isinstance(uri, str):
                    self._jwks_uri[issuer] = uri
            uris = sorted({self._jwks_uri[i] for i in self._issuers if i in self._jwks_uri})
            sets = await asyncio.gather(*(_fetch_jwks(session, uri) for uri in uris), return_exceptions=True)
        now = self._clock()
        for uri, keys in zip(uris, sets, strict=True):
            if isinstance(keys, dict):
                self._key_sets[uri], self._fetched_at[uri] = keys, now
        return all(isinstance(s, dict) for s in sets) and len(self._jwks_uri) == len(self._issuers)

    async def _discover(self, session: aiohttp.ClientSession, issuer: str) -> str:
        async with session.get(discovery_url(issuer)) as response:
            response.raise_for_status()
            document = await response.json(content_type=None)
        if not isinstance(document, dict) or document.get("issuer") != issuer:
            # OIDC Discovery §4.3: the document must name exactly the issuer it was fetched for.
            raise ValueError("discovery document names another issuer")
        uri = document.get("jwks_uri")
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
            raise ValueError("discovery document has no jwks_uri")
        return uri


async def _fetch_jwks(session: aiohttp.ClientSession, uri: str) -> dict[str, Any]:
    async with session.get(uri) as response:
        response.raise_for_status()
        jwks = await response.json(content_type=None)
    keys: dict[str, Any] = {}
    for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
        except jwt.PyJWTError:
            continue  # one malformed key must not cost us the others
    if not keys:
        raise ValueError("the JWKS has no usable RSA signing key")
    return keys
