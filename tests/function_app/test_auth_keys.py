"""Signing-key refresh that degrades gracefully, against real sockets on 127.0.0.1: an issuer that
accepts connections and never answers, one that refuses them, and one that can be switched to hanging.

No timing is asserted except one generous bound; the proofs are counts of connections and refreshes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from local_azure.azurite import free_port
from local_azure.signing import b64url
from tests.function_app.harness import Caller
from token_service.auth.authenticator import CallerAuthenticator
from token_service.auth.keys import KeyRing
from token_service.errors import AuthKeysUnavailable, Unauthenticated
from token_service.services import build_services, reset_services
from token_service.settings import Settings

TIMEOUT = 1.0
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(kid: str) -> dict[str, Any]:
    numbers = KEY.public_key().public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "n": b64url(numbers.n.to_bytes(256, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }


def _token(issuer: str, kid: str = "k1") -> str:
    now = int(time.time())
    claims = {
        "iss": issuer, "aud": "api://t", "oid": "o", "tid": "t", "azp": "c", "scp": "access_as_user",
        "iat": now, "nbf": now, "exp": now + 600,
    }  # fmt: skip
    return jwt.encode(claims, KEY, "RS256", headers={"kid": kid})


@dataclass
class HungServer:
    """Accepts every connection and never answers a byte."""

    port: int
    accepted: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def hung_server() -> AsyncIterator[HungServer]:
    state = HungServer(0)

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.accepted += 1
        await state.release.wait()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    state.port = server.sockets[0].getsockname()[1]
    yield state
    state.release.set()
    server.close()
    await server.wait_closed()


@dataclass
class SwitchableIssuer:
    """A real OIDC issuer (discovery + JWKS over HTTP) that can be told to hang."""

    base: str = ""
    hang: bool = False
    requests: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def issuer(self) -> str:
        return f"{self.base}/tenant/v2.0"


@pytest.fixture
async def switchable() -> AsyncIterator[SwitchableIssuer]:
    state = SwitchableIssuer()

    async def serve(request: web.Request) -> web.Response:
        state.requests += 1
        if state.hang:
            await state.release.wait()
        if request.path.endswith("openid-configuration"):
            return web.json_response({"issuer": state.issuer, "jwks_uri": f"{state.base}/keys"})
        return web.json_response({"keys": [_jwk("k1")]})

    app = web.Application()
    app.router.add_get("/tenant/v2.0/.well-known/openid-configuration", serve)
    app.router.add_get("/keys", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield state
    state.release.set()
    await runner.cleanup()


async def test_hung_issuer_costs_concurrent_callers_one_timeout_not_one_each(hung_server: HungServer) -> None:
    """Cold instance, issuer hung: N concurrent callers share one fetch and all get 503, not 401."""
    issuer = f"http://127.0.0.1:{hung_server.port}/tenant/v2.0"
    auth = CallerAuthenticator([issuer], ["api://t"], keys_timeout_seconds=TIMEOUT)
    headers = {"authorization": f"Bearer {_token(issuer)}"}
    n = 8
    started = time.monotonic()
    results = await asyncio.gather(*(auth.authenticate(headers) for _ in range(n)), return_exceptions=True)
    elapsed = time.monotonic() - started
    assert all(isinstance(r, AuthKeysUnavailable) for r in results), results
    assert all(r.retry_after is not None and r.retry_after >= 1 for r in results)  # type: ignore[union-attr]
    assert hung_server.accepted == 1 and auth.keys.refreshes_started == 1
    assert elapsed < (n - 1) * TIMEOUT, "serialised refreshes would take one timeout per caller"
    # Within the backoff, the next callers are answered at once without touching the issuer again.
    again = await asyncio.gather(*(auth.authenticate(headers) for _ in range(n)), return_exceptions=True)
    assert all(isinstance(r, AuthKeysUnavailable) for r in again)
    assert hung_server.accepted == 1 and auth.keys.refreshes_started == 1


async def test_known_kid_never_waits_for_a_refresh_and_old_keys_outlive_a_failed_one(
    switchable: SwitchableIssuer,
) -> None:
    ring = KeyRing([switchable.issuer], timeout_seconds=TIMEOUT, ttl_seconds=0)  # always stale
    first = await ring.key_for(switchable.issuer, "k1")
    assert ring.refreshes_started == 1 and switchable.requests == 2  # discovery + JWKS
    switchable.hang = True
    keys = await asyncio.gather(*(ring.key_for(switchable.issuer, "k1") for _ in range(10)))
    # Every caller has its key while the background refresh is still hanging on the issuer.
    assert ring._task is not None and not ring._task.done()
    assert all(key is first for key in keys) and ring.refreshes_started == 2
    await asyncio.shield(ring._task)  # the refresh times out...
    assert await ring.key_for(switchable.issuer, "k1") is first  # ...and the old keys are still served
    assert ring.refreshes_started == 2  # backing off: no refresh started within the backoff
    with pytest.raises(AuthKeysUnavailable) as unknown:
        await ring.key_for(switchable.issuer, "k2")  # cannot tell a rotated key from a bad one now
    assert unknown.value.retry_after is not None and unknown.value.retry_after >= 1


async def test_unknown_kid_with_fresh_keys_is_401_and_refreshes_at_most_once_a_minute(
    switchable: SwitchableIssuer,
) -> None:
    ring = KeyRing([switchable.issuer], timeout_seconds=TIMEOUT)
    await ring.key_for(switchable.issuer, "k1")
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await ring.key_for(switchable.issuer, "random-" + uuid.uuid4().hex)
    assert ring.refreshes_started == 1 and switchable.requests == 2


async def test_cold_instance_with_unreachable_issuer_answers_503_with_retry_after(
    caller: Caller, app_environment: dict[str, str]
) -> None:
    """Through the app: connection refused by the issuer is a 503 with a stable code, not a 401."""
    issuer = f"http://127.0.0.1:{free_port()}/tenant/v2.0"  # nothing listens there
    await reset_services(build_services(Settings.from_env({**app_environment, "AUTH_ISSUER": issuer})))
    reply = await caller.call("issue_user_token", "POST", "token", token=_token(issuer))
    assert (reply.status, reply.json["code"]) == (503, "auth_keys_unavailable"), reply.body
    assert int(reply.headers["Retry-After"]) >= 1
