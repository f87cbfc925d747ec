"""The ACS Identity data plane (2023-10-01, plus the 2025-04-01-preview GET) as an aiohttp app.

Every data-plane call goes through the same pipeline: latency → injected faults → authentication →
api-version → rate limit → handler. Every error is a CommunicationErrorResponse.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from local_azure.acs import requests as req
from local_azure.acs.auth import AcsAuthenticator
from local_azure.acs.errors import AcsError, acs_error, bad_request
from local_azure.acs.faults import DROP, OPERATIONS, Faults, Stats
from local_azure.acs.store import IdentityStore
from local_azure.acs.teams import TeamsExchange
from local_azure.acs.timestamps import acs_datetime
from local_azure.acs.tokens import AcsTokens, wait_before_issuing

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class AcsService:
    """What the handlers share: state, tokens, auth and knobs."""

    store: IdentityStore
    tokens: AcsTokens
    auth: AcsAuthenticator
    teams: TeamsExchange
    faults: Faults
    stats: Stats


SERVICE = web.AppKey("acs_service", AcsService)


def _service(request: web.Request) -> AcsService:
    return request.app[SERVICE]


def _operation(request: web.Request) -> str | None:
    route = request.match_info.route
    name = route.name if route is not None else None
    return name if name in OPERATIONS else None


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as a CommunicationErrorResponse; nothing leaks as HTML or a 500 trace."""
    try:
        return await handler(request)
    except AcsError as error:
        return error.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        headers = {"Allow": _allow(request, error)} if isinstance(error, web.HTTPMethodNotAllowed) else None
        return acs_error(error.status, error.reason.replace(" ", ""), error.reason, headers)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return acs_error(500, "InternalServerError", "An unexpected error occurred.")


def _allow(request: web.Request, error: web.HTTPMethodNotAllowed) -> str:
    """Methods of the resource in the caller's api-version (GET /identities/{id} exists only in the preview)."""
    methods = set(error.allowed_methods)
    if request.query.get("api-version") != req.PREVIEW_GET_VERSION:
        methods -= {"GET", "HEAD"}
    return ", ".join(sorted(methods))


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering, like a lost connection to the service."""
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError


@web.middleware
async def data_plane_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    op = _operation(request)
    if op is None:
        return await handler(request)
    service = _service(request)
    outcome: int | str = 500
    try:
        response = await _through_pipeline(request, handler, service, op)
        outcome = response.status
        return response
    except AcsError as error:
        outcome = error.status
        raise
    except asyncio.CancelledError:
        outcome = DROP
        raise
    finally:
        service.stats.record(op, outcome)


async def _through_pipeline(request: web.Request, handler: Handler, service: AcsService, op: str) -> web.StreamResponse:
    # The request has arrived once its body is read: from here it is carried out whether or not the
    # caller is still there (aiohttp does not cancel handlers; a later read of a body the caller's
    # hang-up cut short would fail, so it is read first). Real ACS finishes a create whose caller hung
    # up; dropping it would hide the identities a killed instance leaves behind.
    body = await request.read()
    latency = service.faults.settings.latency_ms
    if latency:
        await asyncio.sleep(latency / 1000)
    verdict = service.faults.injected(op)
    if verdict.fail == DROP:
        _drop(request)
    if isinstance(verdict.fail, int):
        headers = {"Retry-After": "1"} if verdict.fail == 503 else None
        raise AcsError(verdict.fail, "ServiceUnavailable" if verdict.fail == 503 else "InjectedFault",
                       "Injected fault (local_azure knob).", headers)  # fmt: skip
    service.auth.check(request, body)
    req.check_api_version(op, request.query.getall("api-version", []))
    retry_after = service.faults.throttle(op, time.monotonic())
    if retry_after is not None:
        raise AcsError(
            429, "TooManyRequests", f"Rate limit for '{op}' exceeded; retry after {retry_after} s.",
            {"Retry-After": str(retry_after)},
        )  # fmt: skip
    return await handler(request)


def _identity_arg(request: web.Request, service: AcsService) -> str:
    identity_id = request.match_info["id"]
    if not service.tokens.is_well_formed(identity_id):
        raise bad_request(f"'{identity_id}' is not a valid identity of this resource.", "InvalidIdentity")
    return identity_id


def _live_identity(request: web.Request, service: AcsService) -> str:
    identity_id = _identity_arg(request, service)
    record = service.store.get(identity_id)
    if record is None or record.deleted:
        raise req.not_found(identity_id)
    return identity_id


async def create_identity(request: web.Request) -> web.Response:
    service = _service(request)
    body = req.json_object(await request.read(), required=False)
    scopes = req.scopes(body.get("createTokenWithScopes", []), "createTokenWithScopes", allow_empty=True)
    minutes = req.expires_in_minutes(body)
    now = time.time()
    identity_id = service.tokens.new_identity_id()
    while not service.store.create(identity_id, now):
        identity_id = service.tokens.new_identity_id()
    result: dict[str, object] = {"identity": {"id": identity_id}}
    if scopes:
        issued = service.tokens.issue(identity_id, scopes, minutes, now)
        result["accessToken"] = {"token": issued.token, "expiresOn": issued.expires_on}
    return web.json_response(result, status=201)


async def issue_token(request: web.Request) -> web.Response:
    service = _service(request)
    identity_id = _identity_arg(request, service)
    body = req.json_object(await request.read(), required=True)
    if "scopes" not in body:
        raise bad_request("'scopes' is required.")
    scopes = req.scopes(body["scopes"], "scopes", allow_empty=False)
    minutes = req.expires_in_minutes(body)
    identity_id = _live_identity(request, service)
    record = service.store.get(identity_id)
    wait = wait_before_issuing(record, time.time()) if record is not None else 0.0
    if wait > 0:
        await asyncio.sleep(wait)
        identity_id = _live_identity(request, service)  # it may have been deleted meanwhile
    issued = service.tokens.issue(identity_id, scopes, minutes)
    return web.json_response({"token": issued.token, "expiresOn": issued.expires_on})


def _no_content() -> web.Response:
    """204 with the spec's `produces` media type (Swagger 2.0 declares it for every response)."""
    return web.Response(status=204, headers={"Content-Type": "application/json"})


async def revoke_tokens(request: web.Request) -> web.Response:
    service = _service(request)
    identity_id = _live_identity(request, service)
    service.store.revoke(identity_id, time.time())
    return _no_content()


async def delete_identity(request: web.Request) -> web.Response:
    service = _service(request)
    identity_id = _live_identity(request, service)
    service.store.delete(identity_id, time.time())
    return _no_content()


async def get_identity(request: web.Request) -> web.Response:
    service = _service(request)
    identity_id = _live_identity(request, service)
    record = service.store.get(identity_id)
    result: dict[str, object] = {"id": identity_id}
    if record is not None and record.last_token_issued_at is not None:
        result["lastTokenIssuedAt"] = acs_datetime(record.last_token_issued_at)
    return web.json_response(result)


async def exchange_teams_token(request: web.Request) -> web.Response:
    service = _service(request)
    body = req.json_object(await request.read(), required=True)
    token = req.required_string(body, "token")
    app_id = req.required_string(body, "appId")
    user_id = req.required_string(body, "userId")
    issued = service.teams.exchange(token, app_id, user_id)
    return web.json_response({"token": issued.token, "expiresOn": issued.expires_on})


def add_data_plane_routes(app: web.Application) -> None:
    """Routes named by operation (the names the knobs and stats use); `%3A` decodes to `:` before matching."""
    router = app.router
    router.add_post("/identities", create_identity, name="create")
    router.add_delete("/identities/{id}", delete_identity, name="delete")
    router.add_get("/identities/{id}", get_identity, name="get", allow_head=False)
    router.add_post("/identities/{id}/:revokeAccessTokens", revoke_tokens, name="revoke")
    router.add_post("/identities/{id}/:issueAccessToken", issue_token, name="issue")
    router.add_post("/teamsUser/:exchangeAccessToken", exchange_teams_token, name="exchange")
