"""Compile the worker protocol's .proto files once (grpcio-tools) and import the result.

The generated modules import each other as top-level `identity`/`shared` packages; they are
rewritten to relative imports inside one package (`functions_rpc`) so nothing generic lands on
sys.path.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

from devhost.runner import RunnerStartError

PROTO_DIR = Path(__file__).resolve().parent / "protos"
PACKAGE = "functions_rpc"
PROTO_FILES = ("FunctionRpc.proto", "identity/ClaimsIdentityRpc.proto", "shared/NullableTypes.proto")


class ProtosError(RunnerStartError):
    """grpcio-tools is missing or protoc failed."""


def build_dir(root: Path) -> Path:
    """A folder per (proto sources, protobuf version): a change never reuses stale generated code."""
    from google.protobuf import __version__ as protobuf_version

    digest = hashlib.sha256(protobuf_version.encode())
    for name in PROTO_FILES:
        digest.update((PROTO_DIR / name).read_bytes())
    return root / f"{digest.hexdigest()[:16]}"


def compile_protos(target: Path) -> None:
    """protoc --python_out into target/functions_rpc, then make the imports package-relative."""
    try:
        from grpc_tools import protoc
    except ImportError as error:
        raise ProtosError("worker mode needs grpcio-tools (requirements-dev.txt): `make run` installs it") from error
    staging = target.with_name(f"{target.name}.tmp{os.getpid()}")  # two devhosts may start at once
    shutil.rmtree(staging, ignore_errors=True)
    out = staging / PACKAGE
    out.mkdir(parents=True)
    include = str(Path(protoc.__file__).resolve().parent / "_proto")
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{include}", f"--python_out={out}", *PROTO_FILES]
    if protoc.main(args) != 0:
        raise ProtosError(f"protoc failed for {PROTO_DIR}")
    for folder in (out, out / "identity", out / "shared"):
        (folder / "__init__.py").touch()
    for generated in out.rglob("*_pb2.py"):
        text = generated.read_text(encoding="utf-8")
        depth = "." if generated.parent == out else ".."
        text = re.sub(r"^from (identity|shared) import", rf"from {depth}\1 import", text, flags=re.M)
        generated.write_text(text, encoding="utf-8")
    try:
        staging.rename(target)
    except OSError:  # another process finished first: its result is the same
        shutil.rmtree(staging, ignore_errors=True)


def load_protos(root: Path) -> ModuleType:
    """The compiled FunctionRpc_pb2 module, compiling it under root when absent."""
    target = build_dir(root)
    if not (target / PACKAGE / "FunctionRpc_pb2.py").exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        compile_protos(target)
    if str(target) not in sys.path:
        sys.path.insert(0, str(target))
    return importlib.import_module(f"{PACKAGE}.FunctionRpc_pb2")


if __name__ == "__main__":  # `make` compiles once after installing: python -m devhost.worker.protos_build ROOT
    print(load_protos(Path(sys.argv[1])).__file__)
