"""A real gRPC backend: `/meshd.test.Echo/Who` answers the backend's name as raw bytes.

No protoc: grpcio's generic handlers with no (de)serializers pass bytes through.
Run in-process (`EchoBackend("v1").start()`) or as a script: `python backend.py v1` prints
`port=N` and serves until stdin closes.
"""

from __future__ import annotations

import sys
import threading
from concurrent import futures

import grpc

SERVICE = "meshd.test.Echo"
METHOD = "Who"
FULL_METHOD = f"/{SERVICE}/{METHOD}"


class EchoBackend:
    def __init__(self, name: str, host: str = "127.0.0.1"):
        self.name = name
        self.host = host
        self.port: int | None = None
        self.calls = 0
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    def _who(self, request: bytes, context) -> bytes:
        with self._lock:
            self.calls += 1
        return self.name.encode()

    def start(self) -> "EchoBackend":
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handler = grpc.method_handlers_generic_handler(
            SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(self._who)}
        )
        server.add_generic_rpc_handlers((handler,))
        self.port = server.add_insecure_port(f"{self.host}:0")
        if not self.port:
            raise RuntimeError("backend could not bind a port")
        server.start()
        self._server = server
        return self

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=0.5).wait(timeout=5)
            self._server = None


def call_direct(address: str, timeout: float = 5.0) -> str:
    """One plain (non-xDS) call, to check a backend is up."""
    with grpc.insecure_channel(address) as channel:
        who = channel.unary_unary(FULL_METHOD)
        return who(b"", timeout=timeout).decode()


if __name__ == "__main__":
    backend = EchoBackend(sys.argv[1] if len(sys.argv) > 1 else "v1").start()
    print(f"port={backend.port}", flush=True)
    sys.stdin.read()
    backend.stop()
