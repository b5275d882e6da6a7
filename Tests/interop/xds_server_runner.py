"""Test-side handle on an `xds_server.py` subprocess (a real grpcio xDS-enabled server)."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class XdsServerProcess:
    """Starts xds_server.py with `bootstrap_json`; records the calls it serves (method, peer)."""

    def __init__(self, bootstrap_json: str, port: int, host: str = "0.0.0.0", name: str = "reviews"):
        self.port = port
        env = dict(os.environ)
        env.pop("GRPC_XDS_BOOTSTRAP", None)
        env["GRPC_XDS_BOOTSTRAP_CONFIG"] = bootstrap_json
        env.setdefault("GRPC_VERBOSITY", "ERROR")
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "xds_server.py"), "--port", str(port), "--host", host, "--name", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.calls: list[dict] = []
        self._lock = threading.Lock()
        self._stderr: list[str] = []
        self._events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "call":
                with self._lock:
                    self.calls.append(event)
            self._events.put(event)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)
            del self._stderr[:-200]

    def wait_event(self, name: str, timeout: float = 20.0) -> dict:
        """The next event called `name` (other events are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the xDS server printed no {name} event in {timeout}s\n{self.stderr_tail()}")
            if event.get("event") == name:
                return event

    def peers(self) -> list[str]:
        with self._lock:
            return [c["peer"] for c in self.calls]

    def stderr_tail(self, n: int = 30) -> str:
        return "".join(self._stderr[-n:])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait(timeout=5)
