"""One structured log line per request, with the ACS calls it made; user keys hashed, no secrets.

ACS calls are collected through a context variable, so the gateway needs no knowledge of requests.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextvars import ContextVar
from typing import Any

from token_service.acs.gateway import AcsCall

request_log = logging.getLogger("token_service.request")
_calls: ContextVar[list[AcsCall] | None] = ContextVar("acs_calls", default=None)


def start_request() -> list[AcsCall]:
    calls: list[AcsCall] = []
    _calls.set(calls)
    return calls


def record_acs_call(call: AcsCall) -> None:
    calls = _calls.get()
    if calls is not None:
        calls.append(call)


def hash_user(user_key: str | None) -> str | None:
    """Correlates a user's requests in logs without writing the key itself."""
    if not user_key:
        return None
    return hashlib.sha256(user_key.encode("utf-8")).hexdigest()[:16]


def log_request(
    *,
    function: str,
    method: str,
    route: str,
    status: int,
    duration_ms: float,
    user_key: str | None,
    calls: list[AcsCall],
    code: str | None,
) -> None:
    line: dict[str, Any] = {
        "event": "request",
        "function": function,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(duration_ms, 2),
        "user": hash_user(user_key),
        "acs": [{"op": c.operation, "ms": round(c.duration_ms, 2), "outcome": c.outcome} for c in calls],
    }
    if code:
        line["code"] = code
    request_log.info(json.dumps(line, separators=(",", ":")))
