"""Everything meshd sends decodes with the official Envoy protos (xds-protos), with no unknown
fields at any depth, and has the shape a proxyless gRPC client needs."""

from __future__ import annotations

import time

from envoy.config.cluster.v3 import cluster_pb2

import configs
import proto_check
from ads_client import TYPE_URLS, RESOURCE_WRAPPER, http_connection_managers, weighted_clusters

ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"


def test_resources_decode_with_official_protos(meshd, backends, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"]))
    meshd.wait_pushed(applied["revision"])

    c = ads_clients(meshd.xds_address, node_id("ads"))
    c.wait_complete(timeout=10)

    # --- the wire: every response, every resource, every packed Any -------------------
    problems = []
    for rec in c.responses:
        resp = rec.raw
        where = f"response #{rec.seq} ({rec.type})"
        assert resp.type_url in TYPE_URLS.values(), f"{where}: unexpected type_url {resp.type_url!r}"
        assert resp.nonce, f"{where}: empty nonce"
        assert resp.version_info, f"{where}: empty version_info"
        for i, any_msg in enumerate(resp.resources):
            assert any_msg.type_url in (resp.type_url, RESOURCE_WRAPPER), (
                f"{where}: resource {i} has type_url {any_msg.type_url!r}, response says {resp.type_url!r}")
        problems += [f"{where}: {p}" for p in proto_check.find_problems(resp)]
    assert not problems, "fields or types the official protos don't know:\n" + "\n".join(problems)

    # --- LDS: an API listener named host:port, HCM over RDS, Router last ------------------
    listeners = {n: r.message for n, r in c.state["LDS"].items()}
    assert configs.LISTENER in listeners, f"no listener {configs.LISTENER}: {sorted(listeners)}"
    listener = listeners[configs.LISTENER]
    assert listener.HasField("api_listener"), f"listener {configs.LISTENER} has no api_listener: {listener}"
    (hcm,) = http_connection_managers(listener)
    assert hcm.HasField("rds"), f"HCM does not use RDS: {hcm}"
    assert hcm.rds.route_config_name == configs.LISTENER
    assert hcm.rds.config_source.HasField("ads"), f"RDS config source is not ADS: {hcm.rds.config_source}"
    assert hcm.http_filters, "HCM has no http_filters"
    assert hcm.http_filters[-1].typed_config.type_url == ROUTER, (
        f"last http filter is not the Router: {[f.name for f in hcm.http_filters]}")

    # --- RDS: weighted clusters to the two subsets -----------------------------------------
    assert configs.LISTENER in c.state["RDS"], f"no route config {configs.LISTENER}: {sorted(c.state['RDS'])}"
    weights = weighted_clusters(c.state["RDS"][configs.LISTENER].message)
    assert weights == {configs.cluster("v1"): 50, configs.cluster("v2"): 50}, weights

    # --- CDS: EDS clusters over ADS, lb policies grpcio accepts -----------------------------
    clusters = {n: r.message for n, r in c.state["CDS"].items()}
    for name in (configs.cluster(""), configs.cluster("v1"), configs.cluster("v2")):
        assert name in clusters, f"no cluster {name}: {sorted(clusters)}"
    for name, cl in clusters.items():
        assert cl.WhichOneof("cluster_discovery_type") == "type" and cl.type == cluster_pb2.Cluster.EDS, (
            f"cluster {name} is not type EDS: {cl}")
        assert cl.eds_cluster_config.eds_config.HasField("ads"), f"cluster {name}: EDS config source is not ADS"
        assert (cl.eds_cluster_config.service_name or name) == name, (
            f"cluster {name}: eds service_name {cl.eds_cluster_config.service_name!r}")
        assert cl.lb_policy in (cluster_pb2.Cluster.ROUND_ROBIN, cluster_pb2.Cluster.RING_HASH), (
            f"cluster {name}: lb_policy {cl.lb_policy} is neither ROUND_ROBIN nor RING_HASH")

    # --- EDS: every locality weighted, the right endpoints ---------------------------------
    def endpoints(cla):
        out = set()
        for loc in cla.endpoints:
            assert loc.HasField("load_balancing_weight") and loc.load_balancing_weight.value > 0, (
                f"{cla.cluster_name}: locality {loc.locality} has no load_balancing_weight (grpcio drops it)")
            for lb in loc.lb_endpoints:
                sa = lb.endpoint.address.socket_address
                out.add((sa.address, sa.port_value))
        return out

    cla = {n: r.message for n, r in c.state["EDS"].items()}
    assert endpoints(cla[configs.cluster("v1")]) == {("127.0.0.1", ports["v1"])}
    assert endpoints(cla[configs.cluster("v2")]) == {("127.0.0.1", ports["v2"])}
    assert endpoints(cla[configs.cluster("")]) == {("127.0.0.1", ports["v1"]), ("127.0.0.1", ports["v2"])}
    for name, m in cla.items():
        endpoints(m)

    # --- once everything is ACKed, the stream stays quiet ----------------------------------
    n = len(c.responses)
    time.sleep(1.0)
    extra = c.responses[n:]
    assert not extra, f"meshd kept sending after every response was ACKed: {extra}\n{c.describe()}"
