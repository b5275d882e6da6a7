#!/usr/bin/env python3
"""A real proxyless gRPC client (grpcio's xDS resolver) driven over stdin/stdout.

It must run in its own process: grpcio reads the xDS bootstrap (GRPC_XDS_BOOTSTRAP_CONFIG or
GRPC_XDS_BOOTSTRAP) once per process. It dials `--target` (default
xds:///reviews.default.svc.cluster.local:9080) and calls the unary method `/meshd.test.Echo/Who`,
whose answer is the backend's name ("v1"/"v2").

`--creds xds` dials with grpc.xds_channel_credentials (fallback: insecure), so the TLS settings
of the clusters (UpstreamTlsContext) and the bootstrap's certificate_providers apply: mTLS with
the mesh certificate. The default, `--creds insecure`, ignores them.

Start-up: one warm-up RPC with wait_for_ready=True and a long deadline (the xDS resources may
still be arriving), then `{"event": "ready", "ok": ..., ...}` on stdout. Every other RPC uses
wait_for_ready=False and a 2 s deadline, so a failure is a real failure.

With `--count N` it runs N RPCs after the warm-up, prints one report line and exits.
Otherwise it reads JSON commands, one per line, and answers each with one JSON line carrying
the same "id":
  {"cmd": "run", "n": 1000}        run exactly n RPCs now, answer their window (optional
                                   "method": "/pkg.Svc/M" and "metadata": [[k, v], ...])
  {"cmd": "start", "name": "w"}    start a continuous loop of RPCs into window "w"
  {"cmd": "mark", "name": "w2"}    close the current window (after its in-flight RPC ends),
                                   answer it, and continue into a new window "w2"
  {"cmd": "peek"}                  answer the current window without closing it
  {"cmd": "stop"}                  stop the loop and answer the last window
  {"cmd": "exit"}
A window report: {"name", "total", "counts": {"v1": n, ...}, "failures": n,
"failure_codes": {"UNAVAILABLE": n}, "failure_examples": [[code, details], ...],
"runs": [["v1", 12], ["v2", 3], ...] (the run-length sequence, capped), "seconds"}.
An RPC belongs to the window that was current when it started.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import threading
import time

import grpc
import grpc.experimental  # insecure_channel_credentials (the fallback of xds_channel_credentials)

MAX_RUNS = 200
MAX_EXAMPLES = 10


class Window:
    def __init__(self, name: str):
        self.name = name
        self.counts: collections.Counter = collections.Counter()
        self.failure_codes: collections.Counter = collections.Counter()
        self.failure_examples: list = []
        self.runs: list = []
        self.inflight = 0
        self.started = time.monotonic()
        self.ended = None

    def add(self, result: str | None, code: str | None = None, details: str | None = None) -> None:
        label = result if result is not None else f"FAIL:{code}"
        if result is not None:
            self.counts[result] += 1
        else:
            self.failure_codes[code] += 1
            example = [code, details]
            if len(self.failure_examples) < MAX_EXAMPLES and example not in self.failure_examples:
                self.failure_examples.append(example)
        if self.runs and self.runs[-1][0] == label:
            self.runs[-1][1] += 1
        elif len(self.runs) < MAX_RUNS:
            self.runs.append([label, 1])

    def report(self) -> dict:
        end = self.ended if self.ended is not None else time.monotonic()
        failures = sum(self.failure_codes.values())
        return {
            "name": self.name,
            "total": sum(self.counts.values()) + failures,
            "counts": dict(self.counts),
            "failures": failures,
            "failure_codes": dict(self.failure_codes),
            "failure_examples": self.failure_examples,
            "runs": self.runs,
            "seconds": round(end - self.started, 3),
        }


class Client:
    def __init__(self, args):
        self.args = args
        if args.creds == "xds":
            creds = grpc.xds_channel_credentials(fallback_credentials=grpc.experimental.insecure_channel_credentials())
            self.channel = grpc.secure_channel(args.target, creds)
        else:
            self.channel = grpc.insecure_channel(args.target)
        self.who = self.channel.unary_unary(args.method)
        self.cond = threading.Condition()
        self.current = Window("initial")
        self.loop_thread: threading.Thread | None = None
        self.stop_loop = threading.Event()

    def call(self, window: Window, wait_for_ready: bool = False, timeout: float | None = None,
             method: str | None = None, metadata: list | None = None) -> None:
        stub = self.who if method is None else self.channel.unary_unary(method)
        try:
            answer = stub(b"", timeout=timeout or self.args.deadline, wait_for_ready=wait_for_ready,
                          metadata=tuple(tuple(pair) for pair in metadata) if metadata else None)
            result, code, details = answer.decode("utf-8", "replace"), None, None
        except grpc.RpcError as err:
            result, code, details = None, err.code().name, err.details()
        with self.cond:
            window.add(result, code, details)
            window.inflight -= 1
            self.cond.notify_all()

    def one(self, window: Window, **kw) -> None:
        with self.cond:
            window.inflight += 1
        self.call(window, **kw)

    def warm_up(self) -> dict:
        window = Window("warmup")
        start = time.monotonic()
        self.one(window, wait_for_ready=True, timeout=self.args.warmup_timeout)
        report = window.report()
        return {
            "event": "ready",
            "ok": report["failures"] == 0,
            "seconds": round(time.monotonic() - start, 3),
            "window": report,
        }

    def run(self, n: int, name: str = "run", method: str | None = None, metadata: list | None = None) -> dict:
        window = Window(name)
        for _ in range(n):
            self.one(window, method=method, metadata=metadata)
        window.ended = time.monotonic()
        return window.report()

    def _loop(self) -> None:
        while not self.stop_loop.is_set():
            with self.cond:
                window = self.current
                window.inflight += 1
            self.call(window)
            if self.args.interval > 0:
                time.sleep(self.args.interval)

    def start(self, name: str) -> dict:
        if self.loop_thread is not None:
            return {"error": "loop already running"}
        with self.cond:
            self.current = Window(name)
        self.stop_loop.clear()
        self.loop_thread = threading.Thread(target=self._loop, daemon=True)
        self.loop_thread.start()
        return {"started": name}

    def _close(self, old: Window) -> dict:
        with self.cond:
            self.cond.wait_for(lambda: old.inflight == 0, timeout=10)
            old.ended = time.monotonic()
            return old.report()

    def mark(self, name: str) -> dict:
        with self.cond:
            old, self.current = self.current, Window(name)
        return self._close(old)

    def peek(self) -> dict:
        with self.cond:
            return self.current.report()

    def stop(self) -> dict:
        self.stop_loop.set()
        if self.loop_thread is not None:
            self.loop_thread.join(timeout=10)
            self.loop_thread = None
        return self._close(self.current)


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="xds:///reviews.default.svc.cluster.local:9080")
    parser.add_argument("--method", default="/meshd.test.Echo/Who")
    parser.add_argument("--deadline", type=float, default=2.0, help="per-RPC deadline, seconds")
    parser.add_argument("--warmup-timeout", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.002, help="pause between loop RPCs, seconds")
    parser.add_argument("--count", type=int, help="run N RPCs, print one report, exit")
    parser.add_argument("--creds", choices=("insecure", "xds"), default="insecure",
                        help="xds: grpc.xds_channel_credentials (mTLS as the xDS config says)")
    args = parser.parse_args()
    if args.target.startswith("xds:") and not (
        os.environ.get("GRPC_XDS_BOOTSTRAP_CONFIG") or os.environ.get("GRPC_XDS_BOOTSTRAP")
    ):
        emit({"event": "ready", "ok": False, "error": "no GRPC_XDS_BOOTSTRAP_CONFIG / GRPC_XDS_BOOTSTRAP"})
        return 2

    client = Client(args)
    ready = client.warm_up()
    emit(ready)
    if args.count is not None:
        emit(client.run(args.count))
        return 0 if ready["ok"] else 1

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            cmd = json.loads(line)
        except ValueError:
            emit({"error": f"bad command {line!r}"})
            continue
        op = cmd.get("cmd")
        if op == "run":
            answer = client.run(int(cmd.get("n", 1)), cmd.get("name", "run"), cmd.get("method"), cmd.get("metadata"))
        elif op == "start":
            answer = client.start(cmd.get("name", "loop"))
        elif op == "mark":
            answer = client.mark(cmd.get("name", "window"))
        elif op == "peek":
            answer = client.peek()
        elif op == "stop":
            answer = client.stop()
        elif op == "exit":
            client.stop()
            emit({"id": cmd.get("id"), "bye": True})
            break
        else:
            answer = {"error": f"unknown command {op!r}"}
        answer["id"] = cmd.get("id")
        emit(answer)
    client.stop_loop.set()
    client.channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
