"""Application Insights ingestion stand-in: `POST /v2.1/track`, as azure-monitor-opentelemetry-exporter sends.

Mounted on the ACS stand-in's HTTPS listener rather than a port of its own: the exporter's Entra auth
(azure-core's BearerTokenCredentialPolicy) refuses plain http, and that listener's certificate is already
trusted by every client through local_azure's CA (SSL_CERT_FILE), so a connection string
`IngestionEndpoint=<acs_endpoint>/` works with no extra certificate, port or settings key. The paths do
not meet ACS's (`/v2.1/...`, `/_local/appinsights/...`).

What the exporter sends (azure/monitor/opentelemetry/exporter: `_generated/.../_operations.py`,
`export/_base.py`): a JSON array of envelopes `{name, time, iKey, tags, data: {baseType, baseData}}`,
`Content-Type: application/json` (a gzip `Content-Encoding` is accepted too, as the service does); with a credential,
`Authorization: Bearer <token for https://monitor.azure.com/.default>`. It reads
`{"itemsReceived", "itemsAccepted", "errors": [{"index", "statusCode", "message"}]}` from 200 and 206
(206: some items refused, those with a retryable status are stored and retried); 401/403 make it keep the
batch for a retry, 400 drops it.

Authentication follows the service: a bearer token, when sent, must be a managed-identity token of this
local_azure for the monitor audience (else 401, whatever the resource allows); without one the batch is
accepted on the instrumentation key alone unless the resource has local auth disabled
(`disable_local_auth`, the Application Insights property), then 401. Resources are named by their
instrumentation key and need no creation (any GUID is a resource, local auth allowed).

Batches (accepted or refused) are kept in memory, newest last, for `GET /_local/appinsights/batches`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web

from local_azure.acs.local import LOOPBACK
from local_azure.entra.mi_tokens import MONITOR, MiTokens

TRACK_PATH = "/v2.1/track"
MAX_BATCHES = 2000  # enough for a long `make run`; older batches are forgotten
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Caller:
    """Who sent a batch: Entra-authenticated (with the token's client id and audience) or by key only."""

    authenticated: bool
    client_id: str | None = None
    audience: str | None = None


@dataclass
class Ingestion:
    mi_tokens: MiTokens
    local_auth_disabled: set[str] = field(default_factory=set)  # instrumentation keys, lower case
    batches: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_BATCHES))

    def caller(self, authorization: str) -> Caller:
        if not authorization:
            return Caller(authenticated=False)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Refused(401, "Unsupported authorization scheme.")
        try:
            claims = self.mi_tokens.verify(token.strip(), MONITOR)
        except jwt.ExpiredSignatureError as error:
            raise Refused(401, "The bearer token has expired.") from error
        except jwt.InvalidAudienceError as error:
            raise Refused(401, f"The bearer token's audience is not {MONITOR}.") from error
        except jwt.PyJWTError as error:
            raise Refused(401, "The bearer token is not valid.") from error
        return Caller(authenticated=True, client_id=str(claims.get("appid")), audience=str(claims.get("aud")))


INGESTION = web.AppKey("appinsights_ingestion", Ingestion)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _decode(body: bytes) -> Any:
    """JSON of the body; aiohttp's server has already inflated a gzip/deflate `Content-Encoding`."""
    try:
        return json.loads(body)
    except ValueError as error:
        raise Refused(400, "The body is not JSON.") from error


def _envelope_error(envelope: Any) -> str | None:
    """Why the service would refuse this item (None: accepted)."""
    if not isinstance(envelope, dict):
        return "An item is not a JSON object."
    if not isinstance(envelope.get("iKey"), str) or not _GUID.match(envelope["iKey"]):
        return "Invalid instrumentation key."
    if not isinstance(envelope.get("name"), str) or not isinstance(envelope.get("time"), str):
        return "Field 'name' and 'time' are required."
    data = envelope.get("data")
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("baseType"), str)
        or not isinstance(data.get("baseData"), dict)
    ):
        return "Field 'data' must carry 'baseType' and 'baseData'."
    return None


def _reply(status: int, received: int, accepted: int, errors: list[dict[str, Any]]) -> web.Response:
    body = {"itemsReceived": received, "itemsAccepted": accepted, "errors": errors}
    return web.json_response(body, status=status)


async def track(request: web.Request) -> web.Response:
    ingestion = request.app[INGESTION]
    record: dict[str, Any] = {"received_at": _now(), "content_encoding": request.headers.get("Content-Encoding")}
    received = 0
    try:
        items = _decode(await request.read())
        if not isinstance(items, list):
            items = [items]  # the service takes one envelope as well as an array
        received = len(items)
        errors = [
            {"index": index, "statusCode": 400, "message": reason}
            for index, item in enumerate(items)
            if (reason := _envelope_error(item)) is not None
        ]
        refused_indexes = _indexes(errors)
        ikeys = sorted({item["iKey"].lower() for index, item in enumerate(items) if index not in refused_indexes})
        record["ikeys"] = ikeys
        caller = ingestion.caller(request.headers.get("Authorization", ""))
        record.update(authenticated=caller.authenticated, client_id=caller.client_id, audience=caller.audience)
        if not caller.authenticated and ingestion.local_auth_disabled.intersection(ikeys):
            raise Refused(401, "Local authentication is disabled for this resource: send an Entra ID token.")
    except Refused as refused:
        record.update(status=refused.status, reason=refused.message, items_received=received, envelopes=[])
        for key, default in (("ikeys", []), ("authenticated", False), ("client_id", None), ("audience", None)):
            record.setdefault(key, default)
        ingestion.batches.append(record)
        failures = [{"index": i, "statusCode": refused.status, "message": refused.message} for i in range(received)]
        return _reply(refused.status, received, 0, failures)
    accepted = [item for index, item in enumerate(items) if index not in refused_indexes]
    status = 200 if not errors else 206 if accepted else 400
    record.update(status=status, items_received=received, envelopes=accepted)
    ingestion.batches.append(record)
    return _reply(status, received, len(accepted), errors)


def _indexes(errors: list[dict[str, Any]]) -> set[int]:
    return {int(error["index"]) for error in errors}


def _local_only(request: web.Request) -> None:
    if request.remote not in LOOPBACK:
        raise web.HTTPForbidden(text="local endpoints answer loopback clients only")


async def get_batches(request: web.Request) -> web.Response:
    """`?ikey=<guid>`: only batches carrying that key (a refused batch carries its keys too)."""
    _local_only(request)
    wanted = request.query.get("ikey", "").lower()
    batches = [b for b in request.app[INGESTION].batches if not wanted or wanted in b["ikeys"]]
    return web.json_response({"batches": batches})


async def delete_batches(request: web.Request) -> web.Response:
    _local_only(request)
    request.app[INGESTION].batches.clear()
    return web.Response(status=204)


def _ikey(request: web.Request) -> str:
    ikey = request.match_info["ikey"]
    if not _GUID.match(ikey):
        raise web.HTTPBadRequest(text="the instrumentation key must be a GUID")
    return ikey.lower()


def _resource(ingestion: Ingestion, ikey: str) -> web.Response:
    return web.json_response({"instrumentation_key": ikey, "disable_local_auth": ikey in ingestion.local_auth_disabled})


async def get_resource(request: web.Request) -> web.Response:
    _local_only(request)
    return _resource(request.app[INGESTION], _ikey(request))


async def put_resource(request: web.Request) -> web.Response:
    """`{"disable_local_auth": true}`: batches for this key need an Entra token (as the service's property)."""
    _local_only(request)
    ikey = _ikey(request)
    try:
        body = await request.json()
    except ValueError:
        body = None
    value = body.get("disable_local_auth") if isinstance(body, dict) else None
    if not isinstance(value, bool):
        return web.json_response({"error": 'body must be {"disable_local_auth": true|false}'}, status=400)
    ingestion = request.app[INGESTION]
    if value:
        ingestion.local_auth_disabled.add(ikey)
    else:
        ingestion.local_auth_disabled.discard(ikey)
    return _resource(ingestion, ikey)


def add_appinsights_routes(app: web.Application, mi_tokens: MiTokens) -> None:
    app[INGESTION] = Ingestion(mi_tokens)
    router = app.router
    router.add_post(TRACK_PATH, track)
    # A connection string's IngestionEndpoint ends with `/` (as the portal shows it) and the exporter appends
    # `/v2.1/track` to it as is: the service takes the doubled slash, so the stand-in does too.
    router.add_post("/" + TRACK_PATH, track)
    router.add_get("/_local/appinsights/batches", get_batches)
    router.add_delete("/_local/appinsights/batches", delete_batches)
    router.add_get("/_local/appinsights/resources/{ikey}", get_resource)
    router.add_put("/_local/appinsights/resources/{ikey}", put_resource)
