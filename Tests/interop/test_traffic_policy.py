"""DestinationRule traffic policies reach grpcio's real xDS client and act, counted at the
backends: circuit breaking (http2MaxRequests), outlier detection from Istio's own fields
(consecutive5xxErrors becomes failure-percentage ejection), consistent hashing on a header.
Every resource decodes with the official protos and passes their checks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import client_runner
import configs
import proto_check

HERE = Path(__file__).resolve().parent


def rule(policy: str) -> str:
    """A DestinationRule for reviews with `policy` (YAML, indented under trafficPolicy)."""
    return f"""\
apiVersion: {configs.API_VERSION}
kind: DestinationRule
metadata:
  name: reviews
  namespace: {configs.NAMESPACE}
spec:
  host: reviews
  trafficPolicy:
{policy}"""


def setup(meshd, backends, policy: str) -> dict:
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.join(configs.service_entry(), configs.workload_entry("v1", ports["v1"]),
                                       configs.workload_entry("v2", ports["v2"]), rule(policy)))
    meshd.wait_pushed(applied["revision"])
    return applied


def policy_client(meshd, node: str, *args: str, timeout: float = 40.0) -> dict:
    """Runs policy_client.py once (its own grpcio process and bootstrap); its JSON answer."""
    env = dict(os.environ)
    env.pop("GRPC_XDS_BOOTSTRAP", None)
    env["GRPC_XDS_BOOTSTRAP_CONFIG"] = json.dumps(client_runner.bootstrap(meshd.xds_address, node))
    env.setdefault("GRPC_VERBOSITY", "ERROR")
    done = subprocess.run([sys.executable, str(HERE / "policy_client.py"), "--target", configs.TARGET, *args],
                          capture_output=True, env=env, timeout=timeout)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def assert_valid_resources(ads_clients, meshd, node: str) -> dict:
    envoy = ads_clients(meshd.xds_address, node)
    envoy.wait_quiet(0.3, timeout=10)
    for kind in ("LDS", "RDS", "CDS", "EDS"):
        for name, resource in envoy.state[kind].items():
            problems = proto_check.find_problems(resource.message)
            assert not problems, f"{kind} {name}: {problems}"
    return envoy.state


def test_http2_max_requests_caps_concurrent_rpcs(meshd, backends, ads_clients, node_id):
    applied = setup(meshd, backends, """\
    connectionPool:
      http: {http2MaxRequests: 1}
      tcp: {maxConnections: 5}
""")
    # gRPC cannot honour tcp.maxConnections: accepted, warned per kind, counted.
    field = "spec.trafficPolicy.connectionPool.tcp.maxConnections"
    assert f"DestinationRule default/reviews: {field}: not honoured by proxyless gRPC clients" in applied["warnings"], applied
    status = meshd.push_status()
    assert any(u["field"] == field and u["proxyKind"] == "proxyless-grpc" for u in status["unhonouredFields"]), status
    assert re.search(r'^meshd_config_unhonoured_fields\{proxy_kind="proxyless-grpc"\} 1(\.0)?$', meshd.metrics(), re.M)

    for b in backends.values():
        b.delay = 1.0
    answer = policy_client(meshd, node_id("breaker"), "--concurrent", "5")
    # One RPC held at a backend at a time; the other four fail fast with UNAVAILABLE.
    assert answer["codes"] == {"OK": 1, "UNAVAILABLE": 4}, answer
    assert sum(b.calls for b in backends.values()) == 2, [b.calls for b in backends.values()]  # warm-up + 1
    assert max(b.max_in_flight for b in backends.values()) == 1
    state = assert_valid_resources(ads_clients, meshd, node_id("breaker-envoy"))
    cluster = state["CDS"][configs.cluster()].message
    assert cluster.circuit_breakers.thresholds[0].max_requests.value == 1


def test_outlier_detection_ejects_a_failing_backend(meshd, backends, xds_clients, ads_clients, node_id):
    applied = setup(meshd, backends, """\
    outlierDetection: {consecutive5xxErrors: 5, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50}
""")
    assert any("consecutive5xxErrors: substituted for proxyless gRPC clients: failure-percentage" in w
               for w in applied["warnings"]), applied
    backends["v1"].fail = True
    client = xds_clients(meshd.xds_address, node_id("outlier"))
    client.wait_ready()  # the warm-up may reach the failing backend: that is the point
    deadline = time.monotonic() + 10
    while True:
        window = client.run(40, name="eject")
        if window["failures"] == 0:
            break
        assert time.monotonic() < deadline, f"the failing backend was never ejected: {window}"
    failing_calls = backends["v1"].calls
    window = client.run(100, name="after")
    assert window["failures"] == 0 and window["counts"] == {"v2": 100}, window
    assert backends["v1"].calls == failing_calls  # ejected: not even tried
    outlier = assert_valid_resources(ads_clients, meshd, node_id("outlier-envoy"))["CDS"][configs.cluster()].message.outlier_detection
    assert outlier.failure_percentage_request_volume.value == 5 and outlier.enforcing_consecutive_5xx.value == 0


def test_consistent_hash_on_a_header_pins_each_value(meshd, backends, ads_clients, node_id):
    applied = setup(meshd, backends, """\
    loadBalancer:
      consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 64}}
""")
    assert not [w for w in applied["warnings"] if "trafficPolicy" in w], applied
    values = [f"user-{i}" for i in range(16)]
    answer = policy_client(meshd, node_id("hash"), "--header", "x-user", "--values", ",".join(values), "--repeat", "4")
    reached = set()
    for value, answers in answer["by_value"].items():
        assert len(set(answers)) == 1 and answers[0] in ("v1", "v2"), f"{value}: {answers}"
        reached.add(answers[0])
    assert reached == {"v1", "v2"}, answer
    state = assert_valid_resources(ads_clients, meshd, node_id("hash-envoy"))
    route = next(iter(state["RDS"].values())).message.virtual_hosts[0].routes[0].route
    assert [h.header.header_name for h in route.hash_policy] == ["x-user"]
