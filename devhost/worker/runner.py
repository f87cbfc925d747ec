"""Worker mode: the function catalogue from the worker's metadata, invocations as InvocationRequests.

Nothing here imports function_app: routes, methods, auth levels and bindings are what the worker
reported in FunctionMetadataResponse (raw_bindings), exactly what the Functions host sees in Azure.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from devhost.functions import FunctionSpec, function_spec
from devhost.http_bridge import internal_error
from devhost.invoke import FAILED, SUCCEEDED
from devhost.runner import RunnerStartError
from devhost.worker.client import WorkerClient, WorkerFailure
from devhost.worker.protos_build import load_protos
from devhost.worker.rpc_http import from_rpc_http, to_rpc_http

log = logging.getLogger("devhost")


def spec_from_metadata(metadata: Any) -> FunctionSpec:
    """One FunctionSpec from an RpcFunctionMetadata: its trigger is the raw binding ending in 'Trigger'."""
    bindings = tuple(json.loads(raw) for raw in metadata.raw_bindings)
    triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
    if len(triggers) != 1:
        raise RunnerStartError(f"function {metadata.name}: the worker reported {len(triggers)} triggers")
    return function_spec(metadata.name, triggers[0], None, function_id=metadata.function_id, bindings=bindings)


def failure_text(name: str, message: str, stack_trace: str) -> str:
    """How the Functions host logs a failure the worker reported."""
    return (
        f"Exception while executing function: Functions.{name}. Result: Failure\n"
        f"Exception: {message}\nStack: {stack_trace}"
    )


class WorkerRunner:
    """FunctionRunner over an in-process azure-functions-runtime worker."""

    mode = "worker"

    def __init__(self, client: WorkerClient, functions: list[FunctionSpec], capabilities: dict[str, str]) -> None:
        self.client = client
        self.functions = functions
        self.capabilities = capabilities

    @classmethod
    async def start(cls, app_dir: Path, protos_root: Path) -> WorkerRunner:
        """WorkerInit (indexing), FunctionsMetadata, then FunctionLoad for every function."""
        client = WorkerClient(load_protos(protos_root))
        try:
            capabilities = await client.init(app_dir)
            metadata = await client.metadata(app_dir)
            for item in metadata:
                await client.load(item)
        except WorkerFailure as failure:
            raise RunnerStartError(
                f"Worker failed to index functions ({failure.step})\nResult: Failure\n"
                f"Exception: {failure.message}\nStack: {failure.stack_trace}"
            ) from failure
        functions = [spec_from_metadata(item) for item in metadata]
        log.info("Worker indexed %d functions (azure-functions-runtime, worker mode)", len(functions))
        return cls(client, functions, capabilities)

    async def _invoke(self, function: FunctionSpec, data: Any, reason: str) -> Any | None:
        """One InvocationRequest, logged like the host; the response, or None when it failed."""
        invocation_id = str(uuid.uuid4())
        log.info("Executing 'Functions.%s' (Reason='%s', Id=%s)", function.name, reason, invocation_id)
        started = time.perf_counter()
        binding = self.client.protos.ParameterBinding(name=function.arg_name, data=data)
        response = await self.client.invoke(invocation_id, function.function_id, [binding])
        elapsed = (time.perf_counter() - started) * 1000
        if response.result.status != self.client.protos.StatusResult.Success:
            exception = response.result.exception
            log.error(FAILED, function.name, invocation_id, elapsed)
            log.error(failure_text(function.name, exception.message, exception.stack_trace))
            return None
        log.info(SUCCEEDED, function.name, invocation_id, elapsed)
        return response

    async def invoke_http(
        self, function: FunctionSpec, request: web.Request, route_params: dict[str, str], reason: str
    ) -> web.StreamResponse:
        http = await to_rpc_http(self.client.protos, request, route_params)
        response = await self._invoke(function, self.client.protos.TypedData(http=http), reason)
        if response is None:
            return internal_error()
        answer = from_rpc_http(response.return_value)
        if answer is None:
            log.error("HTTP function %s returned TypedData %s", function.name, response.return_value.WhichOneof("data"))
            return internal_error()
        return answer

    async def invoke_timer(self, function: FunctionSpec, timer_info: dict[str, Any], reason: str) -> bool:
        data = self.client.protos.TypedData(json=json.dumps(timer_info))
        return await self._invoke(function, data, reason) is not None

    def close(self) -> None:
        self.client.close()
