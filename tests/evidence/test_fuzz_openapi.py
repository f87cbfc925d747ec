"""Fuzzing: schemathesis against the running devhost's own /api/openapi.json, as a user and as an admin.

Every operation is fuzzed with positive and negative data, under both roles, with all of
schemathesis's response checks (no 5xx, status code, content type, headers and body conformance,
negative data rejected, positive data accepted). Positive cases are pointed at real identities and
real Teams tokens often enough that success paths are fuzzed too, not only validation errors.
Afterwards ACS (a private local_azure, so every identity in it came from this run) and the registry
must agree: no orphan identity, no ghost row, no broken user mapping.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from requests.structures import CaseInsensitiveDict
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import ignored_auth

from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from tests.evidence.harness import Devhost, UserLedger, agreement, mint, start_devhost, start_local_azure

ADMIN_PATHS = ("/identities", "/cleanup", "/users", "/metrics")
CASES_PER_RUN = 70  # per operation x role x generation mode; small spaces (no parameters) end sooner
MIN_TOTAL_CASES = 2000
USERS = [f"fuzz-user-{n}" for n in range(6)]
ADMIN = "fuzz-admin"
TEAMS_APP_ID = "00000000-0000-0000-0000-00000000a99e"  # local.settings.sample.json


@dataclass
class FuzzState:
    """Identities the fuzzer can point path parameters at, and what each user was last given."""

    devhost: Devhost
    local_azure: LocalAzureProcess
    http: requests.Session
    tokens: dict[str, str]
    teams_tokens: dict[str, str]
    live: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    ledger: UserLedger = field(default_factory=UserLedger)
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    targeted: Counter[str] = field(default_factory=Counter)
    failures: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}", "x-functions-key": self.devhost.function_key}

    def replenish(self, minimum: int = 6) -> None:
        """Keep a few live admin-made identities around (DELETE cases use them up)."""
        while len(self.live) < minimum:
            response = self.http.post(
                self.devhost.base_url + "/api/identities", json={"scopes": ["voip"]}, headers=self.headers(ADMIN),
                timeout=30,
            )  # fmt: skip
            assert response.status_code == 201, response.text
            self.live.append(response.json()["communicationUserId"])

    def observe(self, user: str, case: schemathesis.Case, response: schemathesis.Response) -> None:
        """Track identities and users from what the service answered."""
        status = response.status_code
        operation = case.operation.label
        self.statuses[f"{operation} {status}"] += 1
        path_id = (case.path_parameters or {}).get("id")
        if operation == "POST /token" and status in (200, 201):
            self.ledger.token(user, response.json()["communicationUserId"])
        elif operation == "DELETE /me" and status == 204:
            self.ledger.deleted_self(user)
        elif operation == "POST /identities" and status == 201:
            self.live.append(response.json()["communicationUserId"])
        elif operation == "DELETE /identities/{id}" and status == 204 and isinstance(path_id, str):
            self.ledger.identity_deleted(path_id)
            if path_id in self.live:
                self.live.remove(path_id)
            self.deleted.append(path_id)


def _pick(case: schemathesis.Case, salt: str, n: int) -> int:
    """A choice derived from the generated data, so Hypothesis replays stay deterministic."""
    material = repr((case.operation.label, case.path_parameters, case.headers, case.query, case.body, salt))
    return int(hashlib.sha256(material.encode()).hexdigest()[:8], 16) % n


def realistic(case: schemathesis.Case, state: FuzzState, user: str) -> None:
    """Point positive cases at identities that exist and Teams tokens that verify.

    Any string matching the id pattern is valid to the schema, but nearly all of them are unknown
    (404); without this, success responses would rarely be generated and checked.
    """
    if case.meta is None or case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    if case.path_parameters and "id" in case.path_parameters:
        choice = _pick(case, "id", 10)
        if choice < 7:
            state.replenish()
            case.path_parameters["id"] = state.live[_pick(case, "live", len(state.live))]
            state.targeted["live identity"] += 1
        elif choice < 9 and state.deleted:
            case.path_parameters["id"] = state.deleted[_pick(case, "deleted", len(state.deleted))]
            state.targeted["deleted identity"] += 1
    if case.operation.label == "GET /identities" and case.query and "continuation" in case.query:
        # Any string of the token alphabet is valid to the schema, but only tokens this service made
        # (for the same filters) are accepted; paging with real tokens is tested in tests/function_app.
        del case.query["continuation"]
    if case.operation.label == "POST /token/teams" and _pick(case, "teams", 2):
        headers = case.headers if case.headers is not None else CaseInsensitiveDict()
        headers["X-Teams-Token"] = state.teams_tokens[user]
        case.headers = headers
        state.targeted["valid Teams token"] += 1


def host_key_check(response: schemathesis.Response) -> bool:
    """The host's own 401 (bare, no body) for a request that carried no function key.

    Negative generation also negates the `functionKey` security scheme (the key left out); the host
    then answers before the app runs, as the Functions host does. Its status is asserted; its (empty)
    body is not the app's documented problem+json.
    """
    sent = response.request.headers
    return response.status_code == 401 and not response.content and "x-functions-key" not in sent


def header(response: schemathesis.Response, name: str) -> str:
    values = response.headers.get(name.lower()) or [""]
    return values[0]


def check_auth_required(state: FuzzState, case: schemathesis.Case, headers: dict[str, str]) -> list[str]:
    """What schemathesis's `ignored_auth` checks, split by lock.

    `ignored_auth` re-sends with no credentials at all; for the admin routes that reaches the host's
    function-key check first, whose 401 has no body (as the Functions host's), and then fails the
    content-type checks against the app's documented problem+json. So each lock is tested alone:
    without the bearer token the app itself must answer 401 problem+json with WWW-Authenticate; on an
    admin route, without the function key the host must answer 401.
    """
    if case.operation.label == "GET /health":
        return []
    problems = []
    without_bearer = {name: value for name, value in headers.items() if name != "Authorization"}
    response = case.call(session=state.http, headers=without_bearer, timeout=30)
    if response.status_code != 401:
        problems.append(f"no bearer -> {response.status_code}")
    elif not header(response, "Content-Type").startswith("application/problem+json"):
        problems.append("no bearer -> 401 without problem+json")
    elif not header(response, "WWW-Authenticate"):
        problems.append("no bearer -> 401 without WWW-Authenticate")
    if case.operation.label.split(" ", 1)[1].startswith(ADMIN_PATHS):
        without_key = {name: value for name, value in headers.items() if name != "x-functions-key"}
        response = case.call(session=state.http, headers=without_key, timeout=30)
        if response.status_code != 401:
            problems.append(f"no function key -> {response.status_code}")
    return problems


@pytest.fixture(scope="module")
def fuzz_stack(
    tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path, azurite: AzuriteProcess
) -> Iterator[tuple[Devhost, LocalAzureProcess]]:
    """A private local_azure (so every identity in it is this run's) and the devhost with the real app."""
    tmp = tmp_path_factory.mktemp("fuzz")
    local_azure = start_local_azure(tmp / "local_azure", artifacts_dir / "local_azure-fuzz.log")
    try:
        devhost = start_devhost(
            tmp / "devhost", artifacts_dir, local_azure, azurite, "fuzz",
            extra_env={"TOKEN_RATE_PER_MINUTE": "100000", "TEAMS_APP_ID": TEAMS_APP_ID},
        )  # fmt: skip
        try:
            yield devhost, local_azure
        finally:
            devhost.stop()
    finally:
        local_azure.stop()


def run_operation(
    state: FuzzState,
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    role: str,
    user_for: Callable[[schemathesis.Case], str],
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=CASES_PER_RUN,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # failures are collected, not shrunk
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        user = user_for(case)
        realistic(case, state, user)
        state.cases[f"{role}/{mode.value}"] += 1
        headers = state.headers(user)
        response = case.call(session=state.http, headers=headers, timeout=30)
        state.observe(user, case, response)
        if host_key_check(response):
            state.statuses["host: 401 without function key"] += 1
            return
        try:
            case.validate_response(
                response,
                headers=headers,
                transport_kwargs={"session": state.http, "headers": headers, "timeout": 30},
                excluded_checks=[ignored_auth],  # replaced by check_auth_required (see there)
            )
        except FailureGroup as failures:
            for failure in failures.exceptions:
                label = f"{case.operation.label} [{response.status_code}]"
                key = f"{role} {mode.value} {label} {failure.code} {failure.title}"
                state.failures[key] = state.failures.get(key, 0) + 1
                state.examples.setdefault(key, str(failures)[:3000])
        if mode == schemathesis.GenerationMode.POSITIVE and _pick(case, "auth", 3) == 0:
            for problem in check_auth_required(state, case, headers):
                key = f"{role} {mode.value} {case.operation.label} auth: {problem}"
                state.failures[key] = state.failures.get(key, 0) + 1

    try:
        fuzz()
    except Unsatisfiable:
        pass  # nothing to negate: an operation without parameters or body has no negative cases


HOSTILE_BODIES = {
    "nested 1000 deep": b'{"scopes":' + b"[" * 1000 + b"]" * 1000 + b"}",
    "nested 33 deep": b'{"scopes":' + b"[" * 33 + b"]" * 33 + b"}",
    "16 KiB string": b'{"scopes":["' + b"v" * (16 * 1024 - 20) + b'"]}',
}
HOSTILE_IDS = {
    "7 KiB id": "8:acs:" + "0" * 36 + "_" + "a" * 7000,  # under the host's 8 KB request line: the app answers
    "unicode id": "8:acs:" + "\u00e9" * 36 + "_x",
    "gcch id": "8:gcch-acs:" + "a" * 36 + "_x",
}

HOSTILE_HEADERS = {  # an Entra token with many groups is served; past the host's 32 KB, a bare 431
    "16 KiB bearer": {"Authorization": "Bearer eyJ" + "HOSTILE" * 2340},
    "40 KiB header": {"X-Padding": "HOSTILE" * 5850},
}
SAMPLE_ID = "8:acs:" + "0" * 36 + "_" + "0" * 36


def hostile_inputs(state: FuzzState, operations: list[schemathesis.APIOperation]) -> None:
    """What generators rarely reach: deep nesting, long and foreign ids, oversized headers. The rule is
    schemathesis's own: every answer is recorded in `state.statuses`, and any 5xx there fails the test."""
    for operation in operations:
        path = operation.path
        for role in (USERS[0], ADMIN):
            headers = {**state.headers(role), "Content-Type": "application/json"}
            ids = HOSTILE_IDS if "{id}" in path else {"": ""}
            for header_name, extra in HOSTILE_HEADERS.items():
                url = state.devhost.base_url + "/api" + path.replace("{id}", urllib.parse.quote(SAMPLE_ID, safe=""))
                response = state.http.request(operation.method.upper(), url, headers={**headers, **extra}, timeout=30)
                state.cases["hostile"] += 1
                state.statuses[f"{operation.method.upper()} {path} {response.status_code}"] += 1
                status = response.status_code
                assert status < 500 and "HOSTILE" not in response.text, (header_name, status)
                assert (status == 431) == ("X-Padding" in extra), (header_name, status)
            for id_name, acs_id in ids.items():
                url = state.devhost.base_url + "/api" + path.replace("{id}", urllib.parse.quote(acs_id, safe=""))
                bodies = HOSTILE_BODIES if operation.method.upper() in ("POST", "PUT") else {"no body": b""}
                for body_name, body in bodies.items():
                    response = state.http.request(operation.method.upper(), url, data=body, headers=headers, timeout=30)
                    state.cases["hostile"] += 1
                    label = f"{operation.method.upper()} {path} {response.status_code}"
                    state.statuses[label] += 1
                    assert response.status_code < 500, (id_name, body_name, label, response.text[:300])
                    if operation.label == "DELETE /me" and response.status_code == 204:
                        state.ledger.deleted_self(role)  # a hostile case may still be a valid call


def test_fuzz_openapi_as_user_and_admin(
    fuzz_stack: tuple[Devhost, LocalAzureProcess], azurite: AzuriteProcess, artifacts_dir: Path
) -> None:
    devhost, local_azure = fuzz_stack
    started = time.monotonic()
    tokens = {user: mint(local_azure, user) for user in USERS}
    tokens[ADMIN] = mint(local_azure, ADMIN, admin=True)
    teams_audience = local_azure.settings.teams_audience
    teams_tokens = {
        user: local_azure.mint_user_token(user, oid=user, aud=teams_audience, appid=TEAMS_APP_ID) for user in tokens
    }
    schema = schemathesis.openapi.from_url(devhost.base_url + "/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    # Every route of the table but /openapi.json itself, which schemathesis leaves out.
    assert len(operations) == 13, [operation.label for operation in operations]

    with requests.Session() as http:
        state = FuzzState(devhost, local_azure, http, tokens, teams_tokens)
        state.replenish()
        roles: dict[str, Callable[[schemathesis.Case], str]] = {
            "user": lambda case: USERS[_pick(case, "user", len(USERS))],
            "admin": lambda case: ADMIN,
        }
        for role, user_for in roles.items():
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                for operation in operations:
                    run_operation(state, operation, mode, role, user_for)

        hostile_inputs(state, operations)

    elapsed = time.monotonic() - started
    total = sum(state.cases.values())
    found = agreement(local_azure, azurite.connection_string, devhost.table)
    summary = {
        "total_cases": total,
        "cases": dict(state.cases),
        "pointed_at_real_data": dict(state.targeted),
        "responses": dict(sorted(state.statuses.items())),
        "failures": state.failures,
        "seconds": round(elapsed, 1),
        "live_identities_after": len(found.live_in_acs),
        "registry_problems": found.problems(),
        "lost_user_mappings": state.ledger.lost(found),
    }
    (artifacts_dir / "fuzz-openapi-cases.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nfuzz-openapi: {total} cases in {elapsed:.1f}s ({dict(state.cases)})")

    if state.examples:
        report = "\n\n".join(f"{key}\n{example}" for key, example in state.examples.items())
        (artifacts_dir / "fuzz-openapi-failures.txt").write_text(report)
    assert state.failures == {}, json.dumps(state.failures, indent=1) + "\n\n" + "\n\n".join(state.examples.values())
    assert total >= MIN_TOTAL_CASES, summary["cases"]
    assert [key for key in state.statuses if key.rsplit(" ", 1)[-1].startswith("5")] == []
    assert found.problems() == {}, found.problems()
    assert state.ledger.lost(found) == {}
    # Success paths were exercised, not only validation errors.
    for label in ("POST /token 201", "POST /identities 201", "POST /identities/{id}/token 200",
                  "POST /identities/{id}/revoke 204", "DELETE /identities/{id} 204", "GET /identities/{id} 200",
                  "DELETE /me 204", "POST /token/teams 200", "GET /identities 200",
                  "GET /cleanup/preview 200", "POST /users/erase 204", "GET /metrics 200"):  # fmt: skip
        assert state.statuses[label] > 0, (label, summary["responses"])
