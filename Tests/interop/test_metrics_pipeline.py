"""Self-test of the observed-traffic pipeline (needs no meshd): a real Prometheus scraping
instrumented grpcio backends and a proxyless client (otel_workload.py) and the Envoy stats
exporter, with fake_ads.py serving the canary at 80/20 and, as meshd does, each cluster's
`com.google.csm.telemetry_labels` (service_name = the cluster name, service_namespace).

It pins what meshd's PromQL relies on: the metric and label names gRPC's OpenTelemetry plugins
produce through opentelemetry-exporter-prometheus, the CSM labels on client attempts, A66's
latency buckets (with the SDK's defaults p50 would read in seconds), and that PromQL of meshd's
shapes gives the split, the error rate and the latency of each subset.
"""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2

import configs
import fake_ads
from envoy_stats_exporter import ClusterTraffic, expected_quantile, latency_points
from observed_pipeline import TrafficPipeline
from results import record_result

WINDOW = "10s"
RATE = 60.0
ENVOY = {
    configs.cluster("v1"): ClusterTraffic(rps=40, error_percent=0, latency=latency_points(p50=20, p99=200)),
    configs.cluster("v2"): ClusterTraffic(rps=10, error_percent=20, latency=latency_points(p50=40, p99=400)),
}

# The series and labels meshd reads (Sources/ObservedTraffic/TrafficSource.swift).
CLIENT_COUNT = "grpc_client_attempt_duration_seconds_count"
CLIENT_BUCKET = "grpc_client_attempt_duration_seconds_bucket"
SERVER_COUNT = "grpc_server_call_duration_seconds_count"
SERVER_BUCKET = "grpc_server_call_duration_seconds_bucket"
CLIENT_LABELS = {"csm_service_name", "csm_service_namespace_name", "grpc_method", "grpc_status", "grpc_target",
                 "otel_scope_name", "otel_scope_version"}
SERVER_LABELS = {"grpc_method", "grpc_status", "otel_scope_name", "otel_scope_version"}


def with_csm_labels(resources: dict) -> dict:
    """What meshd adds to every proxyless cluster (Translator/Proxyless/CSMTelemetryLabels.swift)."""
    for name, cluster in resources["CDS"].items():
        labels = struct_pb2.Struct()
        labels.update({"service_name": name, "service_namespace": configs.NAMESPACE})
        cluster.metadata.filter_metadata["com.google.csm.telemetry_labels"].CopyFrom(labels)
    return resources


def cluster_query(metric: str, matchers: str, label: str, measure: str) -> str:
    """meshd's query over series named by a cluster label (TrafficQuery.clusterQuery)."""
    rate = f'rate({metric}{{{label}=~"outbound\\\\|[0-9]+\\\\|[^|]*\\\\|{configs.HOST}"{matchers}}}[{WINDOW}])'
    rate = f'label_replace({rate}, "meshd_subset", "$1", "{label}", "outbound\\\\|[0-9]+\\\\|([^|]*)\\\\|.*")'
    if measure == "sum":
        return f"sum by (meshd_subset) ({rate})"
    return f"histogram_quantile({measure}, sum by (meshd_subset, le) ({rate}))"


def workload_query(metric: str, matchers: str, measure: str) -> str:
    """meshd's query over the destination workloads' own series, selected by their labels."""
    rate = f'rate({metric}{{app="reviews",namespace="{configs.NAMESPACE}"{matchers}}}[{WINDOW}])'
    if measure == "sum":
        return f"sum by (version) ({rate})"
    return f"histogram_quantile({measure}, sum by (version, le) ({rate}))"


def shares(rates: dict) -> dict:
    total = sum(rates.values())
    return {k: 100.0 * v / total for k, v in rates.items()} if total else {}


@pytest.fixture
def pipeline(request):
    ads = fake_ads.FakeAds().start()
    pipe = TrafficPipeline(fail_percent={"v1": 0, "v2": 30}, clients=1, envoy=ENVOY)
    request.node._interop_logs = getattr(request.node, "_interop_logs", []) + [("pipeline", pipe.describe)]
    try:
        pipe.start()
        ads.set_resources(with_csm_labels(fake_ads.canary_resources(pipe.ports, {"v1": 80, "v2": 20})))
        yield pipe, ads
    finally:
        pipe.close()
        ads.stop()


def test_metrics_pipeline_names_shares_errors_latency(pipeline):
    pipe, ads = pipeline
    client = pipe.start_client(ads.address, "pipeline-client", rate=RATE)
    pipe.wait_scraped()
    prom = pipe.prometheus
    # Bounded: the window holds enough samples once the client's attempts have been counted for
    # WINDOW plus two scrapes (the wait is for data, not an assertion on time).
    prom.wait_for(f"count_over_time(sum({CLIENT_COUNT})[30s:1s])",
                  lambda r: r and float(r[0]["value"][1]) >= 12, timeout=30, what="12 s of client samples")

    # Names and labels, as Prometheus stores them.
    client_series = prom.query(CLIENT_COUNT)
    assert client_series, "no grpc.client.attempt.duration series"
    keys = set().union(*(s["metric"] for s in client_series))
    assert CLIENT_LABELS <= keys, f"client attempt labels {sorted(keys)}"
    names = {s["metric"]["csm_service_name"] for s in client_series}
    assert names <= {configs.cluster("v1"), configs.cluster("v2")} and names, names
    assert {s["metric"]["csm_service_namespace_name"] for s in client_series} == {configs.NAMESPACE}
    assert {s["metric"]["grpc_method"] for s in client_series} == {"meshd.test.Echo/Who"}
    assert {s["metric"]["otel_scope_name"] for s in client_series} == {"grpc-python"}
    started = prom.query("grpc_client_attempt_started_total")
    assert started and all("csm_service_name" not in s["metric"] for s in started), (
        "attempt.started has no cluster yet (the pick comes later): rates come from the duration histogram")
    server_series = prom.query(SERVER_COUNT)
    skeys = set().union(*(s["metric"] for s in server_series))
    assert SERVER_LABELS | {"app", "version", "namespace"} <= skeys, f"server call labels {sorted(skeys)}"
    assert prom.query("grpc_server_call_started_total"), "counters carry the _total suffix"

    # Client side: the split, the errors (v2's backend fails every third-and-a-bit call: 30%).
    rps = prom.query_values(cluster_query(CLIENT_COUNT, "", "csm_service_name", "sum"), "meshd_subset")
    errors = prom.query_values(cluster_query(CLIENT_COUNT, ',grpc_status!="OK"', "csm_service_name", "sum"), "meshd_subset")
    p50 = prom.query_values(cluster_query(CLIENT_BUCKET, "", "csm_service_name", "0.5"), "meshd_subset")
    p99 = prom.query_values(cluster_query(CLIENT_BUCKET, "", "csm_service_name", "0.99"), "meshd_subset")
    counted = client.counts()
    record_result("metrics-pipeline", f"client rps={rps} errors={errors} p50={p50} p99={p99} probe={counted}")
    assert counted["failures"].keys() <= {"INTERNAL"}, counted
    share = shares(rps)
    # 10 s at 60 RPC/s: about 600 RPCs; one binomial sigma at 80/20 is 1.6 points.
    assert abs(share["v1"] - 80) <= 8 and abs(share["v2"] - 20) <= 8, share
    assert 0.75 * RATE <= sum(rps.values()) <= 1.25 * RATE, rps
    assert errors.get("v1", 0) == 0, errors
    assert 24 <= 100 * errors["v2"] / rps["v2"] <= 36, (errors, rps)
    for subset in ("v1", "v2"):
        # With the SDK's default buckets (0, 5, 10, ... seconds) p50 would read 2500 ms.
        assert 0 < p50[subset] * 1000 <= p99[subset] * 1000 < 1000, (p50, p99)
        assert p50[subset] * 1000 < 250, f"p50 {p50[subset] * 1000} ms: A66's buckets not applied?"

    # Destination side: the same split and errors, from the backends' own series by labels.
    drps = prom.query_values(workload_query(SERVER_COUNT, "", "sum"), "version")
    derrors = prom.query_values(workload_query(SERVER_COUNT, ',grpc_status!="OK"', "sum"), "version")
    dp99 = prom.query_values(workload_query(SERVER_BUCKET, "", "0.99"), "version")
    record_result("metrics-pipeline", f"destination rps={drps} errors={derrors} p99={dp99}")
    dshare = shares(drps)
    assert abs(dshare["v1"] - 80) <= 8 and abs(dshare["v2"] - 20) <= 8, dshare
    assert derrors.get("v1", 0) == 0 and 24 <= 100 * derrors["v2"] / drps["v2"] <= 36, (derrors, drps)
    assert all(0 < v * 1000 < 1000 for v in dp99.values()) and set(dp99) == {"v1", "v2"}, dp99

    # Envoy: rates, 5xx share and latency quantiles as configured in the exporter.
    label = "envoy_cluster_name"
    erps = prom.query_values(cluster_query("envoy_cluster_upstream_rq_xx", "", label, "sum"), "meshd_subset")
    e5xx = prom.query_values(cluster_query("envoy_cluster_upstream_rq_xx", ',envoy_response_code_class="5"', label, "sum"),
                             "meshd_subset")
    ep50 = prom.query_values(cluster_query("envoy_cluster_upstream_rq_time_bucket", "", label, "0.5"), "meshd_subset")
    ep99 = prom.query_values(cluster_query("envoy_cluster_upstream_rq_time_bucket", "", label, "0.99"), "meshd_subset")
    record_result("metrics-pipeline", f"envoy rps={erps} 5xx={e5xx} p50={ep50} p99={ep99}")
    for subset in ("v1", "v2"):
        traffic = ENVOY[configs.cluster(subset)]
        assert abs(erps[subset] - traffic.rps) <= 0.1 * traffic.rps, erps
        assert abs(100 * e5xx.get(subset, 0) / erps[subset] - traffic.error_percent) <= 1.5, (e5xx, erps)
        for q, got in ((0.5, ep50[subset]), (0.99, ep99[subset])):
            want = expected_quantile(traffic.latency, q)
            assert abs(got - want) <= 0.1 * want, f"{subset} q{q}: {got} ms, want {want:.1f}"
