"""An erasure on one instance racing the user's token calls on the others (issue 21, defect 2).

Three hosts on one Azurite and one local_azure, 300 ms of ACS latency: POST /api/users/erase on host
0 while five token calls of that user run on hosts 1 and 2 (first calls: they create). Once the erasure
answers 204, no identity of that user may be live, and no token it raced may still be valid.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import aiohttp
import pytest

from local_azure.process import LocalAzureProcess
from tests.function_app.harness import user_key
from tests.multi_instance.cluster import Cluster
from token_service.identities.users import ERASURE_SETTLE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

USERS = 10
CALLS = 5
ACS_LATENCY_MS = 300


@dataclass
class Outcome:
    sent: float
    answered: float
    status: int
    acs_id: str | None
    token: str | None


async def erase(cluster: Cluster, session: aiohttp.ClientSession, key: str) -> tuple[int, float]:
    host = cluster.hosts[0]
    headers = {"authorization": f"Bearer {host.admin_token()}", "x-functions-key": host.master_key}
    url = host.base_url + "/api/users/erase"
    async with session.post(url, json={"userKey": key}, headers=headers) as response:
        await response.read()
        return response.status, time.monotonic()


async def test_an_erasure_racing_token_calls_on_other_instances_leaves_nothing_live(
    cluster: Cluster, acs_faults: LocalAzureProcess
) -> None:
    users = [cluster.user() for _ in range(USERS)]
    before = cluster.live_ids()
    acs_faults.set_faults(latency_ms=ACS_LATENCY_MS)
    outcomes: dict[str, list[Outcome]] = {user: [] for user, _ in users}
    erased: dict[str, tuple[int, float]] = {}

    async with aiohttp.ClientSession() as session:

        async def token_call(user: str, token: str, n: int) -> None:
            await asyncio.sleep(0.05 * n)
            sent = time.monotonic()
            reply = await cluster.call(session, 1 + n % 2, "POST", "/api/token", token)
            body = reply.json if isinstance(reply.json, dict) else {}
            outcomes[user].append(
                Outcome(sent, time.monotonic(), reply.status, body.get("communicationUserId"), body.get("token"))
            )
            assert reply.status in (200, 201, 503), (reply.status, reply.json)

        async def erasure(user: str) -> None:
            await asyncio.sleep(0.1)
            erased[user] = await erase(cluster, session, user_key(user))

        await asyncio.gather(
            *(token_call(user, token, n) for user, token in users for n in range(CALLS)),
            *(erasure(user) for user, _ in users),
        )
    acs_faults.reset_faults()

    live = cluster.live_ids()
    assert all(status == 204 for status, _ in erased.values()), erased
    users_with_live = [user for user, _ in users if {o.acs_id for o in outcomes[user]} & live]
    after_204 = [o for user, _ in users for o in outcomes[user] if o.token and o.answered > erased[user][1]]
    valid_after = [o for o in after_204 if cluster.local_azure.check_token(o.token or "")["valid"]]
    issued = [o for user, _ in users for o in outcomes[user] if o.token]
    figures = {
        "users": USERS,
        "users_with_a_live_identity_after_the_204": len(users_with_live),
        "new_live_identities": len(live - before),
        "tokens_issued": len(issued),
        "tokens_answered_after_the_204": len(after_204),
        "of_them_still_valid": len(valid_after),
        "refused_503": sum(o.status == 503 for user, _ in users for o in outcomes[user]),
    }
    (cluster.artifacts / "erasure-race.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nerasure race:", figures)
    assert users_with_live == [], figures
    assert live - before == set(), f"an identity created during an erasure is live: {figures}"
    assert valid_after == [], figures
    for user, _ in users:
        mapping = cluster.mapping_of(user)
        assert mapping is not None and mapping["state"] == "erased", mapping
    # A sign-in after the erasure starts afresh (past the clock-skew allowance).
    await asyncio.sleep(ERASURE_SETTLE.total_seconds() + 0.5)
    async with aiohttp.ClientSession() as session:
        again = [await cluster.call(session, 1, "POST", "/api/token", token) for _, token in users]
    assert [reply.status for reply in again] == [201] * USERS, [reply.json for reply in again]
