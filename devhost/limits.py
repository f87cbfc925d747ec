"""Request size limits as the Functions host's Kestrel sets them, and rejections that never echo the request.

Kestrel's defaults, which the Functions host keeps: a request line up to 8 KB (else 414), at most 100
headers and 32 KB of headers in total (else 431), so one 16 KB `Authorization` header (an Entra token
with many groups) is served. aiohttp's defaults are lower (8 KB per header line) and its parser errors
answer 400 with the offending line in the body and log it with a traceback: the start of a bearer token
in both. Here every rejection is a bare status and one log line naming only the limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong
from aiohttp.web_request import BaseRequest

REQUEST_LINE_LIMIT = 8 * 1024
HEADERS_TOTAL_LIMIT = 32 * 1024
HEADER_COUNT_LIMIT = 100

log = logging.getLogger("devhost")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class LimitedRequestHandler(web.RequestHandler):
    """aiohttp's connection handler with Kestrel's parse limits and quiet, bare parse errors."""

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if not isinstance(exc, BadHttpMessage):
            return super().handle_error(request, status, exc, message)
        status, reason = _rejection(exc)
        log.warning("%d for a request from %s: %s", status, request.remote, reason)
        response = web.Response(status=status)
        response.force_close()
        return response


def _rejection(exc: BadHttpMessage) -> tuple[int, str]:
    """The status and a reason naming the limit, never the request's bytes (which the exception carries)."""
    if isinstance(exc, LineTooLong):
        if exc.args[1:2] == (REQUEST_LINE_LIMIT,):
            return 414, f"request line longer than {REQUEST_LINE_LIMIT} bytes"
        return 431, f"a header longer than {HEADERS_TOTAL_LIMIT} bytes"
    if "too many headers" in str(exc.message).lower():
        return 431, f"more than {HEADER_COUNT_LIMIT} headers"
    return 400, "malformed HTTP request"


def protocol_factory(server: web.Server) -> Callable[[], web.RequestHandler]:
    """What `loop.create_server` needs: one limited handler per connection, serving `server`'s app."""
    loop = asyncio.get_running_loop()
    return lambda: LimitedRequestHandler(
        server,
        loop=loop,
        access_log=None,  # type: ignore[arg-type]  # None turns the access log off, as AppRunner(access_log=None)
        max_line_size=REQUEST_LINE_LIMIT,
        max_field_size=HEADERS_TOTAL_LIMIT,
        max_headers=HEADER_COUNT_LIMIT,
    )


@web.middleware
async def headers_total_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Kestrel's 32 KB for all headers together (each line counted as `name: value` plus CRLF)."""
    total = sum(len(name) + len(value) + 4 for name, value in request.raw_headers)
    if total > HEADERS_TOTAL_LIMIT:
        log.warning("431 for a request from %s: headers of %d bytes, over %d", request.remote, total,
                    HEADERS_TOTAL_LIMIT)  # fmt: skip
        return web.Response(status=431, headers={"Connection": "close"})
    return await handler(request)
