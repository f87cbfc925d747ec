"""The operator's routes, in process against real local_azure and Azurite, on a private registry table
with a movable clock: listing and search with paging, the cleanup preview, erasing a user."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.function_app.clocked import NOW, OLD, ClockedRuntime, clocked_runtime
from tests.function_app.harness import Caller, new_user, user_key
from token_service.registry import IdentityState, owner_id
from token_service.services import build_services, reset_services
from token_service.settings import Settings


@dataclass
class Ops(ClockedRuntime):
    async def list_page(self, **params: str) -> Any:
        return await self.caller.call(
            "list_identities", "GET", "identities", token=self.caller.admin_token(), params=params
        )

    async def all_pages(self, **params: str) -> tuple[list[str], int]:
        ids: list[str] = []
        pages = 0
        continuation: str | None = params.pop("continuation", None)
        while True:
            query = {**params, **({"continuation": continuation} if continuation else {})}
            reply = await self.list_page(**query)
            assert reply.status == 200, reply.body
            pages += 1
            ids += [item["communicationUserId"] for item in reply.json["items"]]
            continuation = reply.json["continuation"]
            if continuation is None:
                return ids, pages


@pytest.fixture
async def ops(caller: Caller, app_environment: dict[str, str]) -> AsyncIterator[Ops]:
    yield Ops(*await clocked_runtime(app_environment, "operator"), caller)


async def test_list_filters_and_pages_with_table_continuations(ops: Ops) -> None:
    old_users = {new_user(): None for _ in range(3)}
    old = [await ops.user_identity(user_key(oid), OLD) for oid in old_users]
    recent = [await ops.user_identity(user_key(new_user()), NOW - timedelta(days=1)) for _ in range(2)]
    admin_made = await ops.admin_identity(NOW - timedelta(days=10))
    everything = set(old) | set(recent) | {admin_made}

    ids, pages = await ops.all_pages(pageSize="2")
    assert sorted(ids) == sorted(everything) and len(ids) == len(set(ids))
    assert pages >= 3  # really paged, two at a time

    stale, _ = await ops.all_pages(lastActivityBefore=(NOW - timedelta(days=30)).isoformat())
    assert set(stale) == set(old)
    fresh, _ = await ops.all_pages(lastActivityAfter=(NOW - timedelta(days=2)).isoformat())
    assert set(fresh) == set(recent)
    created, _ = await ops.all_pages(
        createdAfter=(NOW - timedelta(days=11)).isoformat(), createdBefore=(NOW - timedelta(days=9)).isoformat()
    )
    assert created == [admin_made]
    owner = next(iter(old_users))
    mine = await ops.list_page(owner=user_key(owner))
    assert [item["communicationUserId"] for item in mine.json["items"]] == [old[0]]
    assert mine.json["items"][0]["owner"] == owner_id(user_key(owner))  # a one-way hash, never the key

    await ops.runtime.admin.delete(recent[0], "admin-request")
    deleted, _ = await ops.all_pages(state="deleted")
    assert deleted == [recent[0]]
    active, _ = await ops.all_pages(state="active", pageSize="200")
    assert set(active) == everything - {recent[0]}


async def test_a_continuation_is_bound_to_its_filters(ops: Ops) -> None:
    for _ in range(3):
        await ops.admin_identity(NOW)
    first = await ops.list_page(pageSize="1", state="active")
    token = first.json["continuation"]
    assert token
    other = await ops.list_page(pageSize="1", continuation=token)
    assert (other.status, other.json["code"]) == (400, "invalid_continuation")
    same = await ops.list_page(pageSize="1", state="active", continuation=token)
    assert same.status == 200 and same.json["items"][0] != first.json["items"][0]
    # A forged token with the right fingerprint but keys this registry never writes: refused, not sent on.
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    payload["t"] = {"PartitionKey": "x' or 1 eq 1", "RowKey": "a"}
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    reply = await ops.list_page(state="active", continuation=forged)
    assert (reply.status, reply.json["code"]) == (400, "invalid_continuation")


async def test_a_continuation_without_a_next_row_key_resumes_at_its_partition(ops: Ops) -> None:
    """Table Storage may continue with NextPartitionKey alone (azure-data-tables: RowKey None); Azurite
    never sends one but takes one, resuming at the start of that partition, as the service documents.
    Made here from a real continuation of this listing, its row key dropped."""
    days = [NOW - timedelta(days=n) for n in (3, 2, 1)]
    made = [await ops.admin_identity(day) for day in days for _ in range(2)]
    window = {"createdAfter": (NOW - timedelta(days=4)).isoformat(), "pageSize": "1"}
    first = await ops.list_page(**window)
    assert first.status == 200 and first.json["continuation"], first.body
    token = first.json["continuation"]
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert set(payload["t"]) == {"PartitionKey", "RowKey"}  # a real one: Azurite's own encoding of the keys
    payload["t"]["RowKey"] = None
    partition_only = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    ids, pages = await ops.all_pages(**window, continuation=partition_only)
    assert sorted(ids) == sorted(made) and pages >= 6  # from the start of the first day's partition


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"sate": "active"}, "unknown_field"),
        ({"state": "gone"}, "invalid_request"),
        ({"pageSize": "0"}, "invalid_request"),
        ({"pageSize": "201"}, "invalid_request"),
        ({"pageSize": "ten"}, "invalid_request"),
        ({"pageSize": "\u0665\u0660"}, "invalid_request"),  # Arabic-Indic 50: int() takes it, the schema does not
        ({"pageSize": "\uff11"}, "invalid_request"),  # fullwidth 1
        ({"pageSize": "+5"}, "invalid_request"),
        ({"pageSize": "5 "}, "invalid_request"),
        ({"createdAfter": "2026-01-01T00:00:00." + "1" * 3000 + "Z"}, "invalid_request"),
        ({"createdAfter": "2026-01-01T00:00:00.1234567891Z"}, "invalid_request"),  # ten fraction digits
        ({"createdAfter": "2026-01-01 00:00:00Z"}, "invalid_request"),  # RFC 3339's ABNF: T, not a space
        ({"createdAfter": "2026-01-01T00:00:00.\u0665Z"}, "invalid_request"),
        ({"lastActivityBefore": "\u0662026-01-01T00:00:00Z"}, "invalid_request"),
        ({"continuation": "not base64!"}, "invalid_continuation"),
        ({"continuation": "bm90IGpzb24"}, "invalid_continuation"),
        ({"createdAfter": "yesterday"}, "invalid_request"),
        ({"createdAfter": "2026-01-01T00:00:00"}, "invalid_request"),
        ({"owner": "alice"}, "invalid_user_key"),
        ({"owner": "sub:https://evil.example/:alice"}, "invalid_user_key"),
    ],
)
async def test_bad_listing_queries_are_400_problems(ops: Ops, params: dict[str, str], code: str) -> None:
    reply = await ops.list_page(**params)
    assert reply.status == 400, reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json["code"] == code


FUNCTION_KEY = "a-function-key-" + uuid.uuid4().hex  # the host checked it; the app only sees it pass by


@pytest.mark.parametrize(
    ("name", "method", "route", "params", "status"),
    [
        ("list_identities", "GET", "identities", {"code": FUNCTION_KEY}, 200),
        ("list_identities", "GET", "identities", {"pageSize": "1", "code": FUNCTION_KEY}, 200),
        ("preview_cleanup", "GET", "cleanup/preview", {"code": FUNCTION_KEY}, 200),
        ("metrics_snapshot", "GET", "metrics", {"code": FUNCTION_KEY}, 200),
        ("erase_user_identities", "POST", "users/erase", {"code": FUNCTION_KEY}, 204),
    ],
)
async def test_the_function_key_in_code_is_accepted_on_every_operator_route(
    ops: Ops, name: str, method: str, route: str, params: dict[str, str], status: int
) -> None:
    """`?code=` is how Azure's function URLs carry the key (docs/devhost.md); the host passes it on in
    the query string, so a route that refuses unknown parameters must still take it, and never echo it."""
    body = {"userKey": user_key(new_user())} if route == "users/erase" else None
    reply = await ops.caller.call(name, method, route, token=ops.caller.admin_token(), params=params, body=body)
    assert reply.status == status, reply.body
    assert FUNCTION_KEY not in reply.body.decode()
    typo = await ops.caller.call(
        name, method, route, token=ops.caller.admin_token(), params={**params, "cdoe": "x"}, body=body
    )
    if name != "erase_user_identities":  # that route reads no query (the host ignores what it does not know)
        assert (typo.status, typo.json["code"]) == (400, "unknown_field"), typo.body
        assert FUNCTION_KEY not in typo.body.decode()


@pytest.mark.parametrize(
    "moment", ["2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "2026-01-01T00:00:00.123456789+02:00"]
)
async def test_rfc3339_date_times_are_accepted(ops: Ops, moment: str) -> None:
    reply = await ops.list_page(createdAfter=moment, pageSize="200")
    assert reply.status == 200, reply.body


async def test_operator_routes_need_the_admin_role(ops: Ops) -> None:
    user = ops.caller.user_token(new_user())
    for name, method, route, body in [
        ("list_identities", "GET", "identities", None),
        ("preview_cleanup", "GET", "cleanup/preview", None),
        ("erase_user_identities", "POST", "users/erase", {"userKey": user_key(new_user())}),
    ]:
        reply = await ops.caller.call(name, method, route, token=user, body=body)
        assert (reply.status, reply.json["code"]) == (403, "forbidden")
        reply = await ops.caller.call(name, method, route, body=body)
        assert reply.status == 401


async def test_cleanup_preview_is_what_the_run_then_does_and_changes_nothing(ops: Ops) -> None:
    stale = {await ops.user_identity(user_key(new_user()), OLD - timedelta(days=n)) for n in range(3)}
    stale.add(await ops.admin_identity(OLD))
    fresh = await ops.user_identity(user_key(new_user()), NOW - timedelta(days=1))
    live_before = {identity["id"] for identity in ops.caller.local_azure.identities(live_only=True)}

    reply = await ops.caller.call("preview_cleanup", "GET", "cleanup/preview", token=ops.caller.admin_token())
    assert reply.status == 200, reply.body
    body = reply.json
    assert body["staleCount"] == 4 and body["wouldTake"] == 4 and body["pendingDeletions"] == 0
    assert {c["communicationUserId"] for c in body["candidates"]} == stale
    assert all(datetime.fromisoformat(c["lastActivity"]) < NOW - timedelta(days=30) for c in body["candidates"])
    assert {identity["id"] for identity in ops.caller.local_azure.identities(live_only=True)} == live_before
    for acs_id in stale:
        record = await ops.runtime.registry.get_identity(acs_id)
        assert record is not None and record.state == IdentityState.ACTIVE
    refused = await ops.caller.call(
        "preview_cleanup", "GET", "cleanup/preview", token=ops.caller.admin_token(), params={"all": "1"}
    )
    assert (refused.status, refused.json["code"]) == (400, "unknown_field")

    summary = await ops.runtime.cleanup(dry_run=False).run()
    assert summary.deleted == body["wouldTake"]
    record = await ops.runtime.registry.get_identity(fresh)
    assert record is not None and record.state == IdentityState.ACTIVE


async def test_metrics_count_what_happened_and_carry_no_user_key_or_token(ops: Ops) -> None:
    from token_service.telemetry.metrics import ALLOWED_ATTRIBUTES, attributes_in

    def value(snapshot: dict[str, Any], name: str, **attributes: Any) -> float:
        total = 0.0
        for metric in snapshot["metrics"]:
            if metric["name"] != name:
                continue
            for point in metric["points"]:
                if all(point["attributes"].get(k) == v for k, v in attributes.items()):
                    total += point.get("value", point.get("count", 0))
        return total

    async def snapshot() -> dict[str, Any]:
        reply = await ops.caller.call("metrics_snapshot", "GET", "metrics", token=ops.caller.admin_token())
        assert reply.status == 200, reply.body
        return dict(reply.json)

    before = await snapshot()
    oid = "metrics-" + uuid.uuid4().hex
    token = ops.caller.user_token(oid)
    first = await ops.caller.call("issue_user_token", "POST", "token", token=token)
    second = await ops.caller.call("issue_user_token", "POST", "token", token=token)
    assert (first.status, second.status) == (201, 200)
    acs_id = first.json["communicationUserId"]
    await ops.runtime.admin.delete(acs_id, "admin-request")
    ops.caller.local_azure.set_faults(rate_limits={"issue": {"limit": 0, "window_seconds": 30}})
    try:
        admin_made, _ = await ops.runtime.admin.create_identity(None)
        throttled = await ops.caller.call(
            "issue_identity_token", "POST", "identities/{id}/token", token=ops.caller.admin_token(),
            route_params={"id": admin_made.acs_id},
        )  # fmt: skip
        assert throttled.status == 429
    finally:
        ops.caller.local_azure.reset_faults()
    after = await snapshot()

    def grew(name: str, **attributes: Any) -> float:
        return value(after, name, **attributes) - value(before, name, **attributes)

    assert grew("acs_token_service.tokens.issued", function="issue_user_token") == 2
    assert grew("acs_token_service.identities.created", client="request") == 2
    assert grew("acs_token_service.identities.deleted", client="request") == 1
    assert grew("acs_token_service.acs.calls", operation="issue", outcome="429") >= 1
    assert grew("acs_token_service.http.requests", function="issue_identity_token", status=429) == 1
    text = json.dumps(after)
    for secret in (oid, user_key(oid), token, first.json["token"], second.json["token"], acs_id):
        assert secret not in text
    assert attributes_in(after) <= ALLOWED_ATTRIBUTES


async def test_tokens_issued_counts_each_token_handed_out_by_its_route(ops: Ops) -> None:
    """The README's row: `function` on every token route; create_identity only when it made a token; a
    refused request hands out none."""
    from tests.function_app.conftest import TEAMS_APP_ID

    def issued() -> dict[str, float]:
        counts: dict[str, float] = {}
        for metric in ops.runtime.telemetry.snapshot()["metrics"]:
            if metric["name"] == "acs_token_service.tokens.issued":
                for point in metric["points"]:
                    counts[point["attributes"]["function"]] = point["value"]
        return counts

    admin = ops.caller.admin_token()
    before = issued()
    bare = await ops.caller.call("create_identity", "POST", "identities", token=admin)
    with_token = await ops.caller.call("create_identity", "POST", "identities", token=admin, body={"scopes": ["voip"]})
    assert (bare.status, "token" in bare.json, with_token.status, "token" in with_token.json) == (201, False, 201, True)
    route = {"id": bare.json["communicationUserId"]}
    reissued = await ops.caller.call(
        "issue_identity_token", "POST", "identities/{id}/token", token=admin, route_params=route
    )
    refused = await ops.caller.call(
        "issue_identity_token", "POST", "identities/{id}/token", token=admin, route_params=route,
        body={"scopes": ["chat.join"]},
    )  # fmt: skip
    assert (reissued.status, refused.status) == (200, 400)
    user = new_user()
    teams = ops.caller.local_azure.settings.teams_audience
    entra = ops.caller.local_azure.mint_user_token(user, oid=user, aud=teams, appid=TEAMS_APP_ID)
    exchanged = await ops.caller.call(
        "exchange_teams_token", "POST", "token/teams", token=ops.caller.user_token(user),
        headers={"X-Teams-Token": entra},
    )  # fmt: skip
    assert exchanged.status == 200, exchanged.body
    after = issued()
    grown = {name: value - before.get(name, 0) for name, value in after.items() if value != before.get(name, 0)}
    assert grown == {"create_identity": 1, "issue_identity_token": 1, "exchange_teams_token": 1}


async def test_our_rate_limit_is_counted(ops: Ops, app_environment: dict[str, str]) -> None:
    settings = Settings.from_env(
        {**app_environment, "TOKEN_RATE_PER_MINUTE": "1", "REGISTRY_TABLE": "ratelim" + uuid.uuid4().hex[:8]}
    )
    services = build_services(settings)
    await reset_services(services)

    def limited() -> float:
        for metric in services.telemetry.snapshot()["metrics"]:
            if metric["name"] == "acs_token_service.http.rate_limited":
                return float(sum(point["value"] for point in metric["points"]))
        return 0.0

    before = limited()
    token = ops.caller.user_token(new_user())
    statuses = [(await ops.caller.call("issue_user_token", "POST", "token", token=token)).status for _ in range(2)]
    assert statuses == [201, 429]
    assert limited() - before == 1
