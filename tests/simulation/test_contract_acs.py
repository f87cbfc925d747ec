"""One contract, two backends: `AcsModel` and `AcsGateway` on local_azure answer every call the same way.

The faults are local_azure's own knobs (/_local/faults) on the real side and the model's weather on the
other. Where the two cannot agree by construction it is said: local_azure drops a connection BEFORE the
operation; the model also loses responses AFTER the operation (as real ACS can), asserted on the model
alone. A kill in the model is its weather raising CancelledError at the point the simulator chose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.identity.aio import ManagedIdentityCredential

from local_azure.process import LocalAzureProcess
from tests.simulation.acs_model import PREFIX, AcsModel
from tests.simulation.weather import Calm, Fault
from token_service.acs.gateway import AcsGateway
from token_service.errors import IdentityNotFound, InvalidRequest, UpstreamThrottled, UpstreamUnavailable

SUFFIX = "0000000a-1234-5678-9abc-def012345678"


class Knobs(Calm):
    """The model's weather for this suite: a fault per operation, until cleared."""

    def __init__(self) -> None:
        self.faults: dict[str, Fault] = {}
        self.kill_after: str | None = None

    async def before(self, service: str, op: str) -> Fault | None:
        await asyncio.sleep(0)
        return self.faults.get(op) or self.faults.get("*")

    async def after(self, service: str, op: str) -> Fault | None:
        if op == self.kill_after:
            raise asyncio.CancelledError  # the caller's instance died with ACS's answer on the wire
        return None


@dataclass
class AcsBackend:
    acs: AcsGateway | AcsModel
    unknown_id: str
    local: LocalAzureProcess | None
    knobs: Knobs | None

    def fault(self, kind: str, op: str = "*") -> None:
        if self.local is not None:
            changes: dict[str, Any] = {
                "throttle": {"rate_limits": {op: {"limit": 0, "window_seconds": 30}}},
                "503": {"error_rate": 1.0, "error_status": 503},
                "404": {"error_rate": 1.0, "error_status": 404},
                "drop": {"drop_rate": 1.0},
            }[kind]
            self.local.set_faults(**changes)
        else:
            assert self.knobs is not None
            fault = {"throttle": Fault.THROTTLED, "503": Fault.UNAVAILABLE, "404": Fault.NOT_FOUND}.get(kind)
            self.knobs.faults[op] = fault or Fault.UNAVAILABLE  # a drop before the call: nothing happened

    def calm(self) -> None:
        if self.local is not None:
            self.local.reset_faults()
        elif self.knobs is not None:
            self.knobs.faults.clear()


@pytest.fixture(params=["model", "local_azure"])
async def acs(request: pytest.FixtureRequest) -> AsyncIterator[AcsBackend]:
    if request.param == "model":
        knobs = Knobs()
        yield AcsBackend(AcsModel(lambda: datetime.now(UTC), knobs), PREFIX + SUFFIX, None, knobs)
        return
    local: LocalAzureProcess = request.getfixturevalue("acs_faults")
    credential = ManagedIdentityCredential()
    gateway = AcsGateway(local.settings.acs_endpoint, credential, max_retry_after=0, retry_total=1)
    backend = AcsBackend(gateway, f"8:acs:{local.settings.acs_resource_id}_{SUFFIX}", local, None)
    yield backend
    local.reset_faults()
    await gateway.close()
    await credential.close()


async def test_create_issue_revoke_delete(acs: AcsBackend) -> None:
    bare, none = await acs.acs.create_identity(None, None)
    assert bare.startswith("8:acs:") and "_" in bare and none is None
    acs_id, token = await acs.acs.create_identity(["voip"], 60)
    assert acs_id != bare and token is not None and token.token
    expires = datetime.fromisoformat(token.expires_on)
    assert timedelta(minutes=55) < expires - datetime.now(UTC) <= timedelta(minutes=61)
    issued = await acs.acs.issue_token(acs_id, ["chat"], None)
    assert issued.token and datetime.fromisoformat(issued.expires_on) > datetime.now(UTC) + timedelta(hours=23)
    await acs.acs.revoke_tokens(acs_id)
    assert (await acs.acs.issue_token(acs_id, ["chat"], 60)).token  # revoked, not deleted: it still issues
    await acs.acs.delete_identity(acs_id)
    for call in (
        acs.acs.issue_token(acs_id, ["chat"], 60),
        acs.acs.revoke_tokens(acs_id),
        acs.acs.delete_identity(acs_id),
    ):
        with pytest.raises(IdentityNotFound):  # 404 after delete, for every operation
            await call
    await acs.acs.delete_identity(bare)


async def test_unknown_and_malformed_ids(acs: AcsBackend) -> None:
    with pytest.raises(IdentityNotFound):
        await acs.acs.issue_token(acs.unknown_id, ["chat"], 60)
    with pytest.raises(IdentityNotFound):
        await acs.acs.revoke_tokens(acs.unknown_id)
    with pytest.raises(InvalidRequest):
        await acs.acs.revoke_tokens("8:acs:not-this-resource_x")


async def test_throttled_with_retry_after(acs: AcsBackend) -> None:
    acs_id, _ = await acs.acs.create_identity(None, None)
    acs.fault("throttle", "issue")
    with pytest.raises(UpstreamThrottled) as throttled:
        await acs.acs.issue_token(acs_id, ["chat"], 60)
    assert throttled.value.retry_after is not None and throttled.value.retry_after >= 1
    await acs.acs.revoke_tokens(acs_id)  # other operations are not throttled
    acs.calm()
    assert (await acs.acs.issue_token(acs_id, ["chat"], 60)).token
    await acs.acs.delete_identity(acs_id)


@pytest.mark.parametrize("kind", ["503", "drop"])
async def test_unavailable(acs: AcsBackend, kind: str) -> None:
    acs_id, _ = await acs.acs.create_identity(None, None)
    acs.fault(kind)
    for call in (acs.acs.issue_token(acs_id, ["chat"], 60), acs.acs.revoke_tokens(acs_id)):
        with pytest.raises(UpstreamUnavailable):
            await call
    acs.calm()
    await acs.acs.delete_identity(acs_id)  # the failed calls changed nothing: it is still there


async def test_a_spurious_404_leaves_the_identity_live(acs: AcsBackend) -> None:
    acs_id, _ = await acs.acs.create_identity(None, None)
    acs.fault("404")
    with pytest.raises(IdentityNotFound):
        await acs.acs.revoke_tokens(acs_id)
    acs.calm()
    assert (await acs.acs.issue_token(acs_id, ["chat"], 60)).token
    await acs.acs.delete_identity(acs_id)


async def test_a_create_whose_caller_hung_up(acs: AcsBackend) -> None:
    """Its caller gone while ACS works on it, the create still finishes: an identity nobody learned of.
    (local_azure's server does not cancel a handler whose client left, as real ACS need not.)"""
    if acs.local is not None:
        before = len(acs.local.identities(live_only=True))
        acs.local.set_faults(latency_ms=1000)
        call = asyncio.ensure_future(acs.acs.create_identity(None, None))
        await asyncio.sleep(0.3)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        acs.local.reset_faults()
        await asyncio.sleep(1.5)
        assert len(acs.local.identities(live_only=True)) == before + 1
    else:
        assert isinstance(acs.acs, AcsModel) and acs.knobs is not None
        before = len(acs.acs.live_ids())
        acs.knobs.kill_after = "create"  # the simulator's kill after ACS applied the create
        with pytest.raises(asyncio.CancelledError):
            await acs.acs.create_identity(None, None)
        assert len(acs.acs.live_ids()) == before + 1


async def test_model_only_a_lost_answer_after_the_operation() -> None:
    """local_azure drops connections before the operation; real ACS may lose an answer after it."""
    model = AcsModel(lambda: datetime.now(UTC))
    await model.create_identity(None, None)

    class LoseDeletes(Calm):
        async def after(self, service: str, op: str) -> Fault | None:
            return Fault.LOST if op == "delete" else None

    model.weather = LoseDeletes()
    (orphan,) = model.live_ids()
    with pytest.raises(UpstreamUnavailable):
        await model.delete_identity(orphan)
    assert model.live_ids() == set()
