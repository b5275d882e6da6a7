"""A real grpcio xDS-enabled server (gRFC A36), run as a subprocess: grpcio reads the xDS
bootstrap once per process.

`python xds_server.py --port P [--host 0.0.0.0] [--name reviews]` with GRPC_XDS_BOOTSTRAP_CONFIG
set (meshctl bootstrap: `server_listener_resource_name_template`, the `default` certificate
provider). It serves with `grpc.xds_server_credentials(insecure fallback)` on HOST:P, so
whether it speaks mTLS or plaintext, and which RPCs its RBAC filters admit, is what meshd's
inbound listener says. It serves nothing until that listener arrives.

Every method answers the server's name (raw bytes); `/meshd.test.Echo/Slow` first prints
`{"event": "slow-started"}` and waits SLOW_SECONDS (an RPC in flight across a policy change). Each call's peer identity (the URI SAN of the client
certificate, empty for plaintext) is printed as a JSON line `{"event": "call", ...}` on stdout.
The server stops when stdin closes.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent import futures

import grpc

SLOW_SECONDS = 3.0


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class _AnyMethod(grpc.GenericRpcHandler):
    def __init__(self, name: str):
        self.name = name.encode()

    def _answer(self, method: str):
        def behaviour(request: bytes, context) -> bytes:
            auth = context.auth_context() or {}
            sans = auth.get("x509_subject_alternative_name") or []
            peer = ",".join(v.decode(errors="replace") for v in sans)
            if method.endswith("/Slow"):
                emit({"event": "slow-started", "peer": peer})
                time.sleep(SLOW_SECONDS)
            emit({"event": "call", "method": method, "peer": peer})
            return self.name
        return grpc.unary_unary_rpc_method_handler(behaviour)

    def service(self, handler_call_details):
        return self._answer(handler_call_details.method)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--name", default="reviews")
    args = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), xds=True)
    server.add_generic_rpc_handlers((_AnyMethod(args.name),))
    host = f"[{args.host}]" if ":" in args.host else args.host
    server.add_secure_port(f"{host}:{args.port}", grpc.xds_server_credentials(grpc.insecure_server_credentials()))
    server.start()
    emit({"event": "started", "port": args.port})
    stop = threading.Event()

    def watch_stdin():
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    stop.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
