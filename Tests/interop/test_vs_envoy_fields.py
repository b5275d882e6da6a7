"""VirtualService fields only Envoy honours (rewrite, header operations, mirrors, CORS, tcp/tls):
grpcio accepts what meshd sends (no NACK) and routes exactly as the rules route without them
(the shared routing table's rows, run by test_routing_table.py, include these rules); the apply
answer warns per field; an Envoy sidecar gets the CORS filter and per-route policies, and every
resource it gets decodes with the official protos and passes Envoy's PGV rules."""
from __future__ import annotations

from pathlib import Path

from envoy.extensions.filters.http.cors.v3 import cors_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2

import configs
import proto_check
import scenarios

TABLE = Path(__file__).resolve().parent.parent / "Shared" / "routing"
TCP_TLS = f"""\
apiVersion: {configs.API_VERSION}
kind: VirtualService
metadata: {{name: reviews-l4, namespace: {configs.NAMESPACE}}}
spec:
  hosts: [reviews.l4.example]
  tcp: [{{route: [{{destination: {{host: reviews, subset: v1}}}}]}}]
  tls: [{{match: [{{sniHosts: [reviews.l4.example]}}], route: [{{destination: {{host: reviews, subset: v2}}}}]}}]
"""
GRPC = "not honoured by proxyless gRPC clients"


def test_envoy_only_fields_are_warned_leave_grpc_routing_alone_and_reach_envoy(meshd, backends, xds_clients, ads_clients, node_id):
    applied = scenarios.serve_rules(meshd, backends, configs.join((TABLE / "rules.yaml").read_text(), TCP_TLS))
    warned = {w.split(": ")[1] for w in applied["warnings"] if w.endswith(GRPC)}
    for field in ("spec.http[8].rewrite", "spec.http[9].rewrite", "spec.http[10].headers", "spec.http[10].route[0].headers",
                  "spec.http[11].route[1].headers", "spec.http[12].mirror", "spec.http[12].mirrorPercentage",
                  "spec.http[13].corsPolicy", "spec.tcp", "spec.tls"):
        assert field in warned, (field, applied["warnings"])
    assert not [w for w in applied["warnings"] if "not yet honoured" in w], applied["warnings"]

    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    v1_calls = backends["v1"].calls
    for method, subset in (("/rewrite.Svc/Call", "v2"), ("/ops.Svc/Call", "v2"), ("/mirror.Svc/Call", "v2"),
                           ("/cors.Svc/Call", "v2"), ("/meshd.test.Echo/Who", "v1")):
        window = client.run(20, name=method, method=method, metadata={"origin": "https://good.example"})
        assert window["failures"] == 0 and window["counts"] == {subset: 20}, (method, window)
    # gRPC does not mirror: v1 saw only the 20 RPCs routed to it, no copies of /mirror.Svc.
    assert backends["v1"].calls == v1_calls + 20, (backends["v1"].calls, v1_calls)
    entry = next(e for e in meshd.syncz() if e["proxyID"] == proxy)
    assert entry["synced"], entry  # a NACK would leave a type STALE with grpcio's error

    envoy = ads_clients(meshd.xds_address, "sidecar~10.0.0.9~productpage-1.default~default.svc.cluster.local",
                        user_agent_name="envoy")
    envoy.wait_quiet(0.3, timeout=10)
    for kind in ("LDS", "RDS", "CDS", "EDS"):
        for name, resource in envoy.state[kind].items():
            problems = proto_check.find_problems(resource.message)
            assert not problems, f"{kind} {name}: {problems}"
    # The sidecar's own shapes: outbound listener 0.0.0.0_9080, route configuration 9080 with a
    # virtual host per service (docs/envoy-sidecar-config.md).
    listener = envoy.state["LDS"]["0.0.0.0_9080"].message
    manager = hcm_pb2.HttpConnectionManager()
    listener.filter_chains[0].filters[0].typed_config.Unpack(manager)
    assert [f.name for f in manager.http_filters] == [
        "envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]
    hosts = envoy.state["RDS"]["9080"].message.virtual_hosts
    routes = next(h for h in hosts if h.name == "reviews.default.svc.cluster.local:9080").routes
    cors_route = next(r for r in routes if r.name == "cors")
    policy = cors_pb2.CorsPolicy()
    assert cors_route.typed_per_filter_config["envoy.filters.http.cors"].Unpack(policy)
    assert [m.exact or m.safe_regex.regex for m in policy.allow_origin_string_match] == [
        "https://good.example", "https://.*\\.trusted\\.example"]
    assert policy.max_age == "86400" and policy.forward_not_matching_preflights.value is False
    mirrored = next(r for r in routes if r.name == "mirrored").route.request_mirror_policies
    assert [(m.cluster, m.runtime_fraction.default_value.numerator) for m in mirrored] == [
        ("outbound|9080|v1|reviews.default.svc.cluster.local", 250000)]
    assert mirrored[0].cluster in envoy.state["CDS"]
