#!/usr/bin/env python3
"""Benchmark of observed traffic (`GET /api/v1/traffic`), release binary, not a test.

    .venv/bin/python Tests/interop/bench_traffic.py --meshd .build-rel/release/meshd \
        [--services 200 --window 30s --one-host 200 --all 50 --clients 4 --seconds 20 --grpc-series on]

Setup: Debian's Prometheus (1 s scrapes, prometheus_server.py) scraping
- envoy_stats_exporter.py serving N hosts x 2 subsets, `outbound|9080|v1|svc-I.bench.svc.cluster.local`
  and v2: each host's two subsets at the same rate (1 to 50 requests/s by host), v2 with 1% 5xx,
  p50/p99 from 5/50 ms to 30/300 ms by host;
- with `--grpc-series on` (default) a second exporter in this script with what the other two
  sources read, for the same hosts and rates (`counts`: the servers' call counts alone, for a
  large N where ~90 series per subset would swamp a 1 s scrape): gRPC's server call duration (count and A66's
  latency buckets, with the workloads' `app` / `version` / `namespace` labels, as Kubernetes SD's
  labelmap gives them) and the proxyless client's attempt duration (`csm_service_name` = the
  cluster). So all 12 of meshd's queries select real series, as in a mesh using all three.
meshd (the given binary) with `--prometheus-url`, and N ServiceEntries (workloadSelector app:
svc-I), 2N WorkloadEntries (app/version), N DestinationRules (v1, v2) and N VirtualServices
(50/50) applied through its API in batches.

A second meshd, started only for this, reads Prometheus through a recording proxy: it captures
the exact form bodies meshd POSTs for one host and for all hosts, so the script can send the very
same 12 queries straight to Prometheus (all at once, as meshd does) and ask Prometheus for its
own evaluation time (`stats=all`). That meshd is stopped before anything is timed.

After Prometheus holds >= 35 s of samples, each with a warm-up:
1. `/api/v1/traffic?host=svc-0.bench.svc.cluster.local`, one keep-alive connection, sequential:
   p50/p90/p99/max;
2. `/api/v1/traffic` (all N): sequential p50/p99, the answer's size;
3. the same from C concurrent clients for S seconds: answers/s, p50/p99;
4. the captured 12 queries straight to Prometheus (8 keep-alive connections, as meshd's HTTP
   client pool has per host: the 12 go 8 at a time, the next as one finishes), for one
   host and for all: p50/p99 of the wall time of the 12, their total POST body size, and the
   largest per-query evalTotalTime Prometheus reports;
and the CPU seconds meshd and Prometheus spend per answer in each phase (/proc/PID/stat), meshd's
VmRSS before and after (and VmHWM). Every answer must be 200; every answer checked for the
sample host's envoy (and, with gRPC series, client and destination) shares being 50/50 +- 2
points, and each all-services answer for holding N services with 50/50 envoy shares.
Prometheus' own scrape work and the exporters (Python) share the machine with what is timed.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from envoy_stats_exporter import ClusterTraffic, EnvoyStatsExporter, _cdf, latency_points  # noqa: E402
from otel_workload import LATENCY_BUCKETS  # noqa: E402
from prometheus_server import PrometheusServer  # noqa: E402

NAMESPACE = "bench"
PORT = 9080
API = "networking.istio.io/v1"
SHARE_TOLERANCE = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


def host(i: int) -> str:
    return f"svc-{i}.{NAMESPACE}.svc.cluster.local"


def cluster(i: int, subset: str) -> str:
    return f"outbound|{PORT}|{subset}|{host(i)}"


def rps(i: int) -> float:
    return float(1 + (i * 37 + 20) % 50)    # 1 .. 50 requests/s; svc-0 (the sample host) 21


def latency(i: int) -> tuple:
    p50 = 5 + (i % 6) * 5          # 5 .. 30 ms
    return latency_points(p50=p50, p99=p50 * 10)


def error_percent(subset: str) -> float:
    return 1.0 if subset == "v2" else 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


# ------------------------------------------------------------------------------------ config

def mesh_yaml(first: int, last: int) -> str:
    docs = []
    for i in range(first, last):
        name = f"svc-{i}"
        docs.append(
            f"apiVersion: {API}\nkind: ServiceEntry\nmetadata: {{name: {name}, namespace: {NAMESPACE}}}\n"
            f"spec:\n  hosts: [{host(i)}]\n  ports: [{{number: {PORT}, name: grpc, protocol: GRPC}}]\n"
            f"  resolution: STATIC\n  workloadSelector: {{labels: {{app: {name}}}}}\n")
        for k, subset in enumerate(("v1", "v2")):
            docs.append(
                f"apiVersion: {API}\nkind: WorkloadEntry\nmetadata: {{name: {name}-{subset}, namespace: {NAMESPACE}}}\n"
                f"spec:\n  address: 10.{i // 250}.{i % 250}.{k + 1}\n  ports: {{grpc: {PORT}}}\n"
                f"  labels: {{app: {name}, version: {subset}}}\n")
        docs.append(
            f"apiVersion: {API}\nkind: DestinationRule\nmetadata: {{name: {name}, namespace: {NAMESPACE}}}\n"
            f"spec:\n  host: {name}\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n"
            f"  - {{name: v2, labels: {{version: v2}}}}\n")
        docs.append(
            f"apiVersion: {API}\nkind: VirtualService\nmetadata: {{name: {name}, namespace: {NAMESPACE}}}\n"
            f"spec:\n  hosts: [{name}]\n  http:\n  - route:\n"
            f"    - {{destination: {{host: {name}, subset: v1}}, weight: 50}}\n"
            f"    - {{destination: {{host: {name}, subset: v2}}, weight: 50}}\n")
    return "---\n".join(docs)


# ------------------------------------------------------------------------------------ exporters

class GrpcStatsExporter:
    """gRPC's OpenTelemetry series for N hosts x 2 subsets, advancing in real time: the server
    side (`grpc_server_call_duration_seconds_*` with app/version/namespace) and the client side
    (`grpc_client_attempt_duration_seconds_*` with csm_service_name). Every value is a floor of a
    non-decreasing function of time, so no counter ever steps back."""

    def __init__(self, services: int, counts_only: bool = False):
        self.start_time = time.monotonic()
        self.series = []  # (count lines: [(prefix, fraction)], bucket lines: [(prefix, fraction)], rps)
        for i in range(services):
            points = latency(i)
            for subset in ("v1", "v2"):
                e = error_percent(subset) / 100
                fractions = [_cdf(points, le * 1000) for le in LATENCY_BUCKETS]
                for side in (("server",) if counts_only else ("server", "client")):
                    if side == "server":
                        base = (f'grpc_method="bench.Echo/Call",app="svc-{i}",version="{subset}",'
                                f'namespace="{NAMESPACE}"')
                        metric = "grpc_server_call_duration_seconds"
                    else:
                        base = (f'grpc_method="bench.Echo/Call",grpc_target="xds:///{host(i)}:{PORT}",'
                                f'csm_service_name="{cluster(i, subset)}",csm_service_namespace_name="{NAMESPACE}"')
                        metric = "grpc_client_attempt_duration_seconds"
                    counts = [(f'{metric}_count{{{base},grpc_status="OK"}}', 1 - e),
                              (f'{metric}_count{{{base},grpc_status="UNAVAILABLE"}}', e)]
                    buckets = [(f'{metric}_bucket{{{base},grpc_status="OK",le="{le}"}}', f)
                               for le, f in zip(LATENCY_BUCKETS, fractions)]
                    buckets.append((f'{metric}_bucket{{{base},grpc_status="OK",le="+Inf"}}', 1.0))
                    if counts_only:
                        buckets = []
                    self.series.append((counts, buckets, rps(i)))
        self._server = None

    def render(self) -> str:
        t = time.monotonic() - self.start_time
        out = ["# TYPE grpc_server_call_duration_seconds histogram",
               "# TYPE grpc_client_attempt_duration_seconds histogram"]
        for counts, buckets, rate in self.series:
            n = rate * t
            out.extend(f"{p} {math.floor(n * f)}" for p, f in counts)
            # Buckets hold every call (the OK histogram); clamped to the +Inf bucket (the total).
            total = math.floor(n)
            out.extend(f"{p} {min(total, math.floor(n * f))}" for p, f in buckets)
        return "\n".join(out) + "\n"

    def start(self) -> "GrpcStatsExporter":
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class RecordingProxy:
    """Forwards POST /api/v1/query to Prometheus and keeps every form body it saw."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.bodies: list[bytes] = []
        self._lock = threading.Lock()
        self._server = None

    def start(self) -> "RecordingProxy":
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy._lock:
                    proxy.bodies.append(body)
                req = urllib.request.Request(proxy.upstream + self.path, data=body, method="POST",
                                             headers={"Content-Type": self.headers.get("Content-Type", "")})
                with urllib.request.urlopen(req, timeout=60) as r:
                    answer = r.read()
                    status = r.status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def take(self) -> list[bytes]:
        with self._lock:
            out, self.bodies = self.bodies, []
        return out

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# ------------------------------------------------------------------------------------ processes

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


class Meshd:
    """meshd on loopback with a temp data dir; its log in WORKDIR/NAME.log."""

    def __init__(self, binary: str, workdir: Path, name: str, prometheus_url: str):
        self.log = workdir / f"{name}.log"
        data = workdir / f"{name}-data"
        self.proc = subprocess.Popen(
            [binary, "--data-dir", str(data), "--grpc-port", "0", "--admin-port", "0", "--tls-port", "0",
             "--renew-port", "0", "--listen-address", "127.0.0.1", "--prometheus-url", prometheus_url,
             "--log-level", "info"],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        import re
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            m = re.search(r"admin_address=\[?([0-9.]+)\]?:(\d+)", self.log.read_text(errors="replace"))
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise SystemExit(f"{name} did not log its admin address:\n{self.tail()}")
        if self.proc.poll() is not None:
            raise SystemExit(f"{name} exited {self.proc.returncode}:\n{self.tail()}")
        self.token = (data / "admin-token").read_text().strip() if (data / "admin-token").exists() else None
        self.pid = self.proc.pid

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=60)

    def headers(self) -> dict:
        return {"Authorization": "Bearer " + self.token} if self.token else {}

    def apply(self, text: str) -> dict:
        c = self.connection()
        c.request("POST", "/api/v1/apply", text.encode(), {"Content-Type": "application/yaml", **self.headers()})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"apply: HTTP {r.status}: {body[:2000]!r}\n{self.tail()}")
        return json.loads(body)

    def get(self, c: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
        c.request("GET", path, headers=self.headers())
        r = c.getresponse()
        return r.status, r.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


# ------------------------------------------------------------------------------------ checks

def check_answer(status: int, body: bytes, path: str, services: int | None, grpc: str, shares: bool = True) -> dict:
    if status != 200:
        raise SystemExit(f"GET {path}: HTTP {status}: {body[:2000]!r}")
    answer = json.loads(body)
    found = answer["services"]
    if services is not None and len(found) != services:
        raise SystemExit(f"GET {path}: {len(found)} services, want {services}")
    # A one-host answer names its own host (the timed loop asks each host in turn); an
    # all-services answer is checked on svc-0.
    wanted = found[0]["host"] if services is None and len(found) == 1 else host(0)
    sample = next((s for s in found if s["host"] == wanted), None)
    if sample is None:
        raise SystemExit(f"GET {path}: no {wanted} in the answer")
    if not shares:
        return answer
    sources = {"on": ("envoy", "client", "destination"), "counts": ("envoy", "destination")}.get(grpc, ("envoy",))
    for source in sources:
        rows = {r["subset"]: r for r in sample["sources"][source]["rows"]}
        if set(rows) != {"v1", "v2"}:
            raise SystemExit(f"GET {path}: {source} rows of {wanted}: {rows}")
        for subset, row in rows.items():
            if row["weight"] != 50 or row["sharePercent"] is None or abs(row["sharePercent"] - 50) > SHARE_TOLERANCE:
                raise SystemExit(f"GET {path}: {source} {subset} of {wanted}: {row}")
    return answer


def check_every_service(answer: dict) -> None:
    """In an all-services answer, every host's envoy shares are 50/50 too."""
    bad = []
    for s in answer["services"]:
        rows = s["sources"]["envoy"]["rows"]
        if len(rows) != 2 or any(r["sharePercent"] is None or abs(r["sharePercent"] - 50) > SHARE_TOLERANCE for r in rows):
            bad.append((s["host"], rows))
    if bad:
        raise SystemExit(f"{len(bad)} services without a 50/50 envoy share, e.g. {bad[:3]}")


# ------------------------------------------------------------------------------------ measurements

class Phase:
    """Wall time plus CPU seconds of meshd and Prometheus over a block."""

    def __init__(self, meshd_pid: int, prometheus_pid: int):
        self.pids = (meshd_pid, prometheus_pid)

    def __enter__(self):
        self.cpu0 = [cpu_seconds(p) for p in self.pids]
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.t0
        self.meshd_cpu, self.prometheus_cpu = (cpu_seconds(p) - c for p, c in zip(self.pids, self.cpu0))


class Failures:
    """Answers that were not a 200 with the expected content: counted, first ones kept, never timed."""

    def __init__(self):
        self.count = 0
        self.first: list[str] = []
        self._lock = threading.Lock()

    def add(self, what: str) -> None:
        with self._lock:
            self.count += 1
            if len(self.first) < 3:
                self.first.append(what[:400])

    def __str__(self) -> str:
        return "no failures" if not self.count else f"**{self.count} FAILED** (e.g. {self.first[0]})"


def checked(meshd: Meshd, c: http.client.HTTPConnection, path: str, services: int | None, grpc: str,
            failures: Failures) -> tuple[bool, int, dict | None]:
    status, body = meshd.get(c, path)
    try:
        return True, len(body), check_answer(status, body, path, services, grpc)
    except SystemExit as err:
        failures.add(str(err))
        return False, len(body), None


SHARED_FOR = 4.1          # meshd's ObservedTrafficReader.sharedFor, and a margin
SERVICES_IN_RUN = [200]  # set by main from --services


def sequential(meshd: Meshd, path: str, count: int, warmup: int, services: int | None, grpc: str, phase_pids):
    """`count` requests one after the other on one connection: the times of the good answers."""
    c = meshd.connection()
    warm = Failures()
    for _ in range(warmup):
        checked(meshd, c, path, services, grpc, warm)
    failures = Failures()
    times, size, last = [], 0, None
    with Phase(*phase_pids) as phase:
        for i in range(count):
            # meshd shares an answer with callers asking the same queries within 4 s: a timed
            # request must not be one of those. One host: each request asks the next host; all
            # services: requests are spaced past the sharing time.
            asked = path
            if services is None:
                asked = path.replace(f"host={host(0)}", f"host={host(i % SERVICES_IN_RUN[0])}")
            elif i:
                time.sleep(max(0.0, SHARED_FOR - (time.perf_counter() - t0)))
            t0 = time.perf_counter()
            ok, length, answer = checked(meshd, c, asked, services, grpc, failures)
            elapsed = time.perf_counter() - t0
            if ok:
                times.append(elapsed)
                size, last = length, answer
    if services is not None and last is not None:
        check_every_service(last)
    return times, size, phase, failures


def concurrent(meshd: Meshd, path: str, clients: int, seconds: float, services: int | None, grpc: str, phase_pids):
    """`clients` connections asking back to back for `seconds`: the times of the good answers."""
    times: list[list[float]] = [[] for _ in range(clients)]
    failures = Failures()
    warm = Failures()

    def worker(k: int, stop: float) -> None:
        c = meshd.connection()
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            ok, _, _ = checked(meshd, c, path, services, grpc, failures)
            if ok:
                times[k].append(time.perf_counter() - t0)

    for k in range(clients):  # warm-up: one answer each
        checked(meshd, meshd.connection(), path, services, grpc, warm)
    with Phase(*phase_pids) as phase:
        stop = time.perf_counter() + seconds
        threads = [threading.Thread(target=worker, args=(k, stop)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    flat = [t for ts in times for t in ts]
    return flat, phase, failures


def stats(times: list[float], keys=(50, 99)) -> str:
    if not times:
        return "no good answer"
    return ", ".join(f"p{k} {ms(percentile(times, k))} ms" for k in keys) + f", max {ms(max(times))} ms"


def straight_to_prometheus(prometheus_url: str, bodies: list[bytes], rounds: int, warmup: int, phase_pids,
                           connections_count: int):
    """The captured bodies sent at once over `connections_count` keep-alive connections (a thread
    each, taking the next query as it finishes one: as meshd's HTTP client pool does, whose
    default is 8 connections per host), `rounds` times."""
    parsed = urllib.parse.urlparse(prometheus_url)
    width = min(connections_count, len(bodies))
    connections = [http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60) for _ in range(width)]
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}

    def post(c: http.client.HTTPConnection, body: bytes):
        c.request("POST", "/api/v1/query", body, headers)
        r = c.getresponse()
        data = r.read()
        answer = json.loads(data)
        if r.status != 200 or answer.get("status") != "success":
            return RuntimeError(f"HTTP {r.status}: {data[:500]!r}")
        return answer

    def one_round() -> list:
        out: list = [None] * len(bodies)
        next_index = iter(range(len(bodies)))
        lock = threading.Lock()

        def worker(c: http.client.HTTPConnection) -> None:
            while True:
                with lock:
                    k = next(next_index, None)
                if k is None:
                    return
                out[k] = post(c, bodies[k])

        threads = [threading.Thread(target=worker, args=(c,)) for c in connections]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for o in out:
            if isinstance(o, BaseException) or o is None:
                raise SystemExit(f"straight to Prometheus: {o}")
        return out

    for _ in range(warmup):
        one_round()
    times = []
    with Phase(*phase_pids) as phase:
        for _ in range(rounds):
            t0 = time.perf_counter()
            one_round()
            times.append(time.perf_counter() - t0)
    # Prometheus' own view, one query at a time, of each query's evaluation.
    evals = []
    for body in bodies:
        c = connections[0]
        c.request("POST", "/api/v1/query", body + b"&stats=all", headers)
        answer = json.loads(c.getresponse().read())
        timings = answer["data"].get("stats", {}).get("timings", {})
        query = urllib.parse.parse_qs(body.decode())["query"][0]
        evals.append((timings.get("execTotalTime", float("nan")), timings.get("evalTotalTime", float("nan")),
                      len(body), len(answer["data"]["result"]), query))
    return times, phase, evals


def capture_queries(args, prometheus: PrometheusServer, workdir: Path, yaml_batches: list[str]) -> dict:
    proxy = RecordingProxy(prometheus.url).start()
    capture = Meshd(args.meshd, workdir, "meshd-capture", proxy.url)
    try:
        for text in yaml_batches:
            capture.apply(text)
        time.sleep(1.0)  # the push context of the last batch
        out = {}
        for name, path in (("one", one_host_path(args)), ("all", all_path(args))):
            c = capture.connection()
            # Only the bodies matter here (the window is not full yet, and the proxy is slow):
            # the answer is checked later, on the meshd that is timed.
            status, body = capture.get(c, path)
            if status != 200:
                print(f"(capture: {path} answered {status} through the recording proxy: {body[:200]!r})", flush=True)
            out[name] = proxy.take()
            if not out[name]:
                raise SystemExit(f"captured no query for {path}")
        return out
    finally:
        capture.stop()
        proxy.stop()


def one_host_path(args) -> str:
    return f"/api/v1/traffic?host={host(0)}&window={args.window}"


def all_path(args) -> str:
    return f"/api/v1/traffic?window={args.window}"


# ------------------------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meshd", required=True)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--window", default="30s")
    parser.add_argument("--one-host", type=int, default=200, help="sequential one-host requests")
    parser.add_argument("--all", type=int, default=50, help="sequential all-services requests")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20, help="length of each concurrent phase")
    parser.add_argument("--grpc-series", choices=("on", "counts", "off"), default="on",
                        help="on: gRPC client and server series with A66's buckets; counts: the servers' call "
                             "counts alone (the destination side's rates, no latency); off: Envoy's stats alone")
    parser.add_argument("--connections", type=int, default=8,
                        help="connections for the straight-to-Prometheus rounds (meshd's HTTP client: 8 per host)")
    parser.add_argument("--workdir", help="keep meshd's logs and data here (default: a temp dir, removed)")
    parser.add_argument("--batch", type=int, default=50, help="services per apply")
    args = parser.parse_args()
    grpc = args.grpc_series
    n = args.services
    SERVICES_IN_RUN[0] = n

    import tempfile
    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        envoy = EnvoyStatsExporter({
            cluster(i, s): ClusterTraffic(rps=rps(i), error_percent=error_percent(s), latency=latency(i))
            for i in range(n) for s in ("v1", "v2")}).start()
        grpc_exporter = GrpcStatsExporter(n, counts_only=grpc == "counts").start() if grpc != "off" else None
        prometheus = PrometheusServer()
        prometheus.add_target("envoy-sidecars", envoy.address, {"app": "bench-caller", "namespace": NAMESPACE})
        if grpc_exporter:
            prometheus.add_target("grpc", grpc_exporter.address)
        meshd = None
        try:
            prometheus.start()
            prometheus.targets_up(timeout=30)
            t_data = time.monotonic()
            batches = [mesh_yaml(a, min(n, a + args.batch)) for a in range(0, n, args.batch)]
            meshd = Meshd(args.meshd, workdir, "meshd", prometheus.url)
            t0 = time.perf_counter()
            for text in batches:
                meshd.apply(text)
            applied = time.perf_counter() - t0
            captured = capture_queries(args, prometheus, workdir, batches)
            # >= 35 s of samples, so the 30 s window is full.
            prometheus.wait_for(
                "count_over_time(sum(envoy_cluster_upstream_rq_xx)[60s:1s])",
                lambda r: bool(r) and float(r[0]["value"][1]) >= 36, timeout=max(60, 50 - (time.monotonic() - t_data)),
                what="36 s of Envoy samples")
            series = int(prometheus.api("status/tsdb")["headStats"]["numSeries"])
            rss_before = status_kib(meshd.pid, "VmRSS")
            pids = (meshd.pid, prometheus.proc.pid)

            def per(phase, count):
                if not count:
                    return "no good answer"
                return (f"meshd {phase.meshd_cpu / count * 1e3:.1f} ms CPU, "
                        f"Prometheus {phase.prometheus_cpu / count * 1e3:.1f} ms CPU per answer")

            load = os.getloadavg()
            print(f"\n## N = {n} services x 2 subsets, window {args.window}, gRPC series {args.grpc_series}; "
                  f"{series} series in Prometheus' head; config applied in {applied:.2f} s; "
                  f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
            print("| measurement | result |\n|---|---|", flush=True)

            times, size, phase, failures = sequential(meshd, one_host_path(args), args.one_host, 20, None, grpc, pids)
            print(f"| one host, sequential, {args.one_host} requests | {stats(times, (50, 90, 99))}; {size:,} B; "
                  f"{per(phase, len(times))}; {failures} |", flush=True)
            times, phase, failures = concurrent(meshd, one_host_path(args), args.clients, args.seconds / 2, None, grpc, pids)
            print(f"| one host, {args.clients} clients, {args.seconds / 2:.0f} s | {len(times) / phase.elapsed:.1f} good answers/s, "
                  f"{stats(times)}; {per(phase, len(times))}; {failures} |", flush=True)
            times, size, phase, failures = sequential(meshd, all_path(args), args.all, 5, n, grpc, pids)
            print(f"| all {n}, sequential, {args.all} requests | {stats(times)}; answer {size:,} B; "
                  f"{per(phase, len(times))}; {failures} |", flush=True)
            times, phase, failures = concurrent(meshd, all_path(args), args.clients, args.seconds, n, grpc, pids)
            print(f"| all {n}, {args.clients} clients, {args.seconds:.0f} s | {len(times) / phase.elapsed:.2f} good answers/s, "
                  f"{stats(times)}; {per(phase, len(times))}; {failures} |", flush=True)
            rss_after = status_kib(meshd.pid, "VmRSS")
            hwm = status_kib(meshd.pid, "VmHWM")

            d_one_times, d_one_phase, d_one_evals = straight_to_prometheus(
                prometheus.url, captured["one"], args.one_host, 20, pids, args.connections)
            d_all_times, d_all_phase, d_all_evals = straight_to_prometheus(
                prometheus.url, captured["all"], args.all, 5, pids, args.connections)
            for label, times, phase, evals in (("one host", d_one_times, d_one_phase, d_one_evals),
                                               ("all", d_all_times, d_all_phase, d_all_evals)):
                body = sum(e[2] for e in evals)
                slowest = max(evals, key=lambda e: e[0])
                print(f"| the 12 queries ({label}) straight to Prometheus, {args.connections} connections, {len(times)} rounds | "
                      f"{stats(times)}; POST bodies {body:,} B (largest {max(e[2] for e in evals):,} B); "
                      f"Prometheus {phase.prometheus_cpu / len(times) * 1e3:.1f} ms CPU per round; "
                      f"slowest query exec {slowest[0] * 1e3:.1f} ms (eval {slowest[1] * 1e3:.1f} ms) |")
            print(f"| meshd VmRSS | {rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after (VmHWM {hwm / 1024:.1f} MiB) |")
            print("\nPer query, all services (Prometheus' stats=all, one at a time): exec ms, eval ms, body B, samples, start of query")
            for e in sorted(d_all_evals, key=lambda e: -e[0]):
                print(f"  {e[0] * 1e3:8.1f} {e[1] * 1e3:8.1f} {e[2]:>9,} {e[3]:>6}  {e[4][:110]}")
            print("Per query, one host:")
            for e in sorted(d_one_evals, key=lambda e: -e[0]):
                print(f"  {e[0] * 1e3:8.1f} {e[1] * 1e3:8.1f} {e[2]:>9,} {e[3]:>6}  {e[4][:110]}")
        finally:
            if meshd is not None:
                meshd.stop()
            prometheus.stop()
            envoy.stop()
            if grpc_exporter:
                grpc_exporter.stop()


if __name__ == "__main__":
    main()
