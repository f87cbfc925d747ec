"""The operator's routes (admin role AND function key): list and search identities, preview the cleanup,
erase a user."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from token_service.blueprints.admin import record_body
from token_service.errors import InvalidContinuation
from token_service.http.callers import admin
from token_service.http.endpoint import RequestContext, http_function
from token_service.http.inputs import read_json_object
from token_service.http.queries import (
    DEFAULT_PAGE_SIZE,
    LIST_PARAMETERS,
    erase_request,
    listing_query,
    no_query,
    query_parameters,
)
from token_service.http.responses import json_response, no_content
from token_service.http.routes import ADMIN, Reply
from token_service.registry import BadContinuation
from token_service.services import Services
from token_service.telemetry.request_log import hash_user

bp = func.Blueprint()


@http_function(
    bp,
    "identities",
    "GET",
    ADMIN,
    summary="List and search registry records (paged; indexed filters)",
    parameters=LIST_PARAMETERS,
    replies={200: Reply("A page", "IdentityPage")},
    errors=(400, 401, 403, 503),
)
async def list_identities(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """A page of registry records matching the filters, and the token for the next page."""
    await admin(req, services, context)
    filters, page_size, continuation = listing_query(
        query_parameters(req.url, req.params), services.settings.auth.issuers
    )
    try:
        page = await services.registry.list_identities(filters, page_size, continuation)
    except BadContinuation as error:
        raise InvalidContinuation(str(error)) from error
    body = {"items": [record_body(record) for record in page.records], "continuation": page.continuation}
    return json_response(body, 200, no_store=True)


@http_function(
    bp,
    "cleanup/preview",
    "GET",
    ADMIN,
    summary="What the next cleanup run would revoke and delete (changes nothing)",
    replies={200: Reply("Preview", "CleanupPreview")},
    errors=(400, 401, 403, 503),
)
async def preview_cleanup(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """What the next cleanup run would revoke and delete, from the run's own code; changes nothing."""
    await admin(req, services, context)
    no_query(query_parameters(req.url, req.params))
    preview = await services.cleanup().preview(DEFAULT_PAGE_SIZE)
    body: dict[str, Any] = {
        "cutoff": preview.cutoff.isoformat(),
        "dryRun": services.settings.cleanup.dry_run,
        "staleCount": preview.stale,
        "pendingDeletions": preview.pending_deletions,
        "wouldTake": preview.would_take,
        "maxPerRun": services.settings.cleanup.max_per_run,
        "candidates": [
            {"communicationUserId": entry.acs_id, "owner": entry.owner, "lastActivity": entry.last_activity.isoformat()}
            for entry in preview.candidates
        ],
    }
    return json_response(body, 200, no_store=True)


@http_function(
    bp,
    "users/erase",
    "POST",
    ADMIN,
    summary="Erase a user (key in the body): delete their identities, leave no row naming them (idempotent)",
    body="EraseUserRequest",
    replies={204: Reply("Erased (or nothing left)")},
    errors=(400, 401, 403, 413, 415, 429, 503),
)
async def erase_user_identities(
    req: func.HttpRequest, services: Services, context: RequestContext
) -> func.HttpResponse:
    """Erase a user: every identity of theirs revoked and deleted, no row left that names them, exclusive
    with their token calls (identities/erasure.py). The key travels in the body, not the URL."""
    await admin(req, services, context)
    key = erase_request(read_json_object(req, frozenset({"userKey"})), services.settings.auth.issuers)
    who = hash_user(context.user_key) or "unknown"
    from token_service.identities.erasure import erase_user  # operator-only: not loaded at start (cold start)

    await erase_user(services.registry, services.acs, services.clock, key, who)
    return no_content()


@http_function(
    bp,
    "metrics",
    "GET",
    ADMIN,
    summary="This worker's metrics (OpenTelemetry, in-memory reader)",
    replies={200: Reply("Snapshot", "MetricsSnapshot")},
    errors=(400, 401, 403),
)
async def metrics_snapshot(req: func.HttpRequest, services: Services, context: RequestContext) -> func.HttpResponse:
    """This worker's metrics since it started (the in-memory reader): visible without Azure."""
    await admin(req, services, context)
    no_query(query_parameters(req.url, req.params))
    return json_response(services.telemetry.snapshot(), 200, no_store=True)
