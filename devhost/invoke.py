"""Call a user function as the Python worker does: async on the loop, sync on a thread pool."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devhost.functions import FunctionSpec

log = logging.getLogger("devhost")

SUCCEEDED = "Executed 'Functions.%s' (Succeeded, Id=%s, Duration=%.0fms)"
FAILED = "Executed 'Functions.%s' (Failed, Id=%s, Duration=%.0fms)"

# The worker's default for sync functions (PYTHON_THREADPOOL_THREAD_COUNT) is a small pool too.
_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="devhost-sync")


class InvocationContext:
    """The parts of `azure.functions.Context` apps read: ids, names, and a trace context."""

    def __init__(self, function: FunctionSpec, invocation_id: str) -> None:
        self.invocation_id = invocation_id
        self.function_name = function.name
        self.function_directory = ""
        self.trace_context = _TraceContext()
        self.retry_context = _RetryContext()
        self.thread_local_storage = _ThreadLocal(invocation_id)


class _TraceContext:
    trace_parent = ""
    trace_state = ""
    attributes: dict[str, str] = {}


class _RetryContext:
    retry_count = 0
    max_retry_count = 0
    exception = None


class _ThreadLocal:
    def __init__(self, invocation_id: str) -> None:
        self.invocation_id = invocation_id


async def invoke(function: FunctionSpec, trigger_value: Any, reason: str) -> Any:
    """Run one invocation and log it like the Functions host; exceptions propagate after logging."""
    if function.user_function is None:
        raise RuntimeError(f"function {function.name} has no callable in this process (worker mode)")
    invocation_id = str(uuid.uuid4())
    kwargs: dict[str, Any] = {function.arg_name: trigger_value}
    if function.wants_context:
        kwargs["context"] = InvocationContext(function, invocation_id)
    log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name, reason, invocation_id)
    started = time.perf_counter()
    try:
        if inspect.iscoroutinefunction(function.user_function):
            result = await function.user_function(**kwargs)
        else:
            loop = asyncio.get_running_loop()
            call = functools.partial(function.user_function, **kwargs)
            result = await loop.run_in_executor(_EXECUTOR, call)
    except Exception:
        elapsed = (time.perf_counter() - started) * 1000
        log.exception(FAILED, function.name, invocation_id, elapsed)
        raise
    elapsed = (time.perf_counter() - started) * 1000
    log.info(SUCCEEDED, function.name, invocation_id, elapsed)
    return result
