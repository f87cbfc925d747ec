"""aiohttp request <-> RpcHttp, as the Functions host converts them (GrpcMessageConversionExtensions).

Request: header names lower-cased, repeated headers and query keys joined with ',' (StringValues),
empty query values dropped, route values in `params`, the body as bytes TypedData (the worker
announces RawHttpBodyBytes) and only when there is one. Response: `status_code`, headers, cookies
and the body TypedData of the returned RpcHttp; a plain string return is a 200 text/plain.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from devhost.http_bridge import joined

# Kestrel writes the headers it knows in their canonical spelling, whatever case the worker used.
_KNOWN = {
    name.lower(): name
    for name in (
        "Content-Type", "Content-Encoding", "Content-Language", "Content-Disposition", "Cache-Control",
        "Location", "Retry-After", "WWW-Authenticate", "ETag", "Last-Modified", "Expires", "Vary", "Allow",
    )
}


async def to_rpc_http(protos: ModuleType, request: web.Request, route_params: dict[str, str]) -> Any:
    query = joined(request.query.items(), ",")
    http = protos.RpcHttp(
        method=request.method,
        url=str(request.url),
        headers=joined(((name.lower(), value) for name, value in request.headers.items()), ","),
        query={name: value for name, value in query.items() if value},
        params=route_params,
    )
    body = await request.read()
    if body:
        http.body.CopyFrom(protos.TypedData(bytes=body))
    return http


def from_rpc_http(return_value: Any) -> web.Response | None:
    """The HTTP response for an InvocationResponse.return_value; None when its shape is unknown."""
    kind = return_value.WhichOneof("data")
    if kind is None:
        return web.Response(status=204)
    if kind == "string":
        return web.Response(status=200, text=return_value.string, content_type="text/plain", charset="utf-8")
    if kind != "http":
        return None
    http = return_value.http
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in http.headers.items():
        headers.add(_KNOWN.get(name.lower(), name), value)
    for cookie in http.cookies:
        headers.add("Set-Cookie", _cookie(cookie))
    headers.pop("Content-Length", None)
    headers.pop("Transfer-Encoding", None)
    return web.Response(status=int(http.status_code or 200), headers=headers, body=_body(http.body))


def _body(data: Any) -> bytes:
    kind = data.WhichOneof("data")
    if kind in ("bytes", "stream"):
        return bytes(getattr(data, kind))
    if kind in ("string", "json"):
        return str(getattr(data, kind)).encode()
    return b""


def _cookie(cookie: Any) -> str:
    parts = [f"{cookie.name}={cookie.value}"]
    if cookie.HasField("domain"):
        parts.append(f"Domain={cookie.domain.value}")
    if cookie.HasField("path"):
        parts.append(f"Path={cookie.path.value}")
    if cookie.HasField("max_age"):
        parts.append(f"Max-Age={int(cookie.max_age.value)}")
    if cookie.HasField("secure") and cookie.secure.value:
        parts.append("Secure")
    if cookie.HasField("http_only") and cookie.http_only.value:
        parts.append("HttpOnly")
    return "; ".join(parts)
