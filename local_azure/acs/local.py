"""Local-only endpoints of the ACS stand-in (/_local/...): knobs, token checks, JWKS, state and stats.

They need no auth, so they answer loopback clients only. Real ACS has none of them.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from local_azure.acs.app import SERVICE, AcsService
from local_azure.acs.timestamps import iso_utc
from local_azure.signing import SigningKey

SIGNING_KEY = web.AppKey("acs_signing_key", SigningKey)
LOOPBACK = frozenset({"127.0.0.1", "::1"})


def _service(request: web.Request) -> AcsService:
    return request.app[SERVICE]


def _local_only(request: web.Request) -> None:
    if request.remote not in LOOPBACK:
        raise web.HTTPForbidden(text="local endpoints answer loopback clients only")


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except ValueError as error:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": {"code": "InvalidRequestBody", "message": str(error)}}),
            content_type="application/json",
        ) from error


def _knob_error(message: str) -> web.Response:
    return web.json_response({"error": {"code": "InvalidKnob", "message": message}}, status=400)


async def get_faults(request: web.Request) -> web.Response:
    _local_only(request)
    return web.json_response(_service(request).faults.settings.to_json())


async def put_faults(request: web.Request) -> web.Response:
    _local_only(request)
    try:
        settings = _service(request).faults.update(await _json_body(request))
    except ValueError as error:
        return _knob_error(str(error))
    return web.json_response(settings.to_json())


async def reset_faults(request: web.Request) -> web.Response:
    _local_only(request)
    return web.json_response(_service(request).faults.reset().to_json())


async def check_token(request: web.Request) -> web.Response:
    _local_only(request)
    body = await _json_body(request)
    token = body.get("token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        return _knob_error('body must be {"token": "..."}')
    return web.json_response(_service(request).tokens.check(token).to_json())


async def jwks(request: web.Request) -> web.Response:
    _local_only(request)
    return web.json_response(request.app[SIGNING_KEY].jwks())


async def identities(request: web.Request) -> web.Response:
    _local_only(request)
    live_only = request.query.get("live", "").lower() in ("1", "true", "yes")
    records = _service(request).store.all(live_only=live_only)
    return web.json_response(
        {
            "identities": [
                {
                    "id": record.id,
                    "createdAt": iso_utc(record.created_at),
                    "lastTokenIssuedAt": iso_utc(record.last_token_issued_at),
                    "revokedAt": iso_utc(record.revoked_at),
                    "deleted": record.deleted,
                }
                for record in records
            ]
        }
    )


async def stats(request: web.Request) -> web.Response:
    _local_only(request)
    service = _service(request)
    return web.json_response(service.stats.to_json())


async def reset_stats(request: web.Request) -> web.Response:
    _local_only(request)
    service = _service(request)
    service.stats.reset()
    return web.json_response(service.stats.to_json())


def add_local_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/_local/faults", get_faults)
    router.add_put("/_local/faults", put_faults)
    router.add_post("/_local/faults/reset", reset_faults)
    router.add_post("/_local/tokens/check", check_token)
    router.add_get("/_local/jwks", jwks)
    router.add_get("/_local/identities", identities)
    router.add_get("/_local/stats", stats)
    router.add_post("/_local/stats/reset", reset_stats)
