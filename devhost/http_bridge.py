"""aiohttp request -> azure.functions.HttpRequest, and the function's result -> aiohttp response.

The function only ever sees the real `azure.functions` types, so it cannot tell this host from
the Functions host.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import azure.functions as func
from aiohttp import web
from multidict import CIMultiDict

log = logging.getLogger("devhost")


def joined(pairs: Iterable[tuple[str, str]], separator: str) -> dict[str, str]:
    """One value per key, a repeated key's values joined in order (headers, query parameters)."""
    values: dict[str, str] = {}
    for key, value in pairs:
        values[key] = f"{values[key]}{separator}{value}" if key in values else value
    return values


async def to_function_request(request: web.Request, route_params: dict[str, str]) -> func.HttpRequest:
    """Build the HttpRequest; repeated headers are joined with ', ' and repeated query keys with ','."""
    return func.HttpRequest(
        method=request.method,
        url=str(request.url),
        headers=joined(((name.lower(), value) for name, value in request.headers.items()), ", "),
        params=joined(request.query.items(), ","),
        route_params=route_params,
        body=await request.read(),
    )


def to_web_response(result: Any) -> web.Response:
    """Translate what an HTTP function returned; unsupported return types are a 500, logged."""
    if result is None:
        return web.Response(status=204)
    if isinstance(result, str):
        return web.Response(status=200, text=result, content_type="text/plain", charset="utf-8")
    if isinstance(result, func.HttpResponse):
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in result.headers.items():
            headers.add(name, value)
        if "Content-Type" not in headers:
            mimetype = result.mimetype
            text = mimetype.startswith("text/")
            headers["Content-Type"] = f"{mimetype}; charset={result.charset}" if text else mimetype
        headers.pop("Content-Length", None)
        headers.pop("Transfer-Encoding", None)
        return web.Response(status=result.status_code, headers=headers, body=result.get_body() or b"")
    log.error("HTTP function returned %s; expected HttpResponse, str or None", type(result).__name__)
    return internal_error()


def internal_error() -> web.Response:
    """The generic 500: details go to the log, never to the caller."""
    return web.Response(status=500, text="Internal Server Error", content_type="text/plain")
