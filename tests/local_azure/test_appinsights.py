"""The Application Insights ingestion stand-in (local_azure/appinsights.py), over HTTPS, as the service answers."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from local_azure.entra.mi_tokens import COMMUNICATION, MONITOR
from local_azure.process import LocalAzureProcess


def envelope(ikey: str, name: str = "acs_token_service.tokens.issued") -> dict[str, Any]:
    return {
        "name": "Microsoft.ApplicationInsights.Metric",
        "time": "2026-01-01T00:00:00.000000Z",
        "iKey": ikey,
        "tags": {},
        "data": {"baseType": "MetricData", "baseData": {"ver": 2, "metrics": [{"name": name, "value": 1}]}},
    }


def call(
    local_azure: LocalAzureProcess, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        local_azure.settings.acs_endpoint + path,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=30, context=local_azure.ssl_context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def track(local_azure: LocalAzureProcess, items: Any, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return call(local_azure, "/v2.1/track", json.dumps(items).encode(), headers)


def mi_token(local_azure: LocalAzureProcess, resource: str) -> str:
    query = urllib.parse.urlencode(
        {
            "api-version": "2019-08-01",
            "resource": resource,
            "client_id": local_azure.settings.managed_identity_client_id,
        }
    )
    request = urllib.request.Request(
        f"{local_azure.settings.identity_endpoint}?{query}",
        headers={"X-IDENTITY-HEADER": local_azure.settings.identity_header},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


@pytest.fixture
def ikey() -> str:
    return str(uuid.uuid4())


def test_key_only_batch_is_accepted_and_kept(local_azure: LocalAzureProcess, ikey: str) -> None:
    assert track(local_azure, [envelope(ikey), envelope(ikey)]) == (
        200,
        {"itemsReceived": 2, "itemsAccepted": 2, "errors": []},
    )
    [batch] = local_azure.appinsights_batches(ikey)
    assert (batch["status"], batch["authenticated"], batch["client_id"], batch["ikeys"]) == (200, False, None, [ikey])
    assert batch["envelopes"] == [envelope(ikey), envelope(ikey)]
    assert local_azure.appinsights_batches(str(uuid.uuid4())) == []  # filtered by key


def test_monitor_token_of_the_managed_identity(local_azure: LocalAzureProcess, ikey: str) -> None:
    local_azure.set_appinsights_resource(ikey, disable_local_auth=True)
    # The scope azure-identity is given by the exporter: "https://monitor.azure.com//.default".
    token = mi_token(local_azure, "https://monitor.azure.com/")
    assert track(local_azure, [envelope(ikey)], token)[0] == 200
    [batch] = local_azure.appinsights_batches(ikey)
    client_id = local_azure.settings.managed_identity_client_id
    assert (batch["authenticated"], batch["client_id"], batch["audience"]) == (True, client_id, MONITOR)


@pytest.mark.parametrize("kind", ["communication audience", "not a JWT", "basic scheme"])
def test_a_wrong_credential_is_refused_even_where_keys_suffice(
    local_azure: LocalAzureProcess, ikey: str, kind: str
) -> None:
    headers = {
        "communication audience": {"Authorization": f"Bearer {mi_token(local_azure, COMMUNICATION)}"},
        "not a JWT": {"Authorization": "Bearer not-a-token"},
        "basic scheme": {"Authorization": "Basic dXNlcjpwYXNz"},
    }[kind]
    status, body = call(local_azure, "/v2.1/track", json.dumps([envelope(ikey)]).encode(), headers)
    assert status == 401
    assert body["itemsAccepted"] == 0 and [e["statusCode"] for e in body["errors"]] == [401]
    assert "eyJ" not in json.dumps(body)  # the reason never echoes the token
    [batch] = local_azure.appinsights_batches(ikey)
    assert (batch["status"], batch["authenticated"], batch["envelopes"]) == (401, False, [])


def test_local_auth_disabled_refuses_key_only(local_azure: LocalAzureProcess, ikey: str) -> None:
    local_azure.set_appinsights_resource(ikey, disable_local_auth=True)
    status, body = track(local_azure, [envelope(ikey)])
    assert status == 401 and body["itemsReceived"] == 1 and body["itemsAccepted"] == 0
    local_azure.set_appinsights_resource(ikey, disable_local_auth=False)
    assert track(local_azure, [envelope(ikey)])[0] == 200


def test_partial_acceptance_and_bad_bodies(local_azure: LocalAzureProcess, ikey: str) -> None:
    broken = {**envelope(ikey), "iKey": "not-a-guid"}
    status, body = track(local_azure, [envelope(ikey), broken, 7])
    assert status == 206 and (body["itemsReceived"], body["itemsAccepted"]) == (3, 1)
    assert [(e["index"], e["statusCode"]) for e in body["errors"]] == [(1, 400), (2, 400)]
    assert track(local_azure, [broken])[0] == 400
    assert call(local_azure, "/v2.1/track", b"{not json")[0] == 400
    assert [b["status"] for b in local_azure.appinsights_batches(ikey)] == [206]


def test_gzip_and_the_doubled_slash_of_a_trailing_slash_endpoint(local_azure: LocalAzureProcess, ikey: str) -> None:
    body = gzip.compress(json.dumps([envelope(ikey)]).encode())
    assert call(local_azure, "/v2.1/track", body, {"Content-Encoding": "gzip"})[0] == 200
    # IngestionEndpoint=https://host/ + "/v2.1/track", as the exporter joins them.
    assert call(local_azure, "//v2.1/track", json.dumps([envelope(ikey)]).encode())[0] == 200
    assert len(local_azure.appinsights_batches(ikey)) == 2


def test_resource_knob_validation(local_azure: LocalAzureProcess, ikey: str) -> None:
    url = f"{local_azure.settings.acs_endpoint}/_local/appinsights/resources/"
    with pytest.raises(urllib.error.HTTPError) as bad_key:
        local_azure.request("PUT", url + "not-a-guid", {"disable_local_auth": True})
    assert bad_key.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as bad_value:
        local_azure.request("PUT", url + ikey, {"disable_local_auth": "yes"})
    assert bad_value.value.code == 400
    assert local_azure.request("GET", url + ikey) == {"instrumentation_key": ikey, "disable_local_auth": False}
