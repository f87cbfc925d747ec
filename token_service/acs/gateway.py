"""The one place that talks to ACS: the async Identity SDK behind managed identity.

It turns SDK results into plain values and SDK/transport failures into domain errors, so the rest of
the app never sees azure-core exceptions. Retries are azure-core's own policy, with one change:
a Retry-After longer than the caller can wait is passed back (as 429) instead of slept through; and
the create is never retried at all.

A failure of our own credential (the managed identity) and ACS refusing a token look alike to azure-core:
both are ClientAuthenticationError, an HttpResponseError, and the credential's may even carry the managed
identity endpoint's HTTP status. So the gateway hands the SDK its credential behind `_CredentialFailures`,
which marks whatever the credential raises; only a marked error is `credential_unavailable`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from azure.communication.identity import CommunicationUserIdentifier
from azure.communication.identity.aio import CommunicationIdentityClient
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.policies import AsyncRetryPolicy

from token_service.errors import (
    CredentialUnavailable,
    IdentityNotFound,
    InvalidRequest,
    TeamsExchangeRejected,
    UpstreamThrottled,
    UpstreamUnavailable,
)
from token_service.platform.transport import transport_options
from token_service.scalars import retry_after_seconds

T = TypeVar("T")


@dataclass(frozen=True)
class IssuedToken:
    """A token and its expiry exactly as ACS wrote it (ISO 8601, seven fractional digits)."""

    token: str
    expires_on: str


@dataclass(frozen=True)
class AcsCall:
    """What one ACS operation cost; the request log line reports it."""

    operation: str
    duration_ms: float
    outcome: str


class BoundedRetryAfterPolicy(AsyncRetryPolicy):
    """azure-core's retry policy, but never sleeps longer than `max_retry_after` seconds for one retry."""

    def __init__(self, max_retry_after: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._max_retry_after = max_retry_after

    def is_retry(self, settings: dict[str, Any], response: Any) -> bool:
        retry_after = self.get_retry_after(response)
        if retry_after is not None and retry_after > self._max_retry_after:
            return False
        return bool(super().is_retry(settings, response))


class CredentialFailed(ClientAuthenticationError):
    """Our credential could not get a token for ACS: the request never reached ACS."""


class _CredentialFailures:
    """The gateway's credential: the given one, with every failure re-raised as CredentialFailed.

    ClientAuthenticationError keeps azure-core's retry policy from retrying it (a request that cannot
    be authenticated never gets a response), so the mark reaches `_call` unchanged.
    """

    def __init__(self, inner: AsyncTokenCredential) -> None:
        self._inner = inner

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        try:
            return await self._inner.get_token(
                *scopes, claims=claims, tenant_id=tenant_id, enable_cae=enable_cae, **kwargs
            )
        except Exception as error:
            raise CredentialFailed(message=f"credential failed: {type(error).__name__}") from error

    async def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        try:
            get_info = getattr(self._inner, "get_token_info", None)
            if get_info is not None:
                info: AccessTokenInfo = await get_info(*scopes, options=options)
                return info
            given: TokenRequestOptions = options or {}
            token = await self._inner.get_token(
                *scopes,
                claims=given.get("claims"),
                tenant_id=given.get("tenant_id"),
                enable_cae=given.get("enable_cae", False),
            )
            return AccessTokenInfo(token.token, token.expires_on)
        except Exception as error:
            raise CredentialFailed(message=f"credential failed: {type(error).__name__}") from error

    async def close(self) -> None:
        """The owner of the inner credential closes it (it is shared by the worker's gateways)."""

    async def __aenter__(self) -> _CredentialFailures:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def _retry_after_seconds(error: HttpResponseError) -> int:
    headers = getattr(error.response, "headers", None) or {}
    return retry_after_seconds(headers.get("Retry-After") or headers.get("retry-after"))


class AcsGateway:
    """Identity operations against one ACS resource. One instance per worker, reused."""

    def __init__(
        self,
        endpoint: str,
        credential: AsyncTokenCredential,
        *,
        max_retry_after: float = 2.0,
        retry_total: int = 3,
        timeout_seconds: float = 10.0,
        on_call: Callable[[AcsCall], None] | None = None,
    ) -> None:
        policy = BoundedRetryAfterPolicy(
            max_retry_after, retry_total=retry_total, retry_backoff_factor=0.2, retry_backoff_max=2
        )
        self._client = CommunicationIdentityClient(
            endpoint,
            _CredentialFailures(credential),
            retry_policy=policy,
            **transport_options(timeout_seconds),
        )
        self._on_call = on_call

    async def close(self) -> None:
        await self._client.close()

    async def create_identity(
        self, scopes: Sequence[str] | None, minutes: int | None
    ) -> tuple[str, IssuedToken | None]:
        """Create an identity, with a token when scopes are given (one ACS call either way).

        Sent exactly once (`retry_total=0`: no transport retry, not on 5xx, Retry-After or a lost
        response): ACS creates are not idempotent, and every resend may mint an identity nobody records.
        """
        if scopes:
            user, token = await self._call(
                "create",
                self._client.create_user_and_token(
                    list(scopes),
                    token_expires_in=_minutes(minutes),
                    retry_total=0,
                ),
            )
            return user.properties["id"], IssuedToken(token.token, _as_text(token.expires_on))
        user = await self._call("create", self._client.create_user(retry_total=0))
        return user.properties["id"], None

    async def issue_token(self, user_id: str, scopes: Sequence[str], minutes: int | None) -> IssuedToken:
        token = await self._call(
            "issue",
            self._client.get_token(
                CommunicationUserIdentifier(user_id),
                list(scopes),
                token_expires_in=_minutes(minutes),
            ),
        )
        return IssuedToken(token.token, _as_text(token.expires_on))

    async def revoke_tokens(self, user_id: str) -> None:
        await self._call("revoke", self._client.revoke_tokens(CommunicationUserIdentifier(user_id)))

    async def delete_identity(self, user_id: str) -> None:
        await self._call("delete", self._client.delete_user(CommunicationUserIdentifier(user_id)))

    async def exchange_teams_token(self, entra_token: str, app_id: str, user_object_id: str) -> IssuedToken:
        try:
            token = await self._call(
                "exchange", self._client.get_token_for_teams_user(entra_token, app_id, user_object_id)
            )
        except InvalidRequest as error:
            raise TeamsExchangeRejected(error.detail) from error
        return IssuedToken(token.token, _as_text(token.expires_on))

    async def _call(self, operation: str, awaitable: Awaitable[T]) -> T:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await awaitable
        except CredentialFailed as error:  # before HttpResponseError: it is one
            outcome = "credential_error"
            raise CredentialUnavailable("the managed identity could not get a token for ACS", retry_after=5) from error
        except HttpResponseError as error:
            outcome = str(error.status_code)
            raise _domain_error(operation, error) from error
        except (ServiceRequestError, ServiceResponseError) as error:
            outcome = "connection_error"
            raise UpstreamUnavailable(f"ACS {operation}: connection failed", retry_after=5) from error
        finally:
            if self._on_call is not None:
                self._on_call(AcsCall(operation, (time.perf_counter() - started) * 1000, outcome))


def _domain_error(operation: str, error: HttpResponseError) -> Exception:
    status = error.status_code or 0
    code = getattr(getattr(error, "error", None), "code", None) or ""
    if status == 404:
        return IdentityNotFound("the identity does not exist in ACS")
    if status == 429:
        return UpstreamThrottled(f"ACS throttled {operation}", retry_after=_retry_after_seconds(error))
    if status in (401, 403):
        if operation == "exchange":
            return TeamsExchangeRejected(f"ACS rejected the Teams token ({code or status})")
        return CredentialUnavailable(f"ACS rejected our credential ({status})", retry_after=30)
    if status == 400:
        return InvalidRequest(f"ACS rejected the request ({code or 'bad request'})")
    return UpstreamUnavailable(f"ACS {operation} failed ({status})", retry_after=_retry_after_seconds(error))


def _minutes(minutes: int | None) -> timedelta | None:
    return timedelta(minutes=minutes) if minutes is not None else None


def _as_text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return str(value)
