"""Test-side handles on `otel_workload.py` subprocesses: instrumented backends and clients.

    v1 = OtelBackend("v1").start()                    # .port (gRPC), .metrics_port
    v2 = OtelBackend("v2", fail_percent=0).start()
    v2.set_fail_percent(30)                            # live, no restart
    c = OtelClient(xds_address, node_id, rate=60).start()   # waits for its warm-up RPC
    c.counts()                                         # {"counts": {"v1": n, ...}, "failures": {...}, ...}
    c.close(); v1.close(); v2.close()

Every wait is bounded; a process that dies or stays silent fails with its stderr tail.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from client_runner import DEFAULT_TARGET, bootstrap

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "otel_workload.py"
START_TIMEOUT = 30.0


class _WorkloadProcess:
    kind = "workload"

    def __init__(self, argv: list[str], env: dict | None = None, label: str = ""):
        self.label = label
        self.argv = [sys.executable, str(SCRIPT), *argv]
        self.env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        self.env.setdefault("GRPC_VERBOSITY", "ERROR")
        self.proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()
        self.stderr_lines: list[str] = []
        self.metrics_port: int | None = None

    def _spawn(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.env, text=True, start_new_session=True)
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line.rstrip("\n"))
            del self.stderr_lines[:-300]

    def stderr_tail(self, n: int = 40) -> str:
        lines = self.stderr_lines[-n:]
        return f"---- last {len(lines)} lines of {self.kind} {self.label} stderr ----\n" + "\n".join(lines)

    def next_line(self, timeout: float) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.kind} {self.label}: no output within {timeout}s\n{self.stderr_tail()}")
        if line is None:
            raise AssertionError(f"{self.kind} {self.label} exited (code {self.proc.poll()})\n{self.stderr_tail()}")
        return line

    def send(self, line: str, timeout: float = 10.0) -> str:
        """One command line; its one-line answer."""
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise AssertionError(f"{self.kind} {self.label} is gone: {exc!r}\n{self.stderr_tail()}")
        return self.next_line(timeout)

    @property
    def metrics_address(self) -> str:
        return f"127.0.0.1:{self.metrics_port}"

    def close(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class OtelBackend(_WorkloadProcess):
    """backend.py's Echo answering `name`, exporting grpc.server.* metrics."""

    kind = "backend"

    def __init__(self, name: str, fail_percent: int = 0, fail_code: str = "INTERNAL", port: int = 0,
                 metrics_port: int = 0):
        """port / metrics_port: 0 for any free port; fixed ones to name the scrape target before
        the backend runs (Prometheus 2.42 first scrapes a new target about 5 s after it loads it)."""
        super().__init__(["backend", name, "--fail-percent", str(fail_percent), "--fail-code", fail_code,
                          "--port", str(port), "--metrics-port", str(metrics_port)], label=name)
        self.name = name
        self.port: int | None = None

    def start(self, timeout: float = START_TIMEOUT) -> "OtelBackend":
        self._spawn()
        line = self.next_line(timeout)
        fields = dict(word.split("=", 1) for word in line.split() if "=" in word)
        if "port" not in fields or "metrics" not in fields:
            raise AssertionError(f"backend {self.name}: unexpected first line {line!r}\n{self.stderr_tail()}")
        self.port, self.metrics_port = int(fields["port"]), int(fields["metrics"])
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def set_fail_percent(self, percent: int) -> None:
        answer = self.send(f"fail {percent}")
        if answer != f"fail={percent}":
            raise AssertionError(f"backend {self.name}: `fail {percent}` answered {answer!r}")

    def stats(self) -> dict:
        return json.loads(self.send("stats"))


class OtelClient(_WorkloadProcess):
    """A proxyless xDS client sending `rate` RPC/s to `target`, exporting grpc.client.* metrics
    labelled by the CSM plugin. Its bootstrap is a file (GRPC_XDS_BOOTSTRAP)."""

    kind = "client"

    def __init__(self, xds_address: str, node_id: str, target: str = DEFAULT_TARGET, rate: float = 60.0,
                 bootstrap_json: str | None = None, metrics_port: int = 0):
        self._bootstrap_dir = tempfile.TemporaryDirectory(prefix="otel-client-")
        path = Path(self._bootstrap_dir.name, "bootstrap.json")
        path.write_text(bootstrap_json or json.dumps(bootstrap(xds_address, node_id)))
        super().__init__(["client", target, "--rate", str(rate), "--metrics-port", str(metrics_port)],
                         env={"GRPC_XDS_BOOTSTRAP": str(path)}, label=node_id)
        self.env.pop("GRPC_XDS_BOOTSTRAP_CONFIG", None)
        self.node_id = node_id
        self.ready: str | None = None

    def start(self, timeout: float = START_TIMEOUT) -> "OtelClient":
        """Starts it and waits for its warm-up RPC through xDS (which must succeed)."""
        self._spawn()
        line = self.next_line(timeout)
        if not line.startswith("metrics="):
            raise AssertionError(f"client {self.node_id}: unexpected first line {line!r}\n{self.stderr_tail()}")
        self.metrics_port = int(line.split("=", 1)[1])
        self.ready = self.next_line(timeout)
        if self.ready != "ready ok=1":
            raise AssertionError(f"client {self.node_id}: warm-up RPC through xDS failed: {self.ready}\n{self.stderr_tail()}")
        return self

    def counts(self) -> dict:
        """{"counts": {backend: n}, "failures": {code: n}, "total", "started", "inFlight", "seconds", "examples"}."""
        return json.loads(self.send("counts"))

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._bootstrap_dir.cleanup()
