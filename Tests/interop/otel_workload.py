#!/usr/bin/env python3
"""gRPC processes that export gRPC's OpenTelemetry metrics (gRFC A66) for Prometheus to scrape.

Each mode runs in its own process (grpcio reads the xDS bootstrap once per process, and gRPC's
OpenTelemetry plugin is registered process-wide):

  otel_workload.py backend NAME [--fail-percent P] [--fail-code INTERNAL|UNAVAILABLE]
      backend.py's Echo (every method answers NAME) on 127.0.0.1, instrumented server side
      with grpc_observability.OpenTelemetryPlugin. Prints `port=N metrics=M` and serves until
      stdin closes. With P > 0 it fails exactly P% of the calls (deterministic: the n-th call
      fails when floor(n*P/100) steps up), with the status --fail-code. A line `fail P` on stdin
      changes P while serving (answered by `fail=P`), `stats` prints the counts as JSON.

  otel_workload.py client TARGET --rate R     (GRPC_XDS_BOOTSTRAP or GRPC_XDS_BOOTSTRAP_CONFIG set)
      A proxyless xDS client instrumented client side with
      grpc_csm_observability.CsmOpenTelemetryPlugin: its attempt metrics carry
      `csm_service_name` / `csm_service_namespace_name`, read from the chosen cluster's
      `com.google.csm.telemetry_labels` filter metadata. Prints `metrics=M`, makes one warm-up
      RPC (wait_for_ready, long deadline) and prints `ready ok=1` (or `ready ok=0 CODE`), then
      sends R RPCs per second, paced (each started on its own schedule, not after the previous
      one ended), with a 2 s deadline and no wait_for_ready, until stdin closes. A line `counts`
      prints {"counts": {"v1": n, ...}, "failures": {"INTERNAL": n, ...}, "total": n, ...} as JSON.

Both serve /metrics on 127.0.0.1:M (prometheus_client's HTTP server; opentelemetry-sdk's
MeterProvider read by opentelemetry-exporter-prometheus' PrometheusMetricReader). The *.duration
histograms use A66's latency buckets (LATENCY_BUCKETS): the SDK's default boundaries
(0, 5, 10, 25, ... 10000, meant for milliseconds) put every loopback RPC in the first bucket.

The CSM plugin's resource detection asks GCP's metadata server (metadata.google.internal);
this script turns that off before the plugin exists (`_no_cloud_lookups`): these processes
talk to loopback only.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# gRFC A66's latency buckets (seconds) for every grpc.*.duration histogram.
LATENCY_BUCKETS = (0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005,
                   0.006, 0.008, 0.01, 0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13,
                   0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65, 0.8, 1, 2, 5, 10, 20, 50, 100)
# and its size buckets (bytes) for the *_compressed_message_size histograms.
SIZE_BUCKETS = (0, 1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
                268435456, 1073741824, 4294967296)

RPC_DEADLINE = 2.0
WARMUP_DEADLINE = 20.0


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _no_cloud_lookups() -> None:
    """Keep OpenTelemetry's GCP resource detector (run by the CSM plugin's label injector) off
    the network: it would GET http://metadata.google.internal/. Then refuse, in this process,
    any `requests` call to a host that is not loopback, so a library that finds another way
    fails loudly instead of sending traffic off the machine."""
    import requests
    from opentelemetry.resourcedetector.gcp_resource_detector import _metadata

    def not_on_gcp() -> bool:
        return False

    def no_metadata():
        raise _metadata.MetadataAccessException("otel_workload.py: no metadata server on loopback")

    _metadata.is_available = not_on_gcp
    _metadata.get_metadata = no_metadata
    original = requests.Session.request

    def loopback_only(self, method, url, *args, **kw):
        from urllib.parse import urlsplit
        host = urlsplit(url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("127."):
            raise requests.ConnectionError(f"otel_workload.py refuses a request off loopback: {url}")
        return original(self, method, url, *args, **kw)

    requests.Session.request = loopback_only


def start_metrics(metrics_port: int):
    """A MeterProvider read by a PrometheusMetricReader, served on 127.0.0.1:metrics_port.
    Returns (meter_provider, the port actually bound)."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
    from prometheus_client import start_http_server

    reader = PrometheusMetricReader()
    views = [
        View(instrument_name="grpc.*.duration",
             aggregation=ExplicitBucketHistogramAggregation(boundaries=LATENCY_BUCKETS)),
        View(instrument_name="grpc.*_compressed_message_size",
             aggregation=ExplicitBucketHistogramAggregation(boundaries=SIZE_BUCKETS)),
    ]
    provider = MeterProvider(metric_readers=[reader], views=views)
    httpd, _thread = start_http_server(metrics_port, addr="127.0.0.1")
    return provider, httpd.server_port


def _record_method_names(_method: str) -> bool:
    # backend.py serves through generic handlers and the client calls without registering the
    # method: both count as "generic" methods, recorded as grpc_method="other" unless allowed.
    return True


# ------------------------------------------------------------------------------------ backend

def run_backend(args) -> int:
    import grpc
    import grpc_observability

    from backend import EchoBackend

    provider, metrics_port = start_metrics(args.metrics_port)
    plugin = grpc_observability.OpenTelemetryPlugin(
        meter_provider=provider, generic_method_attribute_filter=_record_method_names)
    plugin.register_global()
    fail_code = getattr(grpc.StatusCode, args.fail_code)

    class PartlyFailingEcho(EchoBackend):
        """backend.py's Echo failing `fail_percent` % of its calls, spread evenly."""

        fail_percent = args.fail_percent
        served = 0
        failed = 0

        def _who(self, request: bytes, context) -> bytes:
            with self._lock:
                n = self.served = self.served + 1
                p = self.fail_percent
                fail = (n * p) // 100 > ((n - 1) * p) // 100
                if fail:
                    self.failed += 1
            if fail:
                context.abort(fail_code, f"{self.name} fails {p}% of calls on purpose")
            return super()._who(request, context)

    echo = PartlyFailingEcho(args.name, port=args.port).start()
    emit(f"port={echo.port} metrics={metrics_port}")
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "fail" and len(words) == 2:
                with echo._lock:
                    echo.fail_percent = max(0, min(100, int(words[1])))
                emit(f"fail={echo.fail_percent}")
            elif words[0] == "stats":
                with echo._lock:
                    emit(json.dumps({"served": echo.served, "failed": echo.failed, "failPercent": echo.fail_percent}))
            else:
                emit(json.dumps({"error": f"unknown command {line.strip()!r}"}))
    finally:
        echo.stop()
        plugin.deregister_global()
    return 0


# ------------------------------------------------------------------------------------ client

class Probe:
    """R RPCs a second, each started at its own time (a slow answer does not slow the rate)."""

    def __init__(self, channel, method: str, rate: float):
        self.who = channel.unary_unary(method)
        self.interval = 1.0 / rate
        self.lock = threading.Lock()
        self.counts: collections.Counter = collections.Counter()
        self.failures: collections.Counter = collections.Counter()
        self.examples: list = []
        self.started = 0
        self.in_flight = 0
        self.stop = threading.Event()
        self.began = time.monotonic()

    def _done(self, future) -> None:
        try:
            answer = future.result()
            key, failed = answer.decode("utf-8", "replace"), False
        except Exception as err:  # grpc.RpcError (a grpc.Future raises the call's error)
            code = err.code().name if hasattr(err, "code") else type(err).__name__
            key, failed = code, True
            example = [code, err.details() if hasattr(err, "details") else str(err)]
            with self.lock:
                if len(self.examples) < 10 and example not in self.examples:
                    self.examples.append(example)
        with self.lock:
            (self.failures if failed else self.counts)[key] += 1
            self.in_flight -= 1

    def run(self) -> None:
        due = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if due > now:
                self.stop.wait(due - now)
                continue
            if now - due > 1.0:  # fell behind (a stalled process): do not burst to catch up
                due = now
            with self.lock:
                self.started += 1
                self.in_flight += 1
            future = self.who.future(b"", timeout=RPC_DEADLINE, wait_for_ready=False)
            future.add_done_callback(self._done)
            due += self.interval

    def report(self) -> dict:
        with self.lock:
            return {"counts": dict(self.counts), "failures": dict(self.failures),
                    "total": sum(self.counts.values()) + sum(self.failures.values()),
                    "started": self.started, "inFlight": self.in_flight,
                    "seconds": round(time.monotonic() - self.began, 3), "examples": list(self.examples)}


def run_client(args) -> int:
    _no_cloud_lookups()
    import grpc
    import grpc_csm_observability

    provider, metrics_port = start_metrics(args.metrics_port)
    plugin = grpc_csm_observability.CsmOpenTelemetryPlugin(
        meter_provider=provider, generic_method_attribute_filter=_record_method_names)
    plugin.register_global()
    emit(f"metrics={metrics_port}")
    channel = grpc.insecure_channel(args.target)
    try:
        try:
            channel.unary_unary(args.method)(b"", timeout=args.warmup_timeout, wait_for_ready=True)
            emit("ready ok=1")
        except grpc.RpcError as err:
            emit(f"ready ok=0 {err.code().name} {err.details()}")
        probe = Probe(channel, args.method, args.rate)
        loop = threading.Thread(target=probe.run, daemon=True)
        loop.start()
        for line in sys.stdin:
            word = line.strip()
            if word == "counts":
                emit(json.dumps(probe.report()))
            elif word:
                emit(json.dumps({"error": f"unknown command {word!r}"}))
        probe.stop.set()
        loop.join(timeout=5)
        deadline = time.monotonic() + RPC_DEADLINE + 1
        while probe.report()["inFlight"] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        channel.close()
        plugin.deregister_global()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    b = modes.add_parser("backend")
    b.add_argument("name")
    b.add_argument("--port", type=int, default=0)
    b.add_argument("--metrics-port", type=int, default=0)
    b.add_argument("--fail-percent", type=int, default=0)
    b.add_argument("--fail-code", choices=("INTERNAL", "UNAVAILABLE"), default="INTERNAL")
    c = modes.add_parser("client")
    c.add_argument("target")
    c.add_argument("--rate", type=float, default=60.0, help="RPCs per second")
    c.add_argument("--method", default="/meshd.test.Echo/Who")
    c.add_argument("--metrics-port", type=int, default=0)
    c.add_argument("--warmup-timeout", type=float, default=WARMUP_DEADLINE)
    args = parser.parse_args()
    return run_backend(args) if args.mode == "backend" else run_client(args)


if __name__ == "__main__":
    sys.exit(main())
