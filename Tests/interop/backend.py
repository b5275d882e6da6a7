"""A real gRPC backend: `/meshd.test.Echo/Who` answers the backend's name as raw bytes.

No protoc: grpcio's generic handlers with no (de)serializers pass bytes through.
Run in-process (`EchoBackend("v1").start()`) or as a script: `python backend.py v1` prints
`port=N` and serves until stdin closes.

With `tls=TlsFiles(...)` (a mesh workload's key, certificate chain and root, as mesh-agent
writes them) it serves mutual TLS only: the caller must present a certificate that chains to
the root. `peers` records the identities (URI SANs) of the callers it accepted.

Modes for traffic-policy tests, changeable while serving: `fail = True` answers every call
with INTERNAL (an unhealthy endpoint, for outlier detection); `delay` holds each call that many
seconds (for circuit breaking), and `max_in_flight` records the most calls held at once.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc

SERVICE = "meshd.test.Echo"
METHOD = "Who"
FULL_METHOD = f"/{SERVICE}/{METHOD}"


@dataclass
class TlsFiles:
    """PEM bytes of a workload identity: private key, certificate chain (leaf first), root."""
    key: bytes
    chain: bytes
    root: bytes

    @classmethod
    def from_dir(cls, d, key: str = "key.pem", chain: str = "cert-chain.pem", root: str = "root-cert.pem") -> "TlsFiles":
        d = Path(d)
        return cls((d / key).read_bytes(), (d / chain).read_bytes(), (d / root).read_bytes())


class _AnyMethod(grpc.GenericRpcHandler):
    """Serves every method path with one unary handler."""

    def __init__(self, behaviour):
        self._handler = grpc.unary_unary_rpc_method_handler(behaviour)

    def service(self, handler_call_details):
        return self._handler


class EchoBackend:
    def __init__(self, name: str, host: str = "127.0.0.1", tls: TlsFiles | None = None, port: int = 0):
        """port: 0 for any free port; a fixed one to restart a backend where clients know it."""
        self.name = name
        self.host = host
        self.tls = tls
        self.port: int | None = port or None
        self.calls = 0
        self.peers: list[str] = []
        self.fail = False
        # The status a failing backend answers (INTERNAL unless a test needs another).
        self.fail_code = grpc.StatusCode.INTERNAL
        self.delay = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None

    def _who(self, request: bytes, context) -> bytes:
        peer = ""
        if self.tls is not None:
            auth = context.auth_context() or {}
            sans = auth.get("x509_subject_alternative_name") or auth.get("peer_spiffe_id") or []
            peer = ",".join(v.decode(errors="replace") for v in sans)
        with self._lock:
            self.calls += 1
            if peer and peer not in self.peers:
                self.peers.append(peer)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if self.fail:
                context.abort(self.fail_code, f"{self.name} is failing on purpose")
        finally:
            with self._lock:
                self.in_flight -= 1
        return self.name.encode()

    def start(self) -> "EchoBackend":
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        handler = grpc.method_handlers_generic_handler(
            SERVICE, {METHOD: grpc.unary_unary_rpc_method_handler(self._who)}
        )
        # Any other method path answers the same way, so routing tests can vary the path.
        server.add_generic_rpc_handlers((handler, _AnyMethod(self._who)))
        if self.tls is None:
            self.port = server.add_insecure_port(f"{self.host}:{self.port or 0}")
        else:
            creds = grpc.ssl_server_credentials([(self.tls.key, self.tls.chain)],
                                                root_certificates=self.tls.root, require_client_auth=True)
            self.port = server.add_secure_port(f"{self.host}:{self.port or 0}", creds)
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
