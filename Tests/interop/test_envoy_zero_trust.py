"""Zero trust for an Envoy sidecar against a real meshd: PeerAuthentication and
AuthorizationPolicy on `virtualInbound`, auto mTLS on the client side, in istiod's shapes.

The sidecar is app-1 (configs.ENVOY_NODE: 10.0.0.5 in default, user_agent_name `envoy`, node
metadata LABELS {app: web}) behind the ServiceEntry `web`: port 80 -> workload port 8080 HTTP,
9000 TCP, 7070 with no protocol (detected: "Auto", as are the passthrough chains). For each
configuration a fresh Envoy-like ADS client, connected after meshd published it, takes a
complete set of resources, and:

- every resource, every Any inside it (HCM, HTTP and network RBAC, Downstream and Upstream TLS
  contexts, the listener filters, uri templates) included, decodes with xds-protos with no
  unknown field and passes Envoy's PGV rules (proto_check / pgv_check); Envoy's cross-resource
  rules hold (test_envoy_sidecar.envoy_invariants); the walk is shown to reach those types;
- virtualInbound is the 15006 black hole, the port-less passthrough chains, an undeclared
  portLevelMtls port's passthrough chains, then each workload port's chains, sorted; each
  port's chains (transport protocol, ALPNs, HCM or tcp_proxy, mutual TLS or none) are those of
  its effective mode (mesh < namespace < workload < port level, no policy: PERMISSIVE) and
  protocol; every mTLS chain's DownstreamTlsContext is istiod's (client certificate required,
  SDS `default` / `ROOTCA` over sds-grpc, SANs of meshd's trust domain); every inbound HCM
  forwards the client certificate details; tls_inspector / http_inspector are there exactly when
  a chain needs them and disabled exactly on the ports none of whose chains does;
- AuthorizationPolicy: every inbound chain (not the black hole) carries RBAC filters, audit,
  deny, allow (each only if some policy of that action selects the workload), before fault,
  cors and router (HTTP) or tcp_proxy (TCP, stat_prefix `tcp.`); rules translate as istiod's,
  templates as `uri_template`; on TCP chains an ALLOW rule needing the request is dropped
  whole (an ALLOW filter may be left empty: deny all) and a DENY / AUDIT rule loses that field;
- auto mTLS: EDS marks an endpoint labelled `security.istio.io/tlsMode: istio` for the
  `tlsMode-istio` transport socket match unless its own mode for that port is DISABLE; a
  namespace DISABLE, a DestinationRule with TLS and MESH_EXTERNAL take the matches off the
  cluster;
- the apply answer (REST and meshctl) no longer says these kinds are not honoured by Envoy.
"""

from __future__ import annotations

import json
import re

import pytest
from google.protobuf.message import Message

import configs
import proto_check
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2
from meshd_process import run_meshctl
from test_envoy_sidecar import _chain_clusters, _port, _validate, inbound_layout

NODE = configs.ENVOY_NODE
LABELS = {"app": "web"}
HTTP_PORT, TCP_PORT, AUTO_PORT = 8080, 9000, 7070  # the workload's ports (80 -> 8080)
UNDECLARED = 7777  # a portLevelMtls port no service declares
ELSEWHERE = 12345  # a port no chain names: what the port-less chains serve
PROTOCOL = {HTTP_PORT: "HTTP", TCP_PORT: "TCP", AUTO_PORT: "Auto"}
MESH_NS = "istio-system"
TRUST_DOMAIN = "cluster.local"

HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
TCP_PROXY = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
HTTP_RBAC = "envoy.extensions.filters.http.rbac.v3.RBAC"
NETWORK_RBAC = "envoy.extensions.filters.network.rbac.v3.RBAC"
DOWNSTREAM_TLS = "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
UPSTREAM_TLS = "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
URI_TEMPLATE = "envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig"
ORIGINAL_DST = "envoy.filters.listener.original_dst"
TLS_INSPECTOR = "envoy.filters.listener.tls_inspector"
HTTP_INSPECTOR = "envoy.filters.listener.http_inspector"
LISTENER_FILTER_TYPES = {
    ORIGINAL_DST: "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
    TLS_INSPECTOR: "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
    HTTP_INSPECTOR: "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
}
TAIL_HTTP_FILTERS = ["envoy.filters.http.fault", "envoy.filters.http.cors", "envoy.filters.http.router"]
CIPHERS = ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256",
           "ECDHE-RSA-AES128-GCM-SHA256", "AES256-GCM-SHA384", "AES128-GCM-SHA256"]

# The chains of one port, by (mode, protocol): (transport protocol, ALPNs matched, terminal
# filter, mutual TLS). ALPNs as a sorted tuple: their order in a match means nothing.
ISTIO_HTTP = ("istio-http/1.0", "istio-http/1.1", "istio-h2")
ISTIO_ALL = ("istio", "istio-peer-exchange", *ISTIO_HTTP)
PLAIN_HTTP = ("http/1.1", "h2c")
PEER_EXCHANGE = ("istio-peer-exchange", "istio")
SHAPES = {
    ("STRICT", "HTTP"): [("tls", (), "http", True)],
    ("STRICT", "TCP"): [("tls", (), "tcp", True)],
    ("STRICT", "Auto"): [("tls", ISTIO_HTTP, "http", True), ("tls", (), "tcp", True)],
    ("PERMISSIVE", "HTTP"): [("tls", ISTIO_ALL, "http", True), ("raw_buffer", (), "http", False)],
    ("PERMISSIVE", "TCP"): [("tls", ISTIO_ALL, "tcp", True), ("tls", (), "tcp", False), ("raw_buffer", (), "tcp", False)],
    ("PERMISSIVE", "Auto"): [("tls", ISTIO_HTTP, "http", True), ("raw_buffer", PLAIN_HTTP, "http", False),
                             ("tls", PEER_EXCHANGE, "tcp", True), ("raw_buffer", (), "tcp", False),
                             ("tls", (), "tcp", False)],
    ("DISABLE", "HTTP"): [("raw_buffer", (), "http", False)],
    ("DISABLE", "TCP"): [("raw_buffer", (), "tcp", False)],
    ("DISABLE", "Auto"): [("raw_buffer", PLAIN_HTTP, "http", False), ("raw_buffer", (), "tcp", False)],
}

# ------------------------------------------------------------------------------ the YAML

WORKLOAD = f"""\
apiVersion: {configs.API_VERSION}
kind: ServiceEntry
metadata: {{name: web, namespace: default}}
spec:
  hosts: [web.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports:
  - {{number: 80, name: http, protocol: HTTP, targetPort: {HTTP_PORT}}}
  - {{number: {TCP_PORT}, name: tcp-db, protocol: TCP}}
  - {{number: {AUTO_PORT}, name: misc}}
  resolution: STATIC
  workloadSelector: {{labels: {{app: web}}}}
---
apiVersion: {configs.API_VERSION}
kind: WorkloadEntry
metadata: {{name: app-1, namespace: default}}
spec: {{address: 10.0.0.5, labels: {{app: web}}}}
"""


def _endpoint(address: str, labels: dict) -> str:
    return f"{{address: {address}, labels: {{{', '.join(f'{k}: {v}' for k, v in labels.items())}}}}}"


ISTIO = {"security.istio.io/tlsMode": "istio"}
# Services the sidecar calls: details (default) with endpoints a, b, d marked as having a
# sidecar and c not; legacy (namespace legacy) with one marked endpoint; ratings with a
# DestinationRule that sets TLS; an external API (MESH_EXTERNAL) with a marked endpoint.
UPSTREAMS = configs.join(*(
    f"apiVersion: {configs.API_VERSION}\nkind: ServiceEntry\nmetadata: {{name: {name}, namespace: {ns}}}\n"
    f"spec:\n  hosts: [{name}.{ns}.svc.cluster.local]\n  location: {location}\n"
    f"  ports: [{{number: 9080, name: http, protocol: HTTP}}]\n  resolution: STATIC\n"
    f"  endpoints: [{', '.join(_endpoint(a, l) for a, l in endpoints)}]\n"
    for name, ns, location, endpoints in (
        ("details", "default", "MESH_INTERNAL", [("10.1.0.1", {"app": "details-a", **ISTIO}),
                                                  ("10.1.0.2", {"app": "details-b", **ISTIO}),
                                                  ("10.1.0.3", {"app": "details-c"}),
                                                  ("10.1.0.4", {"app": "details-d", **ISTIO})]),
        ("legacy", "legacy", "MESH_INTERNAL", [("10.2.0.1", {"app": "legacy", **ISTIO})]),
        ("ratings", "default", "MESH_INTERNAL", [("10.3.0.1", {"app": "ratings", **ISTIO})]),
        ("ext", "default", "MESH_EXTERNAL", [("10.4.0.1", {"app": "ext", **ISTIO})]),
    )
), f"""\
apiVersion: {configs.API_VERSION}
kind: DestinationRule
metadata: {{name: ratings, namespace: default}}
spec:
  host: ratings.default.svc.cluster.local
  trafficPolicy: {{tls: {{mode: DISABLE}}}}
""")


def peer_authentication(name: str, namespace: str, mode: str | None = None, selector: dict | None = None,
                        ports: dict | None = None) -> str:
    """security.istio.io/v1 PeerAuthentication; mode None leaves spec.mtls unset (inherit)."""
    spec = ""
    if selector:
        spec += f"  selector: {{matchLabels: {{{', '.join(f'{k}: {v}' for k, v in selector.items())}}}}}\n"
    if mode:
        spec += f"  mtls: {{mode: {mode}}}\n"
    if ports:
        spec += "  portLevelMtls:\n" + "".join(f"    {p}: {{mode: {m}}}\n" for p, m in ports.items())
    return (f"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
            f"metadata: {{name: {name}, namespace: {namespace}}}\nspec:\n{spec or '  {}'}\n")


def authorization_policy(name: str, action: str, rules: str, selector: dict | None = None,
                         namespace: str = "default") -> str:
    selector = LABELS if selector is None else selector
    select = f"  selector: {{matchLabels: {{{', '.join(f'{k}: {v}' for k, v in selector.items())}}}}}\n" if selector else ""
    return (f"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
            f"metadata: {{name: {name}, namespace: {namespace}}}\nspec:\n{select}  action: {action}\n  rules:\n{rules}")


# ------------------------------------------------------------------------------ helpers

def walk(msg: Message):
    """Every (field name, value) set anywhere in msg, repeated items and map values one by one,
    each google.protobuf.Any unpacked (yielded as ("@" + its type, the message)) and walked."""
    for fd, value in msg.ListFields():
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            items = [value[k] for k in value]
        else:
            items = list(value) if fd.is_repeated else [value]
        for item in items:
            yield fd.name, item
            if isinstance(item, Message):
                if item.DESCRIPTOR.full_name == "google.protobuf.Any":
                    item = proto_check.unpack(item)
                    yield "@" + item.DESCRIPTOR.full_name, item
                yield from walk(item)


def values(msg: Message, name: str) -> list:
    return [v for n, v in walk(msg) if n == name]


def _type(any_msg) -> str:
    return any_msg.type_url.rsplit("/", 1)[-1]


def _apply(meshd, *docs: str) -> dict:
    answer = meshd.apply(configs.join(*docs))
    _no_envoy_advisory(answer["warnings"])
    meshd.wait_pushed(answer["revision"])
    return answer


def _no_envoy_advisory(warnings: list[str]) -> None:
    """Envoy sidecars honour both kinds now: no answer says otherwise (gateways still don't)."""
    stale = [w for w in warnings if re.match(r"(PeerAuthentication|AuthorizationPolicy) ", w)
             and re.search(r"not honoured by Envoy (sidecars|proxies)", w)]
    assert stale == [], stale


def sidecar(meshd, ads_clients):
    """A fresh Envoy sidecar (meshd has published what was applied): a complete, quiet,
    validated set of resources; returns the client."""
    client = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[],
                         metadata={"LABELS": LABELS})
    client.wait_quiet(0.3)
    _validate(client.state)  # proto_check on every resource (PGV in every Any) + Envoy's rules
    return client


def _inbound(client):
    return client.state["LDS"]["virtualInbound"].message


def _kind(chain) -> str:
    terminal = _type(chain.filters[-1].typed_config)
    assert terminal in (HCM, TCP_PROXY), f"{chain.name}: last filter {terminal}"
    return "http" if terminal == HCM else "tcp"


def shape(chain) -> tuple:
    match = chain.filter_chain_match
    return (match.transport_protocol, tuple(sorted(match.application_protocols)), _kind(chain),
            chain.HasField("transport_socket"))


def _expected_shapes(mode: str, protocol: str) -> list:
    return sorted((t, tuple(sorted(a)), k, m) for t, a, k, m in SHAPES[mode, protocol])


def _sds_cluster(config) -> list[str]:
    return [g.envoy_grpc.cluster_name for g in config.api_config_source.grpc_services]


def check_mtls(chain, trust_domain: str = TRUST_DOMAIN) -> None:
    """istiod's inbound DownstreamTlsContext: client certificate required, SDS `default` and
    `ROOTCA` over sds-grpc, SANs of the trust domain, TLS 1.2-1.3, istiod's ciphers and ALPN."""
    socket = chain.transport_socket
    assert socket.name == "envoy.transport_sockets.tls" and _type(socket.typed_config) == DOWNSTREAM_TLS, socket
    tls = proto_check.unpack(socket.typed_config)
    assert tls.require_client_certificate.value is True, tls
    common = tls.common_tls_context
    alpn = ["h2", "http/1.1"] if _kind(chain) == "http" else ["istio-peer-exchange", "h2", "http/1.1"]
    assert list(common.alpn_protocols) == alpn, (chain.name, common.alpn_protocols)
    params = common.tls_params
    assert (params.tls_minimum_protocol_version, params.tls_maximum_protocol_version) == (
        params.TLSv1_2, params.TLSv1_3), params
    assert list(params.cipher_suites) == CIPHERS, params
    assert [(c.name, _sds_cluster(c.sds_config)) for c in common.tls_certificate_sds_secret_configs] == [
        ("default", ["sds-grpc"])], common
    combined = common.combined_validation_context
    root = combined.validation_context_sds_secret_config
    assert (root.name, _sds_cluster(root.sds_config)) == ("ROOTCA", ["sds-grpc"]), combined
    sans = combined.default_validation_context.match_subject_alt_names
    assert [(s.WhichOneof("match_pattern"), s.prefix) for s in sans] == [("prefix", f"spiffe://{trust_domain}/")], sans


def check_hcm(chain) -> None:
    hcm = proto_check.unpack(chain.filters[-1].typed_config)
    assert hcm.forward_client_cert_details == hcm.APPEND_FORWARD, hcm
    details = hcm.set_current_client_cert_details
    assert (details.subject.value, details.uri, details.dns) == (True, True, True), details


def disabled(predicate, port: int) -> bool:
    """Evaluates a ListenerFilterChainMatchPredicate for a connection to `port`."""
    rule = predicate.WhichOneof("rule")
    if rule == "or_match":
        return any(disabled(r, port) for r in predicate.or_match.rules)
    if rule == "and_match":
        return all(disabled(r, port) for r in predicate.and_match.rules)
    if rule == "not_match":
        return not disabled(predicate.not_match, port)
    if rule == "any_match":
        return predicate.any_match
    if rule == "destination_port_range":
        return predicate.destination_port_range.start <= port < predicate.destination_port_range.end
    raise AssertionError(f"a predicate this test cannot evaluate: {predicate}")


def check_listener_filters(listener) -> None:
    """original_dst; tls_inspector iff a chain matches `tls`, http_inspector iff one matches
    http/1.1 or h2c; each disabled exactly on the ports none of whose chains needs it (a port
    with chains of its own is matched by those only; others by the port-less chains)."""
    needs_tls, needs_http = {}, {}
    for chain in listener.filter_chains:
        port = _port(chain)
        port = ELSEWHERE if port is None else port
        match = chain.filter_chain_match
        needs_tls[port] = needs_tls.get(port, False) or match.transport_protocol == "tls"
        needs_http[port] = needs_http.get(port, False) or bool(set(match.application_protocols) & set(PLAIN_HTTP))
    expected = [ORIGINAL_DST] + [TLS_INSPECTOR] * any(needs_tls.values()) + [HTTP_INSPECTOR] * any(needs_http.values())
    filters = {f.name: f for f in listener.listener_filters}
    assert [f.name for f in listener.listener_filters] == expected, (list(filters), needs_tls, needs_http)
    for f in listener.listener_filters:
        assert _type(f.typed_config) == LISTENER_FILTER_TYPES[f.name], f
    assert not filters[ORIGINAL_DST].HasField("filter_disabled")
    for name, needs in ((TLS_INSPECTOR, needs_tls), (HTTP_INSPECTOR, needs_http)):
        if name not in filters:
            continue
        predicate = filters[name].filter_disabled
        wrong = {port: need for port, need in needs.items()
                 if (filters[name].HasField("filter_disabled") and disabled(predicate, port)) == need}
        assert wrong == {}, f"{name} disabled where needed or enabled where not (port: needed): {wrong}\n{predicate}"
    assert listener.continue_on_listener_filters_timeout is True
    assert listener.traffic_direction == base_pb2.INBOUND


def check_inbound(listener, modes: dict, undeclared: tuple = (), trust_domain: str = TRUST_DOMAIN) -> None:
    """modes: None (the port-less passthrough chains) or a port -> its effective mode.

    The layout (black hole, passthrough, `undeclared` portLevelMtls ports' passthrough chains,
    workload ports sorted, each with its clusters), each port's chain shapes, the mTLS
    contexts, the HCMs, the listener filters."""
    workload = sorted(p for p in modes if p in PROTOCOL)
    passthrough = {"InboundPassthroughCluster"}
    assert inbound_layout(listener) == [
        (15006, {"BlackHoleCluster"}), (None, passthrough), *((p, passthrough) for p in undeclared),
        *((p, {f"inbound|{p}||"}) for p in workload)], [(c.name, _port(c), shape(c)) for c in listener.filter_chains]
    assert not listener.HasField("default_filter_chain")
    blackhole = listener.filter_chains[0]
    assert blackhole.name == "virtualInbound-blackhole" and shape(blackhole) == ("", (), "tcp", False), blackhole
    assert len(blackhole.filters) == 1, "nothing but the tcp_proxy to the black hole"
    by_port: dict = {}
    for chain in listener.filter_chains[1:]:
        by_port.setdefault(_port(chain), []).append(chain)
    assert set(by_port) == set(modes), (sorted(by_port, key=str), modes)
    for port, chains in by_port.items():
        protocol = PROTOCOL.get(port, "Auto")
        got = sorted(shape(c) for c in chains)
        assert got == _expected_shapes(modes[port], protocol), f"port {port} ({modes[port]}, {protocol}): {got}"
        for chain in chains:
            if chain.HasField("transport_socket"):
                check_mtls(chain, trust_domain)
            if _kind(chain) == "http":
                check_hcm(chain)
    check_listener_filters(listener)


def _types_walked(msg) -> set[str]:
    return {n[1:] for n, _ in walk(msg) if n.startswith("@")}


EVERY_PORT = (None, HTTP_PORT, TCP_PORT, AUTO_PORT)  # None: the port-less passthrough chains


def _all(mode: str) -> dict:
    return {p: mode for p in EVERY_PORT}

# ------------------------------------------------------------------------------ PeerAuthentication

S, P, D = "STRICT", "PERMISSIVE", "DISABLE"
SCENARIOS = {
    # no policy anywhere: PERMISSIVE
    "none": ([], _all(P), ()),
    # the mesh's (root namespace, no selector)
    "mesh-strict": ([peer_authentication("default", MESH_NS, S)], _all(S), ()),
    # the namespace's over the mesh's
    "namespace-disable-over-mesh-strict": ([peer_authentication("default", MESH_NS, S),
                                            peer_authentication("default", "default", D)], _all(D), ()),
    # the workload's over the namespace's; policies selecting others, or in other namespaces, don't count
    "workload-permissive-over-namespace-strict": (
        [peer_authentication("default", MESH_NS, D), peer_authentication("default", "default", S),
         peer_authentication("web", "default", P, selector={"app": "web"}),
         peer_authentication("other", "default", D, selector={"app": "other"}),
         peer_authentication("default", "prod", D)], _all(P), ()),
    # port level: a declared port (9000) DISABLE, an undeclared one (7777) gets passthrough chains
    "port-level": (
        [peer_authentication("default", "default", P),
         peer_authentication("web", "default", S, selector=LABELS, ports={TCP_PORT: D, UNDECLARED: P})],
        {None: S, UNDECLARED: P, HTTP_PORT: S, TCP_PORT: D, AUTO_PORT: S}, (UNDECLARED,)),
    # a workload policy without mtls inherits the mesh's, its port levels still apply
    "port-level-inherits": (
        [peer_authentication("default", MESH_NS, S),
         peer_authentication("web", "default", None, selector=LABELS, ports={HTTP_PORT: P, AUTO_PORT: D})],
        {None: S, HTTP_PORT: P, TCP_PORT: S, AUTO_PORT: D}, ()),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_peer_authentication_shapes_virtual_inbound(meshd, ads_clients, scenario):
    policies, modes, undeclared = SCENARIOS[scenario]
    _apply(meshd, WORKLOAD, *policies)
    client = sidecar(meshd, ads_clients)
    listener = _inbound(client)
    check_inbound(listener, modes, undeclared)
    for chain in listener.filter_chains:  # no AuthorizationPolicy: no RBAC filter
        if _kind(chain) == "http":
            assert [f.name for f in proto_check.unpack(chain.filters[-1].typed_config).http_filters] == TAIL_HTTP_FILTERS
        else:
            assert len(chain.filters) == 1, chain
    walked = _types_walked(listener)
    assert {HCM, TCP_PROXY, *(LISTENER_FILTER_TYPES[f.name] for f in listener.listener_filters)} <= walked, walked
    assert (DOWNSTREAM_TLS in walked) == any(m != D for m in modes.values()), walked
    passthrough = client.state["CDS"]["InboundPassthroughCluster"].message
    assert passthrough.type == cluster_pb2.Cluster.ORIGINAL_DST, passthrough
    assert passthrough.upstream_bind_config.source_address.address == "127.0.0.6", passthrough
    assert {f"inbound|{p}||" for p in PROTOCOL} <= set(client.state["CDS"])


def test_the_san_prefix_is_meshds_trust_domain(meshd_factory, ads_clients):
    meshd = meshd_factory(extra_args=["--trust-domain", "corp.example"])
    _apply(meshd, WORKLOAD, peer_authentication("default", MESH_NS, S))
    check_inbound(_inbound(sidecar(meshd, ads_clients)), _all(S), trust_domain="corp.example")


# ------------------------------------------------------------------------------ AuthorizationPolicy

ALLOW_WEB = authorization_policy("allow-web", "ALLOW", f"""\
  - from: [{{source: {{principals: ["cluster.local/ns/default/sa/productpage"], namespaces: ["default"]}}}}]
    to: [{{operation: {{methods: ["GET"], paths: ["/api/{{*}}/items", "/static/*"], notPaths: ["/api/admin/{{**}}"]}}}}]
    when: [{{key: "request.headers[x-team]", values: ["a", "b"]}}]
  - from: [{{source: {{ipBlocks: ["10.0.0.0/8"]}}}}]
    to: [{{operation: {{ports: ["{TCP_PORT}"]}}}}]
  - to: [{{operation: {{hosts: ["web.example.com"], methods: ["POST"]}}}}]
  - when: [{{key: destination.port, values: ["{AUTO_PORT}"]}}]
""")
DENY_OPS = authorization_policy("deny-ops", "DENY", """\
  - from: [{source: {namespaces: ["ops"]}}]
    to: [{operation: {methods: ["DELETE"]}}]
  - to: [{operation: {hosts: ["admin.web.example.com"]}}]
    when: [{key: connection.sni, values: ["admin.web.example.com"]}]
""")
AUDIT_ALL = authorization_policy("audit-all", "AUDIT", """\
  - to: [{operation: {paths: ["/audit"]}}]
""")
# Neither selects app-1: another workload's, and one for all of namespace prod.
ELSEWHERE_POLICIES = [
    authorization_policy("deny-other", "DENY", "  - from: [{source: {namespaces: [\"x\"]}}]\n", selector={"app": "other"}),
    authorization_policy("allow-prod", "ALLOW", "  - from: [{source: {namespaces: [\"x\"]}}]\n", selector={},
                         namespace="prod"),
]
ACTIONS = {"audit": "LOG", "deny": "DENY", "allow": "ALLOW"}


def _policy_name(policy: str, rule: int) -> str:
    return f"ns[default]-policy[{policy}]-rule[{rule}]"


def rbac_filters(chain, actions) -> dict:
    """The chain's RBAC filters (asserting their names, order, types, actions, and where they
    sit: before fault/cors/router in the HCM, before tcp_proxy): action -> the `rules`."""
    if _kind(chain) == "http":
        filters = list(proto_check.unpack(chain.filters[-1].typed_config).http_filters)
        assert [f.name for f in filters[-3:]] == TAIL_HTTP_FILTERS, [f.name for f in filters]
        filters, prefix, rbac_type = filters[:-3], "envoy.filters.http.rbac", HTTP_RBAC
    else:
        filters, prefix, rbac_type = list(chain.filters[:-1]), "envoy.filters.network.rbac", NETWORK_RBAC
    wanted = [a for a in ACTIONS if a in actions]
    assert [f.name for f in filters] == [f"{prefix}.{a}" for a in wanted], (chain.name, [f.name for f in filters])
    out = {}
    for action, f in zip(wanted, filters):
        assert _type(f.typed_config) == rbac_type, f
        rbac = proto_check.unpack(f.typed_config)
        if rbac_type == NETWORK_RBAC:
            assert rbac.stat_prefix == "tcp.", rbac
        assert type(rbac.rules).Action.Name(rbac.rules.action) == ACTIONS[action], rbac
        out[action] = rbac.rules
    return out


def _rbac_by_kind(listener, actions) -> dict:
    """kind ("http"/"tcp") -> action -> rules, the same on every inbound chain of that kind
    (the port-less passthrough and the workload ports alike); the black hole has none."""
    seen: dict = {}
    for chain in listener.filter_chains[1:]:
        rules = rbac_filters(chain, actions)
        first = seen.setdefault(_kind(chain), rules)
        assert {a: r.SerializeToString(deterministic=True) for a, r in rules.items()} == {
            a: r.SerializeToString(deterministic=True) for a, r in first.items()}, f"{chain.name} differs"
    assert set(seen) == {"http", "tcp"}, seen
    return seen


def test_authorization_policies_on_http_and_tcp_chains(meshd, ads_clients, tmp_path):
    docs = [WORKLOAD, peer_authentication("default", MESH_NS, S), ALLOW_WEB, DENY_OPS, AUDIT_ALL, *ELSEWHERE_POLICIES]
    _apply(meshd, *docs)
    # meshctl prints the answer's warnings: gateways and sidecars honour every action but CUSTOM's
    # need for a provider; proxyless servers have no audit log
    manifest = tmp_path / "zero-trust.yaml"
    manifest.write_text(configs.join(*docs))
    out = run_meshctl(meshd.admin_url, "apply", "-f", str(manifest))
    printed = out.stdout + out.stderr
    assert "authorizationpolicy.security.istio.io/allow-web unchanged" in printed, printed
    assert "AuthorizationPolicy default/audit-all: spec.action: not honoured by proxyless gRPC clients" in printed, printed
    assert "not honoured by Envoy gateways" not in printed, printed
    _no_envoy_advisory([line.removeprefix("Warning: ") for line in printed.splitlines()])
    assert not [u for u in meshd.push_status()["unhonouredFields"]
                if u["kind"] in ("PeerAuthentication", "AuthorizationPolicy") and u["proxyKind"] == "sidecar"]

    listener = _inbound(sidecar(meshd, ads_clients))
    check_inbound(listener, _all(S))
    assert {HTTP_RBAC, NETWORK_RBAC, URI_TEMPLATE, DOWNSTREAM_TLS} <= _types_walked(listener)
    rbac = _rbac_by_kind(listener, ACTIONS)
    http, tcp = rbac["http"], rbac["tcp"]
    for kind in (http, tcp):
        assert set(kind["audit"].policies) == {_policy_name("audit-all", 0)}
        assert set(kind["deny"].policies) == {_policy_name("deny-ops", 0), _policy_name("deny-ops", 1)}
    # ALLOW: on TCP chains the rules needing the request (0: methods, paths, a header; 2: hosts, methods) are gone
    assert set(http["allow"].policies) == {_policy_name("allow-web", i) for i in range(4)}
    assert set(tcp["allow"].policies) == {_policy_name("allow-web", 1), _policy_name("allow-web", 3)}

    # HTTP, the full rule 0: principal and namespace and header; method and paths (a {*}
    # template, a prefix) and not the {**} template
    rule = http["allow"].policies[_policy_name("allow-web", 0)]
    assert "spiffe://cluster.local/ns/default/sa/productpage" in values(rule.principals[0], "exact")
    assert [m.regex for m in values(rule.principals[0], "safe_regex")] == [".*/ns/default/.*"]
    assert sorted((h.name, h.string_match.exact) for h in values(rule.principals[0], "header")) == [
        ("x-team", "a"), ("x-team", "b")]
    (permission,) = rule.permissions
    assert [(h.name, h.string_match.exact) for h in values(permission, "header")] == [(":method", "GET")]
    templates = values(permission, "uri_template")
    assert [t.name for t in templates] == ["uri-template", "uri-template"]
    assert [_type(t.typed_config) for t in templates] == [URI_TEMPLATE, URI_TEMPLATE]
    assert sorted(values(permission, "path_template")) == ["/api/*/items", "/api/admin/**"]
    assert [m.prefix for m in values(permission, "path") if m.prefix] == ["/static/"]
    (negated,) = values(permission, "not_rule")
    assert values(negated, "path_template") == ["/api/admin/**"], negated
    # rule 1 (kept on both): ipBlocks as the direct peer's address, the port
    for kind in (http, tcp):
        rule = kind["allow"].policies[_policy_name("allow-web", 1)]
        assert [(c.address_prefix, c.prefix_len.value) for c in values(rule, "direct_remote_ip")] == [("10.0.0.0", 8)]
        assert values(rule, "destination_port") == [TCP_PORT]
        assert values(kind["allow"].policies[_policy_name("allow-web", 3)], "destination_port") == [AUTO_PORT]
    rule = http["allow"].policies[_policy_name("allow-web", 2)]
    assert sorted((h.name, h.string_match.exact) for h in values(rule, "header")) == [
        (":authority", "web.example.com"), (":method", "POST")]

    # DENY and AUDIT on TCP: the rule stays, without what needs the request: it matches more
    deny_http, deny_tcp = (k["deny"].policies[_policy_name("deny-ops", 0)] for k in (http, tcp))
    assert [(h.name, h.string_match.exact) for h in values(deny_http, "header")] == [(":method", "DELETE")]
    assert values(deny_tcp, "header") == [] and [p.WhichOneof("rule") for p in deny_tcp.permissions] == ["any"]
    for rule in (deny_http, deny_tcp):
        assert [m.regex for m in values(rule, "safe_regex")] == [".*/ns/ops/.*"]
    # connection.sni is Envoy's requested_server_name, on both kinds; the host header only on HTTP
    sni_http, sni_tcp = (k["deny"].policies[_policy_name("deny-ops", 1)] for k in (http, tcp))
    for rule in (sni_http, sni_tcp):
        assert [m.exact for m in values(rule, "requested_server_name")] == ["admin.web.example.com"], rule
    assert [h.name for h in values(sni_http, "header")] == [":authority"] and values(sni_tcp, "header") == []
    audit_http, audit_tcp = (k["audit"].policies[_policy_name("audit-all", 0)] for k in (http, tcp))
    assert [m.exact for m in values(audit_http, "path")] == ["/audit"]
    assert values(audit_tcp, "url_path") == [] and [p.WhichOneof("rule") for p in audit_tcp.permissions] == ["any"]

    # nothing of the policies that select other workloads
    names = {n for kind in (http, tcp) for rules in kind.values() for n in rules.policies}
    assert not [n for n in names if "deny-other" in n or "allow-prod" in n], names


def test_an_allow_of_http_fields_only_denies_all_tcp(meshd, ads_clients):
    """An ALLOW whose every rule needs the request leaves TCP chains an ALLOW filter with no
    policy (nothing allowed); a DENY on a principal and a header denies the principal on TCP."""
    allow = authorization_policy("allow-http", "ALLOW", """\
  - to: [{operation: {methods: ["GET"], paths: ["/api/{**}"]}}]
  - when: [{key: "request.headers[x-user]", values: ["alice"]}]
  - from: [{source: {requestPrincipals: ["issuer/alice"]}}]
""")
    deny = authorization_policy("deny-debug", "DENY", """\
  - from: [{source: {principals: ["cluster.local/ns/default/sa/evil"]}}]
    when: [{key: "request.headers[x-debug]", values: ["1"]}]
""")
    answer = _apply(meshd, WORKLOAD, allow, deny)
    # requestPrincipals needs a verified JWT: the answer says the rule allows nothing where none is
    # (proxyless servers, Envoy's TCP ports)
    assert any(w.startswith("AuthorizationPolicy default/allow-http: spec.rules[2].from[0].source.requestPrincipals: ")
               and "Envoy TCP ports" in w and "allows nothing" in w for w in answer["warnings"]), answer["warnings"]
    listener = _inbound(sidecar(meshd, ads_clients))
    check_inbound(listener, _all(P))
    rbac = _rbac_by_kind(listener, ("deny", "allow"))
    http, tcp = rbac["http"], rbac["tcp"]
    # HTTP chains check all three rules, the request principal on the verified JWT's payload
    assert set(http["allow"].policies) == {_policy_name("allow-http", i) for i in range(3)}
    assert values(http["allow"].policies[_policy_name("allow-http", 2)], "exact") == ["issuer", "alice"]
    assert dict(tcp["allow"].policies) == {} and type(tcp["allow"]).Action.Name(tcp["allow"].action) == "ALLOW"
    assert values(http["allow"].policies[_policy_name("allow-http", 0)], "path_template") == ["/api/**"]
    deny_http, deny_tcp = (k["deny"].policies[_policy_name("deny-debug", 0)] for k in (http, tcp))
    for rule in (deny_http, deny_tcp):
        assert "spiffe://cluster.local/ns/default/sa/evil" in values(rule, "exact"), rule
    assert [h.name for h in values(deny_http, "header")] == ["x-debug"] and values(deny_tcp, "header") == []


def test_the_oracle_sees_inside_rbac_filters_and_uri_templates(meshd, ads_clients):
    """proto_check's walk reaches the RBAC filters in the listener and the uri template inside
    an HTTP RBAC inside the HCM: what meshd sent passes; the same with a network RBAC's
    stat_prefix emptied and a path_template emptied (both min_len 1) is reported at their paths."""
    _apply(meshd, WORKLOAD, ALLOW_WEB)
    listener = _inbound(sidecar(meshd, ads_clients))
    assert proto_check.find_problems(listener) == []
    broken = type(listener)()
    broken.CopyFrom(listener)
    i = next(i for i, c in enumerate(broken.filter_chains) if _port(c) == TCP_PORT)
    network = broken.filter_chains[i].filters[0]
    rbac = proto_check.unpack(network.typed_config)
    rbac.stat_prefix = ""
    network.typed_config.Pack(rbac)
    j = next(j for j, c in enumerate(broken.filter_chains) if _port(c) == HTTP_PORT)
    hcm_filter = broken.filter_chains[j].filters[-1]
    hcm = proto_check.unpack(hcm_filter.typed_config)
    k, http_rbac = next((k, f) for k, f in enumerate(hcm.http_filters) if f.name == "envoy.filters.http.rbac.allow")
    rules = proto_check.unpack(http_rbac.typed_config)
    template = values(rules.rules.policies[_policy_name("allow-web", 0)], "uri_template")[0]
    config = proto_check.unpack(template.typed_config)
    config.path_template = ""
    template.typed_config.Pack(config)
    http_rbac.typed_config.Pack(rules)
    hcm_filter.typed_config.Pack(hcm)
    problems = proto_check.find_problems(broken)
    root = "envoy.config.listener.v3.Listener.filter_chains"
    assert len(problems) == 2, problems
    empty = "PGV: length is less than 1 (value '')"
    assert f"{root}[{i}].filters[0].typed_config<{NETWORK_RBAC}>.stat_prefix: {empty}" in problems, problems
    (deep,) = [p for p in problems if p.startswith(f"{root}[{j}].filters[0].typed_config<{HCM}>.http_filters[{k}]"
                                                    f".typed_config<{HTTP_RBAC}>.rules.policies[")]
    assert deep.endswith(f".uri_template.typed_config<{URI_TEMPLATE}>.path_template: {empty}"), deep


# ------------------------------------------------------------------------------ auto mTLS

def _marked(client, service: str) -> dict:
    """endpoint address -> its `envoy.transport_socket_match` metadata, in the service's EDS."""
    cla = client.state["EDS"][f"outbound|9080||{service}"].message
    return {e.endpoint.address.socket_address.address: dict(e.metadata.filter_metadata["envoy.transport_socket_match"])
            for g in cla.endpoints for e in g.lb_endpoints}


def _matches(client, service: str) -> list[str]:
    return [m.name for m in client.state["CDS"][f"outbound|9080||{service}"].message.transport_socket_matches]


def test_auto_mtls_follows_each_endpoints_own_mode(meshd, ads_clients):
    istio = {"tlsMode": "istio"}
    _apply(meshd, WORKLOAD, UPSTREAMS, peer_authentication("default", MESH_NS, S))
    client = sidecar(meshd, ads_clients)
    assert _marked(client, "details.default.svc.cluster.local") == {
        "10.1.0.1": istio, "10.1.0.2": istio, "10.1.0.3": {}, "10.1.0.4": istio}
    assert _marked(client, "legacy.legacy.svc.cluster.local") == {"10.2.0.1": istio}
    for service in ("details.default.svc.cluster.local", "legacy.legacy.svc.cluster.local"):
        assert _matches(client, service) == ["tlsMode-istio", "tlsMode-disabled"]
        cluster = client.state["CDS"][f"outbound|9080||{service}"].message
        assert _type(cluster.transport_socket_matches[0].transport_socket.typed_config) == UPSTREAM_TLS
        assert dict(cluster.transport_socket_matches[0].match) == istio
    # a DestinationRule with TLS decides instead; MESH_EXTERNAL is not the mesh's
    for service in ("ratings.default.svc.cluster.local", "ext.default.svc.cluster.local"):
        assert _matches(client, service) == [], service

    # details-b DISABLE (workload), details-d DISABLE on 9080 (port level, mode inherited),
    # namespace legacy DISABLE: their endpoints are not marked; legacy's cluster has no matches
    _apply(meshd, peer_authentication("b", "default", D, selector={"app": "details-b"}),
           peer_authentication("d", "default", None, selector={"app": "details-d"}, ports={9080: D}),
           peer_authentication("default", "legacy", D))
    client = sidecar(meshd, ads_clients)
    assert _marked(client, "details.default.svc.cluster.local") == {
        "10.1.0.1": istio, "10.1.0.2": {}, "10.1.0.3": {}, "10.1.0.4": {}}
    assert _matches(client, "details.default.svc.cluster.local") == ["tlsMode-istio", "tlsMode-disabled"]
    assert _marked(client, "legacy.legacy.svc.cluster.local") == {"10.2.0.1": {}}
    assert _matches(client, "legacy.legacy.svc.cluster.local") == []
    # the sidecar's own inbound still follows the mesh's STRICT
    check_inbound(_inbound(client), _all(S))


def test_meshctl_authz_check_explains_a_connected_sidecar(meshd, ads_clients):
    """`meshctl x authz check --proxy ID` (GET /debug/authz?proxyID=) judges the connected
    sidecar by its own labels: each port's protocol and mode, the undeclared portLevelMtls port,
    every other port's mode, and the rules as its HTTP and TCP chains apply them."""
    workload_policy = peer_authentication("web", "default", "STRICT", selector=LABELS, ports={TCP_PORT: "DISABLE", UNDECLARED: "PERMISSIVE"})
    allow = authorization_policy("allow-get", "ALLOW", '  - to: [{operation: {methods: ["GET"]}}]\n  - to: [{operation: {ports: ["9000"]}}]\n')
    _apply(meshd, WORKLOAD, workload_policy, allow)
    sidecar(meshd, ads_clients)
    out = run_meshctl(meshd.admin_url, "x", "authz", "check", "--proxy", NODE, "-o", "json")
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    assert answer["proxyID"] == NODE and "workload" not in answer
    ports = {p["port"]: (p["protocol"], p["mode"], p["declared"]) for p in answer["ports"]}
    assert ports == {HTTP_PORT: ("HTTP", "STRICT", True), TCP_PORT: ("TCP", "DISABLE", True),
                     AUTO_PORT: ("AUTO", "STRICT", True), UNDECLARED: ("AUTO", "PERMISSIVE", False)}, ports
    assert answer["workloadMode"] == {"mode": "STRICT", "policies": ["default/web"]}
    assert answer["envoy"]["http"]["ALLOW"] == [
        "ns[default]-policy[allow-get]-rule[0]: any -> header::method=exact:GET",
        "ns[default]-policy[allow-get]-rule[1]: any -> port:9000"]
    # The method rule cannot match a TCP connection: only the port rule is left there.
    assert answer["envoy"]["tcp"]["ALLOW"] == ["ns[default]-policy[allow-get]-rule[1]: any -> port:9000"]
    table = run_meshctl(meshd.admin_url, "x", "authz", "check", "--proxy", NODE)
    assert table.returncode == 0, table.stderr
    assert f"{UNDECLARED} (portLevelMtls)" in table.stdout and "* (other ports)" in table.stdout, table.stdout
    assert "Rules for Envoy sidecar TCP ports:" in table.stdout, table.stdout
    missing = meshd.request("GET", "/debug/authz?proxyID=sidecar~10.9.9.9~x.default~default.svc.cluster.local")
    assert missing.status == 404, missing.text
