"""Test-side handle on an `xds_client.py` subprocess (a real grpcio proxyless xDS client)."""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_TARGET = "xds:///reviews.default.svc.cluster.local:9080"


def bootstrap(xds_address: str, node_id: str) -> dict:
    """The minimal grpcio xDS bootstrap (see DESIGN.md)."""
    return {
        "xds_servers": [
            {
                "server_uri": xds_address,
                "channel_creds": [{"type": "insecure"}],
                "server_features": ["xds_v3"],
            }
        ],
        "node": {"id": node_id},
    }


class XdsClientProcess:
    """Starts xds_client.py with its own bootstrap and node id; sends commands, reads answers.

    `node_id` is what meshd shows as `proxyID` in /debug/syncz.
    """

    def __init__(self, xds_address: str, node_id: str, target: str = DEFAULT_TARGET,
                 interval: float = 0.002, extra_env: dict | None = None, bootstrap_json: str | None = None,
                 creds: str = "insecure", deadline: float | None = None, warmup_timeout: float | None = None):
        """bootstrap_json: use this bootstrap verbatim (e.g. meshctl's) instead of the minimal one.
        creds: "xds" to dial with grpc.xds_channel_credentials (mTLS per the clusters' TLS config).
        deadline / warmup_timeout: xds_client.py's per-RPC deadline and warm-up timeout."""
        self.node_id = node_id
        env = dict(os.environ)
        env.pop("GRPC_XDS_BOOTSTRAP", None)
        env["GRPC_XDS_BOOTSTRAP_CONFIG"] = bootstrap_json or json.dumps(bootstrap(xds_address, node_id))
        env.setdefault("GRPC_VERBOSITY", "ERROR")
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra_env or {})
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "xds_client.py"), "--target", target, "--interval", str(interval),
             "--creds", creds,
             *(["--deadline", str(deadline)] if deadline is not None else []),
             *(["--warmup-timeout", str(warmup_timeout)] if warmup_timeout is not None else [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        self._answers: queue.Queue = queue.Queue()
        self.stderr_lines: list[str] = []
        self._ids = itertools.count(1)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        self.ready: dict | None = None

    def _read_stdout(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            try:
                self._answers.put(json.loads(raw))
            except ValueError:
                self.stderr_lines.append("[stdout] " + raw.decode("utf-8", "replace").rstrip())
        self._answers.put(None)

    def _read_stderr(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip())

    def stderr_tail(self, n: int = 40) -> str:
        lines = self.stderr_lines[-n:]
        return f"---- last {len(lines)} lines of xds client {self.node_id} stderr ----\n" + "\n".join(lines)

    def _next(self, timeout: float) -> dict:
        try:
            answer = self._answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"xds client {self.node_id}: no answer within {timeout}s\n{self.stderr_tail()}")
        if answer is None:
            raise AssertionError(
                f"xds client {self.node_id} exited (code {self.proc.poll()})\n{self.stderr_tail()}"
            )
        return answer

    def wait_ready(self, timeout: float = 30.0) -> dict:
        """The warm-up RPC's outcome ({"event": "ready", "ok": bool, "window": ...})."""
        if self.ready is None:
            self.ready = self._next(timeout)
        return self.ready

    def command(self, cmd: str, timeout: float = 30.0, **kw) -> dict:
        if self.ready is None:
            self.wait_ready()
        ident = next(self._ids)
        line = json.dumps({"cmd": cmd, "id": ident, **kw}) + "\n"
        try:
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise AssertionError(f"xds client {self.node_id} is gone: {exc!r}\n{self.stderr_tail()}")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._next(max(0.01, deadline - time.monotonic()))
            if answer.get("id") == ident:
                if "error" in answer:
                    raise AssertionError(f"xds client {self.node_id}: {answer['error']}")
                return answer

    def run(self, n: int, name: str = "run", timeout: float = 60.0, method: str | None = None,
            metadata: dict | None = None) -> dict:
        extra = {}
        if method is not None:
            extra["method"] = method
        if metadata:
            extra["metadata"] = sorted(metadata.items())
        return self.command("run", n=n, name=name, timeout=timeout, **extra)

    def start_loop(self, name: str) -> dict:
        return self.command("start", name=name)

    def mark(self, name: str) -> dict:
        return self.command("mark", name=name)

    def peek(self) -> dict:
        return self.command("peek")

    def stop_loop(self) -> dict:
        return self.command("stop")

    def wait_for_rpcs(self, n: int, timeout: float = 20.0) -> dict:
        """Wait until the current loop window holds at least n RPCs."""
        deadline = time.monotonic() + timeout
        window = self.peek()
        while window["total"] < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {window['total']} of {n} RPCs in {timeout}s: {window}")
            time.sleep(0.05)
            window = self.peek()
        return window

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b'{"cmd": "exit"}\n')
                self.proc.stdin.flush()
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
