"""Fault knobs for the ACS data plane: latency, per-operation rate limits, injected errors and drops.

Defaults follow ACS's documented Identity service limits (per resource, per 30 seconds). Tests and
benchmarks change them at run time through /_local/faults.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

OPERATIONS = ("create", "issue", "revoke", "delete", "exchange", "get")
DEFAULT_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "create": (1000, 30),
    "issue": (1000, 30),
    "revoke": (500, 30),
    "delete": (500, 30),
    "exchange": (500, 30),
    "get": (1000, 30),
}
DROP = "drop"


@dataclass
class FaultSettings:
    """The knob values, in the JSON shape of GET/PUT /_local/faults."""

    latency_ms: float = 0
    rate_limits: dict[str, dict[str, float]] = field(
        default_factory=lambda: {
            op: {"limit": limit, "window_seconds": window} for op, (limit, window) in DEFAULT_RATE_LIMITS.items()
        }
    )
    error_rate: float = 0.0
    error_status: int = 503
    drop_rate: float = 0.0
    fail_after: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "rate_limits": copy.deepcopy(self.rate_limits),
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "drop_rate": self.drop_rate,
            "fail_after": copy.deepcopy(self.fail_after),
        }


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}]")
    return value


def _status(value: Any, name: str, allow_drop: bool) -> int | str:
    if allow_drop and value == DROP:
        return DROP
    if isinstance(value, bool) or not isinstance(value, int) or not 400 <= value <= 599:
        suffix = ' or "drop"' if allow_drop else ""
        raise ValueError(f"{name} must be an HTTP error status (400-599){suffix}")
    return value


def apply_changes(settings: FaultSettings, changes: Any) -> FaultSettings:
    """A copy of settings with a partial update applied; ValueError names the first bad field."""
    if not isinstance(changes, dict):
        raise ValueError("body must be a JSON object")
    result = FaultSettings(**settings.to_json())
    for name, value in changes.items():
        if name == "latency_ms":
            result.latency_ms = _number(value, name, 0, 600_000)
        elif name == "error_rate":
            result.error_rate = _number(value, name, 0, 1)
        elif name == "drop_rate":
            result.drop_rate = _number(value, name, 0, 1)
        elif name == "error_status":
            result.error_status = int(_status(value, name, allow_drop=False))
        elif name == "rate_limits":
            result.rate_limits = _rate_limits(result.rate_limits, value)
        elif name == "fail_after":
            result.fail_after = _fail_after(value)
        else:
            raise ValueError(f"unknown knob {name!r}")
    return result


def _rate_limits(current: dict[str, dict[str, float]], value: Any) -> dict[str, dict[str, float]]:
    if not isinstance(value, dict):
        raise ValueError("rate_limits must be an object keyed by operation")
    merged = copy.deepcopy(current)
    for op, limit in value.items():
        if op not in OPERATIONS:
            raise ValueError(f"unknown operation {op!r}; operations are {', '.join(OPERATIONS)}")
        if not isinstance(limit, dict):
            raise ValueError(f"rate_limits.{op} must be an object")
        entry = dict(merged[op])
        if "limit" in limit:
            entry["limit"] = int(_number(limit["limit"], f"rate_limits.{op}.limit", 0, 10**9))
        if "window_seconds" in limit:
            entry["window_seconds"] = _number(limit["window_seconds"], f"rate_limits.{op}.window_seconds", 0.001, 86400)
        merged[op] = entry
    return merged


def _fail_after(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("fail_after must be null or {calls, status, ops?}")
    calls = int(_number(value.get("calls"), "fail_after.calls", 0, 10**9))
    status = _status(value.get("status", 503), "fail_after.status", allow_drop=True)
    ops = value.get("ops", list(OPERATIONS))
    if not isinstance(ops, list) or not ops or any(op not in OPERATIONS for op in ops):
        raise ValueError(f"fail_after.ops must be a non-empty list of operations: {', '.join(OPERATIONS)}")
    return {"calls": calls, "status": status, "ops": list(ops)}


class RateLimiter:
    """Sliding-window counters per operation; throttled calls do not use up the window."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {op: deque() for op in OPERATIONS}

    def reset(self) -> None:
        for calls in self._calls.values():
            calls.clear()

    def admit(self, op: str, limit: int, window: float, now: float) -> int | None:
        """None if the call may proceed, else the seconds (≥1) until the window frees a slot."""
        calls = self._calls[op]
        while calls and calls[0] <= now - window:
            calls.popleft()
        if len(calls) < limit:
            calls.append(now)
            return None
        if not calls:  # limit 0: nothing is ever admitted
            return max(1, math.ceil(window))
        return max(1, math.ceil(calls[len(calls) - limit] + window - now))


@dataclass(frozen=True)
class Verdict:
    """What the fault layer decided for one call: proceed, or fail with a status / a dropped connection."""

    fail: int | str | None = None


class Faults:
    """Live knob state plus the per-call decisions that follow from it."""

    def __init__(self, initial: FaultSettings) -> None:
        self._initial = FaultSettings(**initial.to_json())
        self.settings = FaultSettings(**initial.to_json())
        self.limiter = RateLimiter()
        self._calls_since_fail_after = 0
        self._random = random.Random()

    def update(self, changes: Any) -> FaultSettings:
        self.settings = apply_changes(self.settings, changes)
        if isinstance(changes, dict) and "fail_after" in changes:
            self._calls_since_fail_after = 0
        if isinstance(changes, dict) and "rate_limits" in changes:
            self.limiter.reset()
        return self.settings

    def reset(self) -> FaultSettings:
        self.settings = FaultSettings(**self._initial.to_json())
        self._calls_since_fail_after = 0
        self.limiter.reset()
        return self.settings

    def injected(self, op: str) -> Verdict:
        """fail_after first (deterministic; only the operations it names count and fail), then random
        drops and errors."""
        fail_after = self.settings.fail_after
        if fail_after is not None and op in fail_after["ops"]:
            self._calls_since_fail_after += 1
            if self._calls_since_fail_after > fail_after["calls"]:
                return Verdict(fail_after["status"])
        if self.settings.drop_rate and self._random.random() < self.settings.drop_rate:
            return Verdict(DROP)
        if self.settings.error_rate and self._random.random() < self.settings.error_rate:
            return Verdict(self.settings.error_status)
        return Verdict()

    def throttle(self, op: str, now: float) -> int | None:
        limit = self.settings.rate_limits[op]
        return self.limiter.admit(op, int(limit["limit"]), float(limit["window_seconds"]), now)


class Stats:
    """Counts of data-plane calls per operation and per outcome (HTTP status or "drop")."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {op: {} for op in OPERATIONS}
        self.since = time.time()

    def record(self, op: str, outcome: int | str) -> None:
        bucket = self.counts.setdefault(op, {})
        key = str(outcome)
        bucket[key] = bucket.get(key, 0) + 1

    def reset(self) -> None:
        self.counts = {op: {} for op in OPERATIONS}
        self.since = time.time()

    def to_json(self) -> dict[str, Any]:
        """`since` (epoch seconds), `now`, counts per operation and outcome, and totals."""
        totals = {op: sum(bucket.values()) for op, bucket in self.counts.items()}
        return {
            "since": self.since,
            "now": time.time(),
            "operations": self.counts,
            "totals": totals,
            "total": sum(totals.values()),
        }
