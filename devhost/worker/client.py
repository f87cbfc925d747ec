"""The host's side of the worker protocol, in process: StreamingMessages into azure_functions_runtime.

The Python 3.13+ worker is a library (`azure-functions-runtime`): Microsoft's proxy worker turns
the gRPC stream from the host into calls of its `handle_event` functions, each given the message
and `properties` {"protos": compiled FunctionRpc module, "host": host address}. This client makes
the same calls with the same messages, so indexing, binding conversion and dispatch are the real
worker's code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

HOST_VERSION = "4.0.0-devhost"
# What the Functions host announces to a worker in WorkerInitRequest.capabilities.
HOST_CAPABILITIES = {"MultiStream": "true"}


@dataclass(frozen=True)
class WorkerRequest:
    """The object handle_event functions read: `.request` (a StreamingMessage) and `.properties`."""

    request: Any
    properties: dict[str, Any]


class WorkerFailure(Exception):
    """The worker answered with StatusResult Failure; message and stack as it reported them."""

    def __init__(self, step: str, message: str, stack_trace: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message
        self.stack_trace = stack_trace


class WorkerClient:
    """One worker (one app) driven through WorkerInit, FunctionsMetadata, FunctionLoad, Invocation."""

    def __init__(self, protos: ModuleType, host_address: str = "127.0.0.1") -> None:
        import azure_functions_runtime  # Python 3.13+ only; imported here so 3.11 never needs it

        self.protos = protos
        self._runtime = azure_functions_runtime
        self._properties = {"protos": protos, "host": host_address}

    def _message(self, **fields: Any) -> WorkerRequest:
        return WorkerRequest(self.protos.StreamingMessage(**fields), self._properties)

    def _check(self, step: str, result: Any) -> None:
        if result.status != self.protos.StatusResult.Success:
            raise WorkerFailure(step, result.exception.message, result.exception.stack_trace)

    async def init(self, app_dir: Path) -> dict[str, str]:
        """WorkerInitRequest: the worker imports the app and indexes it; returns its capabilities."""
        if str(app_dir) not in sys.path:
            sys.path.insert(0, str(app_dir))  # what the proxy worker does before indexing
        self._runtime.start_threadpool_executor()
        request = self.protos.WorkerInitRequest(
            host_version=HOST_VERSION,
            capabilities=HOST_CAPABILITIES,
            function_app_directory=str(app_dir),
            worker_directory=str(Path(self._runtime.__file__).parent),
        )
        response = await self._runtime.worker_init_request(self._message(worker_init_request=request))
        self._check("WorkerInitRequest", response.result)
        return dict(response.capabilities)

    async def metadata(self, app_dir: Path) -> list[Any]:
        """FunctionsMetadataRequest: the RpcFunctionMetadata of every indexed function."""
        request = self.protos.FunctionsMetadataRequest(function_app_directory=str(app_dir))
        response = await self._runtime.functions_metadata_request(self._message(functions_metadata_request=request))
        self._check("FunctionsMetadataRequest", response.result)
        return list(response.function_metadata_results)

    async def load(self, metadata: Any) -> None:
        """FunctionLoadRequest for one function, with the metadata the worker reported."""
        request = self.protos.FunctionLoadRequest(function_id=metadata.function_id, metadata=metadata)
        response = await self._runtime.function_load_request(self._message(function_load_request=request))
        self._check(f"FunctionLoadRequest({metadata.name})", response.result)

    async def invoke(self, invocation_id: str, function_id: str, input_data: list[Any]) -> Any:
        """InvocationRequest; returns the InvocationResponse (its result may be a Failure)."""
        request = self.protos.InvocationRequest(
            invocation_id=invocation_id, function_id=function_id, input_data=input_data
        )
        return await self._runtime.invocation_request(self._message(invocation_request=request))

    def close(self) -> None:
        self._runtime.stop_threadpool_executor()
