"""A real Prometheus server for the interop tests: Debian's `prometheus` binary on loopback.

    prom = PrometheusServer()
    prom.add_target("grpc-backends", "127.0.0.1:9464", {"app": "reviews", "version": "v1", "namespace": "default"})
    prom.start()             # own config file and temp TSDB; waits for /-/ready
    prom.targets_up()        # every target scraped with health "up"
    prom.query('sum(rate(grpc_server_call_duration_seconds_count[30s]))')
    prom.stop()

It scrapes every second (scrape_interval and evaluation_interval 1s) with static targets. Target
labels stand in for what Kubernetes service discovery with the usual relabelling gives a pod's
series: `labelmap` of `__meta_kubernetes_pod_label_(.+)` (pod label names sanitized as
Prometheus does: `app.kubernetes.io/name` -> `app_kubernetes_io_name`, see `pod_labels()`) and
`namespace` from `__meta_kubernetes_namespace`. Targets added after start are loaded with
`reload()` (POST /-/reload; the server runs with --web.enable-lifecycle).

Every wait is bounded. `PROMETHEUS` overrides the binary (default: `prometheus` on PATH, then
/usr/bin/prometheus). `python prometheus_server.py` starts one with no targets, queries `up`
and stops it (a self-check).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 5.0


class PrometheusError(AssertionError):
    """Prometheus did not start, answer, or reach a state in time; the message has its log tail."""


def prometheus_bin() -> str:
    found = os.environ.get("PROMETHEUS") or shutil.which("prometheus") or "/usr/bin/prometheus"
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


def sanitize_label_name(name: str) -> str:
    """What Prometheus' Kubernetes SD does to a pod label's name (strutil.SanitizeLabelName)."""
    return _INVALID_LABEL_CHARS.sub("_", name)


def pod_labels(labels: dict, namespace: str) -> dict:
    """The target labels a pod with `labels` in `namespace` gets from Kubernetes SD with
    `labelmap: __meta_kubernetes_pod_label_(.+)` and `namespace` <- `__meta_kubernetes_namespace`."""
    out = {sanitize_label_name(k): str(v) for k, v in labels.items()}
    out["namespace"] = namespace
    return out


def _yaml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid YAML double-quoted scalar


class PrometheusServer:
    def __init__(self, scrape_interval: str = "1s", name: str = "prometheus"):
        self.name = name
        self.scrape_interval = scrape_interval
        self.jobs: dict[str, list[tuple[str, dict]]] = {}
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None

    # ---------------------------------------------------------------- config

    def add_target(self, job: str, address: str, labels: dict | None = None) -> "PrometheusServer":
        """Scrape http://ADDRESS/metrics in `job` with these target labels (call reload() if
        the server is already running)."""
        self.jobs.setdefault(job, []).append((address, dict(labels or {})))
        return self

    def remove_targets(self, job: str) -> None:
        self.jobs.pop(job, None)

    def config_text(self) -> str:
        lines = [
            "global:",
            f"  scrape_interval: {self.scrape_interval}",
            f"  scrape_timeout: {self.scrape_interval}",
            f"  evaluation_interval: {self.scrape_interval}",
            "scrape_configs:",
        ]
        for job, targets in self.jobs.items():
            lines += [f"- job_name: {_yaml_str(job)}", "  metrics_path: /metrics", "  static_configs:"]
            for address, labels in targets:
                lines.append(f"  - targets: [{_yaml_str(address)}]")
                if labels:
                    lines.append("    labels:")
                    lines += [f"      {k}: {_yaml_str(v)}" for k, v in labels.items()]
        if not self.jobs:
            lines[-1] = "scrape_configs: []"
        return "\n".join(lines) + "\n"

    @property
    def expected_targets(self) -> int:
        return sum(len(t) for t in self.jobs.values())

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> "PrometheusServer":
        binary = prometheus_bin()
        if not os.path.exists(binary):
            raise PrometheusError(f"prometheus not found at {binary}: apt-get install prometheus (or set PROMETHEUS)")
        self._tmp = tempfile.TemporaryDirectory(prefix="meshd-prometheus-")
        self.config_path = os.path.join(self._tmp.name, "prometheus.yml")
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        self.port = free_port()
        argv = [binary,
                "--config.file", self.config_path,
                "--storage.tsdb.path", os.path.join(self._tmp.name, "data"),
                "--storage.tsdb.retention.time", "1h",
                "--web.listen-address", f"127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--log.level", "info"]
        self._log(f"---- [{self.name}] {' '.join(argv)}")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.proc.returncode} before /-/ready\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        self.stop()
        raise PrometheusError(f"prometheus /-/ready not 200 within {timeout}s\n{self.tail()}")

    def reload(self, timeout: float = 10.0) -> None:
        """Rewrite the config (targets added since start) and POST /-/reload."""
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        req = urllib.request.Request(self.url + "/-/reload", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            if r.status != 200:
                raise PrometheusError(f"/-/reload answered {r.status}\n{self.tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(timeout=2)
            self._reader = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _pump(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            self._log(raw.decode("utf-8", "replace").rstrip())
        self.proc.stdout.close()

    def _log(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)
            del self.lines[:-2000]

    def tail(self, n: int = 40) -> str:
        with self._lock:
            lines = self.lines[-n:]
        return f"---- last {len(lines)} lines of {self.name} ----\n" + "\n".join(lines)

    # ---------------------------------------------------------------- HTTP API

    def api(self, path: str, params: dict | None = None, timeout: float = HTTP_TIMEOUT) -> dict:
        """GET /api/v1/PATH; returns `data` of a success answer, raises on an error answer."""
        url = self.url + "/api/v1/" + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as err:
            raise PrometheusError(f"GET {url}: HTTP {err.code}: {err.read()[:2000]!r}") from err
        if body.get("status") != "success":
            raise PrometheusError(f"GET {url}: {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list:
        """An instant query; the result list ([{"metric": {...}, "value": [t, "v"]}, ...] for a vector)."""
        params = {"query": promql}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", params)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def query_values(self, promql: str, by: str | tuple = ()) -> dict:
        """{label value (or tuple of values for several labels): float} of a vector query."""
        keys = (by,) if isinstance(by, str) else tuple(by)
        out = {}
        for sample in self.query(promql):
            labels = sample["metric"]
            key = tuple(labels.get(k, "") for k in keys)
            out[key[0] if len(keys) == 1 else key] = float(sample["value"][1])
        return out

    def query_value(self, promql: str) -> float | None:
        """The value of a query with at most one sample; None when empty."""
        result = self.query(promql)
        if len(result) > 1:
            raise PrometheusError(f"{promql!r} gave {len(result)} samples, expected at most one: {result[:5]}")
        return float(result[0]["value"][1]) if result else None

    def targets(self) -> list:
        return self.api("targets", {"state": "active"})["activeTargets"]

    def targets_up(self, timeout: float = 20.0) -> list:
        """Wait until all configured targets are active with health "up" (each scraped once)."""
        deadline = time.monotonic() + timeout
        active: list = []
        while time.monotonic() < deadline:
            active = self.targets()
            if len(active) == self.expected_targets and all(t.get("health") == "up" for t in active):
                return active
            time.sleep(0.2)
        summary = [(t.get("scrapePool"), t.get("scrapeUrl"), t.get("health"), t.get("lastError")) for t in active]
        raise PrometheusError(f"not all of {self.expected_targets} targets up within {timeout}s: {summary}\n{self.tail()}")

    def wait_for(self, promql: str, predicate, timeout: float = 30.0, what: str = "") -> list:
        """Poll an instant query until predicate(result) holds; bounded, the last answer in the error."""
        deadline = time.monotonic() + timeout
        result = None
        while time.monotonic() < deadline:
            result = self.query(promql)
            if predicate(result):
                return result
            time.sleep(0.25)
        raise PrometheusError(f"{what or promql!r} not reached within {timeout}s; last answer: {result}\n{self.tail(20)}")


if __name__ == "__main__":
    with PrometheusServer() as prom:
        print(prom.url, prom.query("vector(1)"))
