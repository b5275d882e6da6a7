"""An Envoy ingress gateway against a real meshd: a client that connects as Envoy does (node id
`router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local`, user_agent_name
`envoy`, labels `istio: ingressgateway`), over state of the world and over Delta, receives CDS,
EDS, LDS and RDS in istiod's gateway shapes and names for HTTP, HTTPS SIMPLE and MUTUAL (secret
names only), PASSTHROUGH and TCP servers; everything decodes with the official protos and passes
Envoy's PGV rules and cross-resource rules (test_envoy_sidecar's invariants).

The canary runs through it: reviews.example.com bound to the mesh and the gateway, 50/50, then
0/100. And the per-binding host ownership with grpcio's real client: an older VirtualService bound
only to a gateway does not take `reviews` from the mesh-bound one.
"""

from __future__ import annotations

import configs
import scenarios
from ads_client import weighted_clusters
from test_envoy_sidecar import _apply, _tcp_clusters, _validate

NODE = "router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local"
LABELS = {"LABELS": {"istio": "ingressgateway"}}
DOWNSTREAM_TLS = "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"


def gateway() -> str:
    return f"""\
apiVersion: {configs.API_VERSION}
kind: Gateway
metadata: {{name: ingress, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts: [reviews.example.com]
  - port: {{number: 443, name: https, protocol: HTTPS}}
    hosts: [reviews.example.com]
    tls: {{mode: SIMPLE, credentialName: reviews-cert, minProtocolVersion: TLSV1_2, cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256]}}
  - port: {{number: 443, name: mtls, protocol: HTTPS}}
    hosts: [partners.example.com]
    tls: {{mode: MUTUAL, credentialName: partners-cert, subjectAltNames: [partner.example.org]}}
  - port: {{number: 9443, name: tls-passthrough, protocol: TLS}}
    hosts: ["*.example.com"]
    tls: {{mode: PASSTHROUGH}}
  - port: {{number: 3306, name: mysql, protocol: TCP}}
    hosts: ["*"]
"""


def edge_routes(v1: int, v2: int) -> str:
    return f"""\
apiVersion: {configs.API_VERSION}
kind: VirtualService
metadata: {{name: reviews, namespace: default}}
spec:
  hosts: [reviews, reviews.example.com, partners.example.com]
  gateways: [mesh, istio-system/ingress]
  http:
  - route:
    - {{destination: {{host: reviews, subset: v1}}, weight: {v1}}}
    - {{destination: {{host: reviews, subset: v2}}, weight: {v2}}}
---
apiVersion: {configs.API_VERSION}
kind: VirtualService
metadata: {{name: edge-l4, namespace: default}}
spec:
  hosts: [api.example.com, mysql.default.svc.cluster.local]
  gateways: [istio-system/ingress]
  tls: [{{match: [{{port: 9443, sniHosts: [api.example.com]}}], route: [{{destination: {{host: api.example.com, port: {{number: 443}}}}}}]}}]
  tcp: [{{match: [{{port: 3306}}], route: [{{destination: {{host: mysql.default.svc.cluster.local, port: {{number: 3306}}}}}}]}}]
"""


def _edge_weights(client, route: str, host: str) -> dict:
    rc = client.state["RDS"][route].message
    vh = next(v for v in rc.virtual_hosts if v.name == host)
    return weighted_clusters(type(rc)(virtual_hosts=[vh]))


def test_an_envoy_gateway_gets_istiods_shapes_and_follows_the_canary(meshd, ads_clients, delta_clients):
    _apply(meshd, configs.join(configs.canary(9081, 9082), configs.envoy_mesh(), gateway(), edge_routes(50, 50)))
    sotw = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[], metadata=LABELS)
    sotw.wait_quiet(0.5)
    _validate(sotw.state)
    listeners = {n: r.message for n, r in sotw.state["LDS"].items()}
    assert set(listeners) == {"0.0.0.0_80", "0.0.0.0_443", "0.0.0.0_9443", "0.0.0.0_3306", "0.0.0.0_15021", "0.0.0.0_15090"}
    assert all(not l.HasField("bind_to_port") or l.bind_to_port.value for l in listeners.values()), "gateways listen for real"
    assert set(sotw.state["RDS"]) == {"http.80", "https.443.https.ingress.istio-system", "https.443.mtls.ingress.istio-system"}

    https = listeners["0.0.0.0_443"]
    assert [list(c.filter_chain_match.server_names) for c in https.filter_chains] == [["reviews.example.com"], ["partners.example.com"]]
    contexts = [proto_unpack(c.transport_socket.typed_config) for c in https.filter_chains]
    assert [s.name for s in contexts[0].common_tls_context.tls_certificate_sds_secret_configs] == ["kubernetes://reviews-cert"]
    assert contexts[0].common_tls_context.tls_certificate_sds_secret_configs[0].sds_config.HasField("ads")
    assert contexts[0].common_tls_context.tls_params.cipher_suites == ["ECDHE-RSA-AES128-GCM-SHA256"]
    assert contexts[1].require_client_certificate.value is True
    combined = contexts[1].common_tls_context.combined_validation_context
    assert combined.validation_context_sds_secret_config.name == "kubernetes://partners-cert-cacert"
    assert [m.exact for m in combined.default_validation_context.match_subject_alt_names] == ["partner.example.org"]
    assert [list(c.filter_chain_match.server_names) for c in listeners["0.0.0.0_9443"].filter_chains] == [["api.example.com"]]
    assert _tcp_clusters(listeners["0.0.0.0_9443"]) == {"outbound|443||api.example.com"}
    assert _tcp_clusters(listeners["0.0.0.0_3306"]) == {"outbound|3306||mysql.default.svc.cluster.local"}

    plain = sotw.state["RDS"]["http.80"].message
    assert [(v.name, list(v.domains)) for v in plain.virtual_hosts] == [("reviews.example.com:80", ["reviews.example.com"])]
    assert plain.ignore_port_in_host_matching and plain.validate_clusters.value is False
    assert _edge_weights(sotw, "http.80", "reviews.example.com:80") == {configs.cluster("v1"): 50, configs.cluster("v2"): 50}
    assert {"BlackHoleCluster", configs.cluster("v1"), configs.cluster("v2")} <= set(sotw.state["CDS"])
    assert "PassthroughCluster" not in sotw.state["CDS"]
    entry = meshd.wait_synced(NODE)
    assert entry["kind"] == "gateway" and "gateways=istio-system/ingress" in entry["viewKey"], entry

    # Delta: the same resources, byte for byte.
    delta = delta_clients(meshd.xds_address, NODE, metadata=LABELS)
    for t in ("CDS", "LDS"):
        delta.subscribe(t)
    delta.wait_for(lambda c: c.state["CDS"] and c.state["LDS"], 10, "CDS and LDS")
    delta.subscribe("EDS", list(sotw.state["EDS"]))
    delta.subscribe("RDS", list(sotw.state["RDS"]))
    delta.wait_for(lambda c: len(c.state["RDS"]) == 3 and c.state["EDS"], 10, "EDS and RDS")
    _validate(delta.state)
    for t in ("CDS", "EDS", "LDS", "RDS"):
        assert {n: r.value for n, r in delta.state[t].items()} == {n: r.value for n, r in sotw.state[t].items()}, t

    # The shift through the edge: everything to v2, on both the plain and the TLS routes.
    synced = meshd.wait_synced(NODE)
    _apply(meshd, edge_routes(0, 100))
    sotw.wait_for(lambda c: _edge_weights(c, "http.80", "reviews.example.com:80") == {configs.cluster("v2"): 0}, 10, "v2 at the edge")
    meshd.wait_synced(NODE, changed_from=meshd.acked_versions(synced))
    sotw.wait_quiet(0.5)
    _validate(sotw.state)
    assert _edge_weights(sotw, "https.443.https.ingress.istio-system", "reviews.example.com:443") == {configs.cluster("v2"): 0}


def proto_unpack(any_msg):
    import proto_check
    assert any_msg.type_url.endswith("/" + DOWNSTREAM_TLS), any_msg.type_url
    return proto_check.unpack(any_msg)


def test_a_gateway_only_virtual_service_does_not_take_the_mesh_host(meshd, backends, xds_clients, node_id):
    """The older VirtualService for reviews is bound only to a gateway, the newer (same namespace)
    to the mesh: grpcio's real client follows the newer one, every RPC to v2."""
    ports = {n: b.port for n, b in backends.items()}
    edge_only = f"""\
apiVersion: {configs.API_VERSION}
kind: VirtualService
metadata: {{name: reviews-edge, namespace: default}}
spec:
  hosts: [reviews]
  gateways: [istio-system/some-gateway]
  http: [{{route: [{{destination: {{host: reviews, subset: v1}}}}]}}]
"""
    meshd.wait_pushed(meshd.apply(configs.join(edge_only))["revision"])
    meshd.wait_pushed(meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 0, "v2": 100}))["revision"])
    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)
    window = client.run(200, name="after-edge-only")
    scenarios.assert_no_failures(window, "200 RPCs to reviews")
    assert window["counts"] == {"v2": 200}, window["counts"]


def test_meshctl_shows_a_gateway_its_config_and_its_conflicts(meshd, ads_clients):
    """`meshctl get gw`, `proxy-config listeners|routes|clusters` for a gateway, and a server that
    conflicts with an older one: skipped, named in the apply answer and /debug/push_status."""
    from meshd_process import run_meshctl
    _apply(meshd, configs.join(configs.canary(9081, 9082), configs.envoy_mesh(), gateway(), edge_routes(50, 50)))
    sotw = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[], metadata=LABELS)
    sotw.wait_quiet(0.5)
    meshd.wait_synced(NODE)
    listed = run_meshctl(meshd.admin_url, "get", "gw", "-A").stdout
    assert "istio-system" in listed and "ingress" in listed, listed
    listeners = run_meshctl(meshd.admin_url, "proxy-config", "listeners", "ingress-1.istio-system").stdout
    assert "0.0.0.0_443" in listeners and "https.443.https.ingress.istio-system" in listeners, listeners
    assert "reviews.example.com" in listeners, listeners
    routes = run_meshctl(meshd.admin_url, "proxy-config", "routes", "ingress-1.istio-system").stdout
    assert "http.80" in routes and "reviews.example.com:80" in routes, routes
    clusters = run_meshctl(meshd.admin_url, "proxy-config", "clusters", "ingress-1.istio-system").stdout
    assert "BlackHoleCluster" in clusters and "PassthroughCluster" not in clusters, clusters

    conflicting = f"""\
apiVersion: {configs.API_VERSION}
kind: Gateway
metadata: {{name: late, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 80, name: tcp, protocol: TCP}}
    hosts: ["*"]
"""
    answer = meshd.apply(conflicting)
    warnings = [w for w in answer.get("warnings", []) if "server skipped" in str(w)]
    assert warnings and "istio-system/ingress" in str(warnings[0]), answer
    meshd.wait_pushed(answer["revision"])
    rejected = meshd.push_status()["rejectedGatewayServers"]
    assert [(r["name"], r["field"]) for r in rejected] == [("late", "spec.servers[0]")], rejected
    sotw.wait_quiet(0.5)
    _validate(sotw.state)
    assert _tcp_clusters(sotw.state["LDS"]["0.0.0.0_80"].message) == set(), "port 80 stays the older HTTP server's"
