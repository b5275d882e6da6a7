"""The observed-traffic pipeline on loopback: a real Prometheus scraping instrumented gRPC
backends and proxyless clients (otel_workload.py) and Envoy-like stats (envoy_stats_exporter.py).

    pipe = TrafficPipeline(fail_percent={"v2": 0}, clients=1, envoy=None).start()
    pipe.backends["v1"].port              # where the WorkloadEntry (or the fake ADS) points
    client = pipe.start_client(xds_address, node_id, rate=80)
    pipe.prometheus.url                   # for meshd --prometheus-url
    pipe.close()

Prometheus 2.42 scrapes a target first about 5 s after it loaded the target (its discovery
manager sends updates at most every 5 s), so every port is chosen up front and Prometheus starts
first, with every target named; the backends and clients start while it waits, and
`wait_scraped()` then waits (bounded) until every target was scraped "up".

Scrape target labels stand in for Kubernetes service discovery with the usual relabelling
(prometheus_server.pod_labels): backends `app=reviews`, `version=<subset>`, `namespace=default`,
as their WorkloadEntries carry (configs.workload_entry); clients and the Envoy exporter
`app=productpage` (the caller's own labels, which no destination query may pick up).
"""

from __future__ import annotations

import time

import configs
from envoy_stats_exporter import EnvoyStatsExporter
from otel_runner import OtelBackend, OtelClient
from prometheus_server import PrometheusServer, free_port, pod_labels

APP = "reviews"
CALLER_LABELS = {"app": "productpage", "version": "v1"}


class TrafficPipeline:
    def __init__(self, fail_percent: dict | None = None, clients: int = 1, envoy: dict | None = None,
                 envoy_tags: str = "envoy", namespace: str = configs.NAMESPACE):
        """fail_percent: subset -> share of calls its backend fails (the subsets to run, v1 and v2
        by default); clients: how many instrumented clients may be started; envoy: cluster ->
        ClusterTraffic for an Envoy stats exporter (None: none)."""
        self.fail_percent = dict(fail_percent if fail_percent is not None else {"v1": 0, "v2": 0})
        self.namespace = namespace
        self.backends: dict[str, OtelBackend] = {}
        self.clients: list[OtelClient] = []
        self._backend_ports = {s: (free_port(), free_port()) for s in self.fail_percent}
        self._client_ports = [free_port() for _ in range(clients)]
        self.envoy = EnvoyStatsExporter(envoy, tags=envoy_tags) if envoy is not None else None
        self.prometheus = PrometheusServer()
        for subset, (_, metrics) in self._backend_ports.items():
            self.prometheus.add_target("grpc-servers", f"127.0.0.1:{metrics}",
                                       pod_labels({"app": APP, "version": subset}, namespace))
        for port in self._client_ports:
            self.prometheus.add_target("grpc-clients", f"127.0.0.1:{port}", pod_labels(CALLER_LABELS, namespace))

    def start(self) -> "TrafficPipeline":
        try:
            if self.envoy is not None:
                self.envoy.start()
                self.prometheus.add_target("envoy-sidecars", self.envoy.address, pod_labels(CALLER_LABELS, self.namespace))
            self.prometheus.start()
            for subset, (port, metrics) in self._backend_ports.items():
                self.backends[subset] = OtelBackend(subset, fail_percent=self.fail_percent[subset], port=port,
                                                    metrics_port=metrics).start()
        except BaseException:
            self.close()
            raise
        return self

    @property
    def ports(self) -> dict:
        """subset -> the backend's gRPC port."""
        return {s: b.port for s, b in self.backends.items()}

    def start_client(self, xds_address: str, node_id: str, rate: float = 60.0, **kw) -> OtelClient:
        """Starts the next instrumented client (at most `clients`); returns once its warm-up RPC
        through xDS answered."""
        if len(self.clients) >= len(self._client_ports):
            raise AssertionError(f"only {len(self._client_ports)} client scrape targets were configured")
        client = OtelClient(xds_address, node_id, rate=rate, metrics_port=self._client_ports[len(self.clients)], **kw)
        self.clients.append(client)
        return client.start()

    def wait_scraped(self, timeout: float = 20.0) -> list:
        """Every target scraped with health "up" (clients not started yet are not waited for)."""
        expected = len(self.clients) + len(self.backends) + (1 if self.envoy is not None else 0)
        started = {b.metrics_address for b in self.backends.values()} | {c.metrics_address for c in self.clients}
        if self.envoy is not None:
            started.add(self.envoy.address)

        def ready(targets):
            up = [t for t in targets if t["labels"]["instance"] in started and t["health"] == "up"]
            return len(up) == expected

        deadline = time.monotonic() + timeout
        targets = []
        while time.monotonic() < deadline:
            targets = self.prometheus.targets()
            if ready(targets):
                return targets
            time.sleep(0.2)
        summary = [(t["labels"].get("instance"), t["health"], t.get("lastError")) for t in targets]
        raise AssertionError(f"not every started target scraped up within {timeout}s: {summary}\n{self.prometheus.tail()}")

    def describe(self) -> str:
        parts = [self.prometheus.tail(30)]
        parts += [b.stderr_tail(20) for b in self.backends.values()]
        parts += [c.stderr_tail(20) for c in self.clients]
        return "\n".join(parts)

    def close(self) -> None:
        for proc in [*self.clients, *self.backends.values()]:
            try:
                proc.close()
            except Exception:  # close the rest whatever one did
                pass
        if self.envoy is not None:
            self.envoy.stop()
        self.prometheus.stop()
