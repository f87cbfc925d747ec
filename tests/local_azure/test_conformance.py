"""Conformance: schemathesis runs the official 2023-10-01 spec against the stand-in, with both auth styles."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from local_azure.process import LocalAzureProcess

SPEC = (
    Path(__file__).resolve().parent.parent
    / "specs"
    / "identity"
    / "stable"
    / "2023-10-01"
    / "CommunicationIdentity.json"
)
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"mode": "all", "max-examples": 40},
        "parameters": {"api-version": "2023-10-01"},
    }
)
schema = schemathesis.openapi.from_path(SPEC, config=CONFIG)
CASES: Counter[str] = Counter()


class HmacAuth(requests.auth.AuthBase):
    """Signs the prepared request exactly as azure-communication-identity's HMACCredentialsPolicy does."""

    def __init__(self, access_key: str) -> None:
        self._key = base64.b64decode(access_key)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        url = urlsplit(request.url or "")
        path = url.path + (f"?{url.query}" if url.query else "")
        date = email.utils.format_datetime(dt.datetime.now(dt.UTC), usegmt=True)
        content_hash = base64.b64encode(hashlib.sha256(body).digest()).decode()
        to_sign = f"{request.method}\n{path}\n{date};{url.netloc};{content_hash}"
        signature = base64.b64encode(hmac.new(self._key, to_sign.encode(), hashlib.sha256).digest()).decode()
        request.headers["x-ms-date"] = date
        request.headers["x-ms-content-sha256"] = content_hash
        request.headers["Authorization"] = (
            f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"
        )
        return request


@pytest.fixture(scope="module", autouse=True)
def record_case_count(artifacts_dir: Path) -> Iterator[None]:
    """Writes how many cases ran per auth style to test-artifacts/schemathesis-cases.json."""
    CASES.clear()
    yield
    summary = {"cases": dict(CASES), "total": sum(CASES.values()), "spec": str(SPEC.relative_to(SPEC.parents[4]))}
    (artifacts_dir / "schemathesis-cases.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nschemathesis: {summary['total']} cases ({dict(CASES)})")


@pytest.fixture(scope="module", params=["hmac", "managed_identity"])
def session(request: pytest.FixtureRequest, local_azure: LocalAzureProcess) -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.verify = local_azure.settings.ca_cert_file
        if request.param == "hmac":
            http.auth = HmacAuth(local_azure.settings.acs_connection_string.split("accesskey=", 1)[1])
        else:
            token = requests.get(
                local_azure.settings.identity_endpoint,
                params={"api-version": "2019-08-01", "resource": "https://communication.azure.com"},
                headers={"X-IDENTITY-HEADER": local_azure.settings.identity_header},
                timeout=10,
            ).json()["access_token"]
            http.headers["Authorization"] = f"Bearer {token}"
        http.headers["x-auth-style"] = request.param
        yield http


def live_identity(session: requests.Session, base_url: str) -> str:
    response = session.post(f"{base_url}/identities?api-version=2023-10-01", json={}, timeout=10)
    return str(response.json()["identity"]["id"])


def realistic(case: schemathesis.Case, session: requests.Session, local_azure: LocalAzureProcess) -> None:
    """Point positive cases at identities that exist (or are well-formed) and Teams tokens that verify.

    Any string is a schema-valid `id`, but ACS (and the stand-in) answer 400 to malformed ids; without
    this, success responses would rarely be generated and checked. The choice is derived from the
    generated data, so Hypothesis replays stay deterministic.
    """
    if case.meta is None or case.meta.generation.mode != schemathesis.GenerationMode.POSITIVE:
        return
    base_url = local_azure.settings.acs_endpoint
    if case.path_parameters and "id" in case.path_parameters:
        generated = str(case.path_parameters["id"])
        if len(generated) % 3:
            case.path_parameters["id"] = live_identity(session, base_url)
        else:
            resource = local_azure.settings.acs_resource_id
            digest = hashlib.sha256(generated.encode()).hexdigest()
            case.path_parameters["id"] = (
                f"8:acs:{resource}_0000000f-{digest[:4]}-{digest[4:8]}-{digest[8:12]}-{digest[12:24]}"
            )
    if case.path.endswith(":exchangeAccessToken") and isinstance(case.body, dict) and len(str(case.body)) % 2:
        app_id, user_id = str(case.body.get("appId") or "app"), str(case.body.get("userId") or "user")
        case.body = {
            "token": local_azure.mint_user_token(
                user_id, oid=user_id, aud=local_azure.settings.teams_audience, appid=app_id
            ),
            "appId": app_id,
            "userId": user_id,
        }


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None, database=None)
def test_conformance(case: schemathesis.Case, session: requests.Session, local_azure: LocalAzureProcess) -> None:
    mode = case.meta.generation.mode.value if case.meta is not None else "unknown"
    CASES[f"{session.headers['x-auth-style']}/{mode}"] += 1
    realistic(case, session, local_azure)
    case.call_and_validate(
        base_url=local_azure.settings.acs_endpoint,
        session=session,
        # ACS validates more than the schema says (id format, non-empty scope lists): 400 is correct
        # there. Every other check stays on, including response schema conformance.
        excluded_checks=[positive_data_acceptance],
    )
