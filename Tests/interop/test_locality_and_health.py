"""Locality failover, endpoint health and DNS resolution, acted on by grpcio's real xDS client
and counted at the backends.

- Locality: with outlier detection (Istio's rule), the endpoint in the client's own locality
  is priority 0 and the other region priority 1; the priority-0 backend going down moves the
  traffic to priority 1, and its return moves it back — the client does this itself, from the
  priorities meshd sent for its locality.
- Health: a workload registered DRAINING or UNHEALTHY receives nothing; HEALTHY again, it does.
- DNS: a ServiceEntry with `resolution: DNS` whose endpoint is a name reaches grpcio as a
  LOGICAL_DNS cluster, which it resolves and routes to (an EDS endpoint must be an IP)."""

from __future__ import annotations

import json
import time

import client_runner
import configs
from backend import EchoBackend
from test_traffic_policy import assert_valid_resources, rule

HERE_LOCALITY = {"region": "us-east", "zone": "zone-a"}


def located_workload(version: str, port: int, locality: str) -> str:
    return configs.workload_entry(version, port).rstrip("\n") + f"\n  locality: {locality}\n"


def failover_rule() -> str:
    return rule("""\
    outlierDetection: {consecutive5xxErrors: 5, interval: 1s, baseEjectionTime: 30s}
    loadBalancer:
      localityLbSetting:
        failover: [{from: us-east, to: us-west}]
""")


def run_until(client, expect: str, deadline_s: float, what: str) -> dict:
    """Runs windows of 20 RPCs until one lands wholly on `expect`."""
    deadline = time.monotonic() + deadline_s
    while True:
        window = client.run(20, name=what, timeout=30)
        if window["failures"] == 0 and window["counts"] == {expect: 20}:
            return window
        assert time.monotonic() < deadline, f"{what}: traffic never settled on {expect}: {window}"
        time.sleep(0.2)


def test_locality_failover_moves_traffic_to_the_next_priority_and_back(meshd, backends, xds_clients, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.join(configs.service_entry(), located_workload("v1", ports["v1"], "us-east/zone-a"),
                                       located_workload("v2", ports["v2"], "us-west/zone-c"), failover_rule()))
    assert not [w for w in applied["warnings"] if "localityLbSetting" in w], applied
    meshd.wait_pushed(applied["revision"])
    node = node_id("east-client")
    boot = client_runner.bootstrap(meshd.xds_address, node)
    boot["node"]["locality"] = HERE_LOCALITY
    client = xds_clients(meshd.xds_address, node, bootstrap_json=json.dumps(boot), deadline=5.0)
    client.wait_ready()
    # The client's own locality first: every RPC to v1 while it is up.
    window = client.run(100, name="local")
    assert window["failures"] == 0 and window["counts"] == {"v1": 100}, window

    port = backends["v1"].port
    backends["v1"].stop()
    run_until(client, "v2", 30, "failed-over")
    restarted = EchoBackend("v1", port=port).start()
    try:
        run_until(client, "v1", 60, "failed-back")
    finally:
        restarted.stop()

    # What made it happen: priorities relative to the client's locality, for this client only.
    envoy = ads_clients(meshd.xds_address, node_id("east-envoy"), locality=HERE_LOCALITY)
    envoy.wait_quiet(0.3, timeout=10)
    cla = envoy.state["EDS"][configs.cluster()].message
    by_port = {lb.endpoint.address.socket_address.port_value: group.priority
               for group in cla.endpoints for lb in group.lb_endpoints}
    assert by_port == {ports["v1"]: 0, ports["v2"]: 1}, cla
    assert_valid_resources(ads_clients, meshd, node_id("east-check"))


def register(meshd, name: str, port: int, health: str) -> int:
    body = {"address": "127.0.0.1", "ports": {"grpc": port}, "labels": {"app": "reviews", "version": name}, "health": health}
    r = meshd.request("PUT", f"/api/v1/registry/workloads/{configs.NAMESPACE}/reviews-{name}", json.dumps(body),
                      content_type="application/json")
    assert r.status == 200, r
    return r.json()["revision"]


def test_draining_and_unhealthy_workloads_receive_nothing(meshd, backends, xds_clients, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    meshd.wait_pushed(meshd.apply(configs.service_entry())["revision"])
    register(meshd, "v2", ports["v2"], "HEALTHY")
    meshd.wait_pushed(register(meshd, "v1", ports["v1"], "DRAINING"))
    client = xds_clients(meshd.xds_address, node_id("health"))
    client.wait_ready()
    for health in ("DRAINING", "UNHEALTHY"):
        meshd.wait_pushed(register(meshd, "v1", ports["v1"], health))
        calls = backends["v1"].calls
        run_until(client, "v2", 20, health.lower())
        window = client.run(100, name=f"{health.lower()}-count")
        assert window["counts"] == {"v2": 100}, window
        assert backends["v1"].calls == calls
    meshd.wait_pushed(register(meshd, "v1", ports["v1"], "HEALTHY"))
    deadline = time.monotonic() + 20
    while set(client.run(100, name="healthy")["counts"]) != {"v1", "v2"}:
        assert time.monotonic() < deadline, "v1 never received traffic again"
    statuses = {lb.endpoint.address.socket_address.port_value: lb.health_status
                for group in assert_valid_resources(ads_clients, meshd, node_id("health-envoy"))["EDS"][configs.cluster()].message.endpoints
                for lb in group.lb_endpoints}
    assert set(statuses.values()) == {1}, statuses  # HEALTHY
    bad = meshd.request("PUT", f"/api/v1/registry/workloads/{configs.NAMESPACE}/reviews-v1",
                        json.dumps({"address": "127.0.0.1", "health": "SICK"}), content_type="application/json")
    assert bad.status == 422 and bad.json()["error"]["field"] == "health", bad.text


def dns_service_entry(port: int) -> str:
    return f"""\
apiVersion: {configs.API_VERSION}
kind: ServiceEntry
metadata:
  name: reviews
  namespace: {configs.NAMESPACE}
spec:
  hosts: [{configs.HOST}]
  ports: [{{number: 9080, name: grpc, protocol: GRPC}}]
  resolution: DNS
  endpoints: [{{address: localhost, ports: {{grpc: {port}}}}}]
"""


def test_dns_resolution_reaches_grpc_as_a_name_it_resolves(meshd, backends, xds_clients, ads_clients, node_id):
    applied = meshd.apply(dns_service_entry(backends["v1"].port))
    meshd.wait_pushed(applied["revision"])
    assert any("resolution: substituted for proxyless gRPC clients: gRPC clients resolve one name" in w
               for w in applied["warnings"]), applied
    client = xds_clients(meshd.xds_address, node_id("dns"))
    client.wait_ready()
    window = client.run(50, name="dns")
    assert window["failures"] == 0 and window["counts"] == {"v1": 50}, window
    state = assert_valid_resources(ads_clients, meshd, node_id("dns-envoy"))
    cluster = state["CDS"][configs.cluster()].message
    assert cluster.type == cluster.LOGICAL_DNS
    assert cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address == "localhost"
    assert configs.cluster() not in state["EDS"]
