"""FailFastCredential in front of a small real AsyncTokenCredential that fails or succeeds on demand.

The inner credential is a test double of our own dependency interface (azure-core's AsyncTokenCredential
protocol), not of an SDK; the clock is a function the test moves.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError

from token_service.platform.credential_gate import FailFastCredential

SCOPE = "https://communication.azure.com/.default"
OTHER = "https://storage.azure.com/.default"


class Clock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class ScriptedCredential(AsyncTokenCredential):
    """Answers get_token with a token, or raises while `failing`; records every call that reached it."""

    def __init__(self) -> None:
        self.failing = False
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.closed = False

    async def get_token(
        self, *scopes: str, claims: str | None = None, tenant_id: str | None = None, enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:  # fmt: skip
        self.calls.append((scopes, {"claims": claims, "tenant_id": tenant_id, "enable_cae": enable_cae, **kwargs}))
        if self.failing:
            raise ClientAuthenticationError(message="managed identity endpoint answered 500")
        return AccessToken(f"token-{len(self.calls)}", 4_000_000_000)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> ScriptedCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()


class ScriptedInfoCredential(ScriptedCredential):
    """Also speaks azure-core's AsyncSupportsTokenInfo protocol (get_token_info)."""

    async def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        self.calls.append((scopes, {"options": options}))
        if self.failing:
            raise ClientAuthenticationError(message="managed identity endpoint answered 500")
        return AccessTokenInfo(f"info-{len(self.calls)}", 4_000_000_000)


async def test_success_passes_through_with_its_arguments() -> None:
    inner = ScriptedCredential()
    gate = FailFastCredential(inner, cooldown_seconds=5, monotonic=Clock())
    token = await gate.get_token(SCOPE, tenant_id="t1", enable_cae=True)
    assert token.token == "token-1"
    assert inner.calls == [((SCOPE,), {"claims": None, "tenant_id": "t1", "enable_cae": True})]


async def test_a_failure_is_remembered_for_the_cooldown_then_retried() -> None:
    clock, inner = Clock(), ScriptedCredential()
    gate = FailFastCredential(inner, cooldown_seconds=5, monotonic=clock)
    inner.failing = True
    with pytest.raises(ClientAuthenticationError, match="answered 500"):
        await gate.get_token(SCOPE)
    inner.failing = False  # it recovered, but the gate does not ask yet
    clock.now += 4.9
    with pytest.raises(ClientAuthenticationError, match="cooldown"):
        await gate.get_token(SCOPE)
    assert len(inner.calls) == 1
    clock.now += 0.1
    assert (await gate.get_token(SCOPE)).token == "token-2"
    assert len(inner.calls) == 2


async def test_a_success_clears_the_memory() -> None:
    clock, inner = Clock(), ScriptedCredential()
    gate = FailFastCredential(inner, cooldown_seconds=5, monotonic=clock)
    inner.failing = True
    with pytest.raises(ClientAuthenticationError):
        await gate.get_token(SCOPE)
    clock.now += 5
    inner.failing = False
    await gate.get_token(SCOPE)
    await gate.get_token(SCOPE)  # at once again: no failure remembered
    assert len(inner.calls) == 3


async def test_each_scope_set_is_remembered_apart() -> None:
    inner = ScriptedCredential()
    gate = FailFastCredential(inner, cooldown_seconds=5, monotonic=Clock())
    inner.failing = True
    with pytest.raises(ClientAuthenticationError):
        await gate.get_token(SCOPE)
    inner.failing = False
    assert (await gate.get_token(OTHER)).token == "token-2"
    with pytest.raises(ClientAuthenticationError, match="cooldown"):
        await gate.get_token(SCOPE)


async def test_get_token_info_falls_back_to_get_token_with_the_options() -> None:
    inner = ScriptedCredential()
    gate = FailFastCredential(inner, cooldown_seconds=5, monotonic=Clock())
    info = await gate.get_token_info(SCOPE, options={"tenant_id": "t2", "claims": "c", "enable_cae": True})
    assert (info.token, info.expires_on) == ("token-1", 4_000_000_000)
    assert inner.calls == [((SCOPE,), {"claims": "c", "tenant_id": "t2", "enable_cae": True})]


async def test_get_token_info_uses_the_inner_get_token_info_and_shares_the_memory() -> None:
    clock, inner = Clock(), ScriptedInfoCredential()
    gate = FailFastCredential(inner, cooldown_seconds=5, monotonic=clock)
    assert (await gate.get_token_info(SCOPE)).token == "info-1"
    inner.failing = True
    with pytest.raises(ClientAuthenticationError, match="answered 500"):
        await gate.get_token_info(SCOPE)
    inner.failing = False
    with pytest.raises(ClientAuthenticationError, match="cooldown"):
        await gate.get_token(SCOPE)  # a failure through either method gates both
    assert len(inner.calls) == 2


async def test_closing_the_gate_closes_the_credential() -> None:
    inner = ScriptedCredential()
    async with FailFastCredential(inner) as gate:
        await gate.get_token(SCOPE)
    assert inner.closed
