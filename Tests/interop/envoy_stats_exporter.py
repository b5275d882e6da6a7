"""A stand-in for Envoy's `/stats/prometheus`: cluster request counters and latency histograms
that advance in real time, for Prometheus to scrape.

No Envoy binary exists on this machine (see DESIGN.md), so meshd's `envoy` traffic source is
tested against this exporter. It serves, per configured cluster, what an Envoy sidecar's admin
endpoint serves for an upstream cluster (Envoy's `cluster.<name>.upstream_rq_*` stats, named by
its Prometheus output and its default tag extraction, source/common/config/well_known_names.cc):

    # TYPE envoy_cluster_upstream_rq counter
    envoy_cluster_upstream_rq{envoy_response_code="200",envoy_cluster_name="outbound|9080|v1|reviews.default.svc.cluster.local"} 412
    # TYPE envoy_cluster_upstream_rq_completed counter
    # TYPE envoy_cluster_upstream_rq_total counter
    # TYPE envoy_cluster_upstream_rq_xx counter
    envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="outbound|9080|v1|reviews.default.svc.cluster.local"} 412
    envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="..."} 0
    # TYPE envoy_cluster_upstream_rq_time histogram
    envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="...",le="0.5"} 0
    ...                                  (le: Envoy's default buckets, in milliseconds)
    envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="...",le="+Inf"} 412
    envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="..."} 4120.5
    envoy_cluster_upstream_rq_time_count{envoy_cluster_name="..."} 412

`tags` chooses how the cluster name and the response code reach labels:
- "envoy" (default): Envoy's default tag names (`envoy.cluster_name` -> `envoy_cluster_name`,
  `envoy.response_code_class` -> `envoy_response_code_class="2"`), holding the whole
  `outbound|PORT|SUBSET|HOST`. Note: Envoy's *default* cluster-name regex (`^cluster\\.((.*?)\\.)`)
  stops at the first dot, so a real Envoy gives this only with a bootstrap `stats_config` whose
  cluster-name extractor takes the whole FQDN-bearing name (as Istio's bootstrap does).
- "envoy-default": what Envoy's default regex really makes of such a name:
  `envoy_cluster_name="outbound|9080|v1|reviews"` and the rest of the name folded into the metric
  name (`envoy_cluster_default_svc_cluster_local_upstream_rq_xx`).
- "istio": Istio's bootstrap `stats_tags` (use_all_default_tags false): `cluster_name`,
  `response_code_class="2xx"` and `response_code="200"`, both folded into `envoy_cluster_upstream_rq`.

Counts are a function of time: for a cluster at R requests/s with E% 5xx since its last change,
`rq_xx{class 5}` = floor(base + R*E/100*t), and the latency histogram's bucket `le` holds
floor(count * CDF(le)) where CDF is piecewise linear through the configured (ms, fraction)
points. With p50 and p99 on bucket bounds (e.g. 25 and 250 ms), Prometheus'
histogram_quantile() over a rate gives them back. `set_cluster()` changes a cluster live.

    exporter = EnvoyStatsExporter({
        configs.cluster("v1"): ClusterTraffic(rps=40, latency=latency_points(p50=25, p99=250)),
        configs.cluster("v2"): ClusterTraffic(rps=10, error_percent=20, latency=latency_points(p50=50, p99=500)),
    }).start()
    exporter.address     # 127.0.0.1:PORT, serving /stats/prometheus (and /metrics)
    exporter.stop()
"""

from __future__ import annotations

import http.server
import math
import re
import threading
import time
from dataclasses import dataclass, field

# Envoy's default histogram buckets (source/common/stats/histogram_impl.cc, supportedBuckets), ms.
ENVOY_BUCKETS = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
                 300000, 600000, 1800000, 3600000)


def latency_points(p50: float, p99: float, max_ms: float | None = None) -> tuple:
    """A piecewise-linear latency CDF: 0 at 0 ms, 50% at p50, 99% at p99, 100% at max_ms."""
    max_ms = max_ms if max_ms is not None else p99 * 1.2
    return ((0.0, 0.0), (float(p50), 0.5), (float(p99), 0.99), (float(max_ms), 1.0))


def _cdf(points: tuple, ms: float) -> float:
    if ms <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if ms <= x1:
            return y0 + (y1 - y0) * (ms - x0) / (x1 - x0) if x1 > x0 else y1
    return 1.0


def _mean(points: tuple) -> float:
    """Mean latency (ms) of the piecewise-linear CDF (uniform within each piece)."""
    return sum((y1 - y0) * (x0 + x1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:]))


def expected_quantile(latency: tuple, q: float) -> float:
    """What Prometheus' histogram_quantile(q, rate(..._bucket)) gives for a cluster whose
    latency follows `latency` (CDF points), read through Envoy's buckets: linear interpolation
    inside the bucket holding the q-th rank, 0 as the lower bound of the first bucket, the
    highest finite bound when the rank falls in +Inf."""
    below, lower = 0.0, 0.0
    for le in ENVOY_BUCKETS:
        cdf = _cdf(latency, le)
        if cdf >= q:
            return lower + (le - lower) * ((q - below) / (cdf - below) if cdf > below else 1.0)
        below, lower = cdf, le
    return float(ENVOY_BUCKETS[-1])


@dataclass
class ClusterTraffic:
    """Requests per second, the share answered 5xx (percent), the latency CDF points (ms, fraction)."""
    rps: float
    error_percent: float = 0.0
    latency: tuple = field(default_factory=lambda: latency_points(5, 25))


class _ClusterState:
    def __init__(self, traffic: ClusterTraffic, now: float):
        self.base_ok = 0.0
        self.base_err = 0.0
        self.base_buckets = [0.0] * len(ENVOY_BUCKETS)
        self.base_sum = 0.0
        self.traffic = traffic
        self.since = now

    def totals(self, now: float):
        t = max(0.0, now - self.since)
        n = self.traffic.rps * t
        err = n * self.traffic.error_percent / 100.0
        ok = n - err
        buckets = [b + n * _cdf(self.traffic.latency, le) for b, le in zip(self.base_buckets, ENVOY_BUCKETS)]
        return self.base_ok + ok, self.base_err + err, buckets, self.base_sum + n * _mean(self.traffic.latency)

    def change(self, traffic: ClusterTraffic, now: float) -> None:
        self.base_ok, self.base_err, self.base_buckets, self.base_sum = self.totals(now)
        self.traffic = traffic
        self.since = now


_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


class EnvoyStatsExporter:
    def __init__(self, clusters: dict, tags: str = "envoy", host: str = "127.0.0.1", port: int = 0):
        if tags not in ("envoy", "envoy-default", "istio"):
            raise ValueError(f"tags must be envoy, envoy-default or istio, not {tags!r}")
        self.tags = tags
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        now = time.monotonic()
        self._clusters = {name: _ClusterState(t, now) for name, t in clusters.items()}
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.scrapes = 0

    def set_cluster(self, name: str, traffic: ClusterTraffic) -> None:
        """Change (or add) a cluster's traffic from now on; its counters keep their values."""
        now = time.monotonic()
        with self._lock:
            if name in self._clusters:
                self._clusters[name].change(traffic, now)
            else:
                self._clusters[name] = _ClusterState(traffic, now)

    # ---------------------------------------------------------------- exposition

    def _names(self, cluster: str, stat: str) -> tuple[str, dict]:
        """(Prometheus metric name, tags) of `cluster.<cluster>.<stat>` before response-code tags."""
        if self.tags == "istio":
            return "envoy_cluster_" + stat, {"cluster_name": cluster}
        if self.tags == "envoy-default":
            head, _, rest = cluster.partition(".")
            prefix = "envoy_cluster_" + (_NOT_LABEL.sub("_", rest) + "_" if rest else "")
            return prefix + stat, {"envoy_cluster_name": head}
        return "envoy_cluster_" + stat, {"envoy_cluster_name": cluster}

    def render(self) -> str:
        now = time.monotonic()
        families: dict[str, tuple[str, list]] = {}

        def add(name: str, kind: str, labels: list, value: float) -> None:
            fam = families.setdefault(name, (kind, []))
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            fam[1].append(f"{name}{{{text}}} {_fmt(value)}")

        with self._lock:
            snapshot = {name: st.totals(now) for name, st in self._clusters.items()}
        for cluster, (ok, err, buckets, total_ms) in sorted(snapshot.items()):
            ok_n, err_n = math.floor(ok), math.floor(err)
            total = ok_n + err_n
            for stat, value in (("upstream_rq_total", total), ("upstream_rq_completed", total)):
                name, tags = self._names(cluster, stat)
                add(name, "counter", list(tags.items()), value)
            if self.tags == "istio":
                name, tags = self._names(cluster, "upstream_rq")
                for cls, n in (("2xx", ok_n), ("5xx", err_n)):
                    add(name, "counter", [("response_code_class", cls), *tags.items()], n)
                for code, n in (("200", ok_n), ("503", err_n)):
                    add(name, "counter", [("response_code", code), *tags.items()], n)
            else:
                name, tags = self._names(cluster, "upstream_rq_xx")
                for cls, n in (("2", ok_n), ("5", err_n)):
                    add(name, "counter", [("envoy_response_code_class", cls), *tags.items()], n)
                name, tags = self._names(cluster, "upstream_rq")
                for code, n in (("200", ok_n), ("503", err_n)):
                    add(name, "counter", [("envoy_response_code", code), *tags.items()], n)
            # Every value is a floor of a non-decreasing function of time (clamped to the total):
            # a counter that stepped back would read as a reset to Prometheus' rate().
            name, tags = self._names(cluster, "upstream_rq_time")
            fam = families.setdefault(name, ("histogram", []))
            labels = ",".join(f'{k}="{_escape(v)}"' for k, v in tags.items())
            previous = 0
            for le, b in zip(ENVOY_BUCKETS, buckets):
                n = max(previous, min(total, math.floor(b)))
                previous = n
                fam[1].append(f'{name}_bucket{{{labels},le="{_fmt(le)}"}} {n}')
            fam[1].append(f'{name}_bucket{{{labels},le="+Inf"}} {total}')
            fam[1].append(f"{name}_sum{{{labels}}} {_fmt(round(total_ms, 3))}")
            fam[1].append(f"{name}_count{{{labels}}} {total}")
        out = []
        for name in sorted(families):
            kind, lines = families[name]
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)
        return "\n".join(out) + "\n"

    # ---------------------------------------------------------------- HTTP

    def start(self) -> "EnvoyStatsExporter":
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] not in ("/stats/prometheus", "/metrics"):
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                exporter.scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    import sys
    ex = EnvoyStatsExporter({"outbound|9080|v1|reviews.default.svc.cluster.local": ClusterTraffic(40),
                             "outbound|9080|v2|reviews.default.svc.cluster.local": ClusterTraffic(10, 20)},
                            tags=sys.argv[1] if len(sys.argv) > 1 else "envoy")
    time.sleep(2)
    sys.stdout.write(ex.render())
