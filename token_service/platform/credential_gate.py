"""The managed-identity credential behind a short memory of failure, so an outage is answered fast.

azure-core's bearer-token policy fetches a token under one lock per client, and a failing managed
identity endpoint costs seconds per attempt (azure-identity retries it). Without a memory of the
failure every request queued behind that lock makes its own slow attempt, one after another: with the
endpoint answering 500, ten concurrent token calls took up to ~50 s each to get their 503 (fault
matrix, tests/evidence). With it, one attempt per cooldown reaches the endpoint; the requests behind
it fail at once and the caller gets 503 with Retry-After. A success clears the memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError

DEFAULT_COOLDOWN_SECONDS = 5.0


class FailFastCredential:
    """Wraps an async credential: after a failure for some scopes, fails those scopes at once for a while."""

    def __init__(
        self,
        inner: AsyncTokenCredential,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._cooldown = cooldown_seconds
        self._monotonic = monotonic
        self._failed_at: dict[tuple[str, ...], float] = {}

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self._refuse_if_failing(scopes)
        try:
            token = await self._inner.get_token(
                *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
            )
        except Exception:
            self._failed_at[scopes] = self._monotonic()
            raise
        self._failed_at.pop(scopes, None)
        return token

    async def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        self._refuse_if_failing(scopes)
        try:
            get_info = getattr(self._inner, "get_token_info", None)
            if get_info is not None:
                info: AccessTokenInfo = await get_info(*scopes, options=options)
            else:
                given: TokenRequestOptions = options or {}
                token = await self._inner.get_token(
                    *scopes,
                    claims=given.get("claims"),
                    tenant_id=given.get("tenant_id"),
                    enable_cae=given.get("enable_cae", False),
                )
                info = AccessTokenInfo(token.token, token.expires_on)
        except Exception:
            self._failed_at[scopes] = self._monotonic()
            raise
        self._failed_at.pop(scopes, None)
        return info

    def _refuse_if_failing(self, scopes: tuple[str, ...]) -> None:
        failed_at = self._failed_at.get(scopes)
        if failed_at is not None and self._monotonic() - failed_at < self._cooldown:
            raise ClientAuthenticationError(
                message="the managed identity failed moments ago; not asking again until the cooldown ends"
            )

    async def close(self) -> None:
        await self._inner.close()

    async def __aenter__(self) -> FailFastCredential:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()
