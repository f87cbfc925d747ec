"""`authLevel` enforcement: the key comes from `x-functions-key` or the `code` query parameter."""

from __future__ import annotations

from aiohttp import web

from devhost.settings import HostKeys


def presented_key(request: web.Request) -> str | None:
    return request.headers.get("x-functions-key") or request.query.get("code") or None


def is_authorized(auth_level: str, request: web.Request, keys: HostKeys) -> bool:
    """anonymous: open; function: any function key or the master key; admin: the master key only."""
    if auth_level == "anonymous":
        return True
    key = presented_key(request)
    if key is None:
        return False
    if auth_level == "admin":
        return keys.accepts_master_key(key)
    return keys.accepts_function_key(key)


def unauthorized() -> web.Response:
    """401 with no hint of which keys exist, like the Functions host."""
    return web.Response(status=401)
