"""An Envoy sidecar against a real meshd: a client that connects as Envoy does (node id
`sidecar~10.0.0.5~app-1.default~default.svc.cluster.local`, user_agent_name `envoy`), over state
of the world and over Delta, receives CDS, EDS, LDS and RDS in istiod's shapes and names, ACKs,
and everything it receives decodes with the official protos (no unknown fields) and passes
Envoy's PGV rules recursively inside every Any (proto_check, also re-checked at teardown by the
client fixtures). Envoy's cross-resource rules are checked here too: unique listener names and
addresses, no two filter chains with one match, unique domains per route configuration, every
referenced RDS, EDS and cluster name sent, no RDS or EDS unreferenced. virtualInbound is laid out
as istiod's: the 15006 black hole, the port-less passthrough chains, then each workload port's
chains, sorted (the PeerAuthentication / AuthorizationPolicy shapes: test_envoy_zero_trust.py).

The canary scenario runs through it: reviews v1/v2 at 50/50, then 0/100.
"""

from __future__ import annotations

import configs
import proto_check
from ads_client import eds_names, http_connection_managers, route_names, weighted_clusters

NODE = configs.ENVOY_NODE
HTTP_VH = f"{configs.HOST}:{configs.PORT}"
TCP_PROXY = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
PASSTHROUGH = "InboundPassthroughCluster"


def _apply(meshd, text: str) -> None:
    meshd.wait_pushed(meshd.apply(text)["revision"])


def _chains(listener) -> list:
    return list(listener.filter_chains) + ([listener.default_filter_chain] if listener.HasField("default_filter_chain") else [])


def _chain_clusters(chain) -> set[str]:
    """Where a filter chain sends its traffic: tcp_proxy's cluster, or the clusters of its HCM's inline routes."""
    out = set()
    for f in chain.filters:
        inner = proto_check.unpack(f.typed_config)
        if f.typed_config.type_url.endswith("/" + TCP_PROXY):
            out.add(inner.cluster)
        elif f.typed_config.type_url.endswith("/" + HCM) and inner.HasField("route_config"):
            out |= _route_clusters(inner.route_config)
    return out


def _port(chain):
    match = chain.filter_chain_match
    return match.destination_port.value if match.HasField("destination_port") else None


def inbound_layout(listener) -> list:
    """virtualInbound's filter chains as runs of one destination port (None: no port, the
    passthrough chains), in order, each run with where its chains send traffic: a port whose
    chains are not contiguous shows up twice."""
    runs: list = []
    for chain in listener.filter_chains:
        port = _port(chain)
        if runs and runs[-1][0] == port:
            runs[-1][1].update(_chain_clusters(chain))
        else:
            runs.append((port, set(_chain_clusters(chain))))
    return runs


def assert_inbound_layout(listener, workload_ports) -> None:
    """istiod's virtualInbound: the 15006 black hole first, the port-less passthrough chains to
    InboundPassthroughCluster, then each workload port's chains, sorted by port, to
    inbound|PORT||; no default_filter_chain (an unmatched connection is closed)."""
    assert not listener.HasField("default_filter_chain"), listener.default_filter_chain
    expected = [(15006, {"BlackHoleCluster"}), (None, {PASSTHROUGH})]
    expected += [(p, {f"inbound|{p}||"}) for p in sorted(workload_ports)]
    assert inbound_layout(listener) == expected, [(c.name, _port(c), _chain_clusters(c)) for c in listener.filter_chains]
    assert listener.filter_chains[0].name == "virtualInbound-blackhole"


def _tcp_clusters(listener) -> set[str]:
    out = set()
    for chain in _chains(listener):
        for f in chain.filters:
            if f.typed_config.type_url.endswith("/" + TCP_PROXY):
                out.add(proto_check.unpack(f.typed_config).cluster)
    return out


def _route_clusters(route_config) -> set[str]:
    out = set()
    for vh in route_config.virtual_hosts:
        for r in vh.routes:
            if r.HasField("route"):
                if r.route.HasField("weighted_clusters"):
                    out |= {c.name for c in r.route.weighted_clusters.clusters}
                elif r.route.cluster:
                    out.add(r.route.cluster)
    return out


def envoy_invariants(listeners: dict, routes: dict, clusters: dict, endpoints: dict) -> list[str]:
    """Envoy's cross-resource rules over decoded resources (name -> message), as problems."""
    problems = []
    addresses = {}
    for name, listener in listeners.items():
        socket = listener.address.socket_address
        key = f"{socket.address}:{socket.port_value}"
        if key in addresses:
            problems.append(f"listeners {addresses[key]} and {name} share {key}")
        addresses[key] = name
        matches = [c.filter_chain_match.SerializeToString(deterministic=True) for c in listener.filter_chains]
        if len(matches) != len(set(matches)):
            problems.append(f"listener {name}: two filter chains with the same match")
        for hcm in http_connection_managers(listener):
            if hcm.HasField("route_config"):
                problems += [f"listener {name}: inline route to missing {c}" for c in _route_clusters(hcm.route_config) - set(clusters)]
        problems += [f"listener {name}: tcp_proxy to missing {c}" for c in _tcp_clusters(listener) - set(clusters)]
    named = route_names(listeners.values())
    problems += [f"RDS {n} named but not sent" for n in named - set(routes)]
    problems += [f"RDS {n} sent but no listener names it" for n in set(routes) - named]
    for name, rc in routes.items():
        domains = [d.lower() for vh in rc.virtual_hosts for d in vh.domains]
        if len(domains) != len(set(domains)):
            problems.append(f"RDS {name}: a domain in two virtual hosts")
        problems += [f"RDS {name}: route to missing {c}" for c in _route_clusters(rc) - set(clusters)]
    eds = eds_names(clusters.values())
    problems += [f"EDS {n} named but not sent" for n in eds - set(endpoints)]
    problems += [f"EDS {n} sent but no cluster names it" for n in set(endpoints) - eds]
    return problems


def _messages(state: dict) -> dict:
    return {name: r.message for name, r in state.items()}


def _validate(state: dict) -> None:
    for t, resources in state.items():
        for name, r in resources.items():
            assert proto_check.find_problems(r.message) == [], f"{t} {name}: {proto_check.find_problems(r.message)}"
    problems = envoy_invariants(*(_messages(state[t]) for t in ("LDS", "RDS", "CDS", "EDS")))
    assert problems == [], problems


def _weights(client) -> dict:
    rc = client.state["RDS"]["9080"].message
    vh = next(v for v in rc.virtual_hosts if v.name == HTTP_VH)
    return weighted_clusters(type(rc)(virtual_hosts=[vh]))


def test_an_envoy_sidecar_gets_istiods_shapes_and_follows_the_canary(meshd, ads_clients, delta_clients):
    _apply(meshd, configs.join(configs.canary(9081, 9082), configs.envoy_mesh()))
    sotw = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[])
    sotw.wait_quiet(0.5)
    _validate(sotw.state)
    listeners = _messages(sotw.state["LDS"])
    assert set(listeners) == {"0.0.0.0_9080", "0.0.0.0_9000", "10.0.0.50_3306", "0.0.0.0_5432", "0.0.0.0_443",
                              "virtualOutbound", "virtualInbound", "0.0.0.0_15021", "0.0.0.0_15090"}, sorted(listeners)
    assert listeners["0.0.0.0_9080"].bind_to_port.value is False and listeners["0.0.0.0_9080"].HasField("bind_to_port")
    assert listeners["virtualOutbound"].use_original_dst.value is True
    assert_inbound_layout(listeners["virtualInbound"], [9000, 9081])
    assert set(sotw.state["RDS"]) == {"9080"}
    hosts = {vh.name: list(vh.domains) for vh in sotw.state["RDS"]["9080"].message.virtual_hosts}
    assert "reviews" in hosts[HTTP_VH] and "reviews.default:9080" in hosts[HTTP_VH], hosts
    assert hosts["allow_any"] == ["*"]
    assert {"PassthroughCluster", "BlackHoleCluster", PASSTHROUGH, "inbound|9081||", configs.cluster("v1")} <= set(sotw.state["CDS"])
    assert "InboundPassthroughClusterIpv4" not in sotw.state["CDS"], "renamed to istiod's InboundPassthroughCluster"
    passthrough = sotw.state["CDS"][PASSTHROUGH].message
    assert passthrough.type == passthrough.ORIGINAL_DST and passthrough.lb_policy == passthrough.CLUSTER_PROVIDED, passthrough
    assert passthrough.upstream_bind_config.source_address.address == "127.0.0.6", passthrough
    assert _weights(sotw) == {configs.cluster("v1"): 50, configs.cluster("v2"): 50}
    details = "outbound|9080||details.default.svc.cluster.local"
    assert [m.name for m in sotw.state["CDS"][details].message.transport_socket_matches] == ["tlsMode-istio", "tlsMode-disabled"]
    marked = {e.endpoint.address.socket_address.address: dict(e.metadata.filter_metadata["envoy.transport_socket_match"])
              for g in sotw.state["EDS"][details].message.endpoints for e in g.lb_endpoints}
    assert marked == {"10.1.0.1": {"tlsMode": "istio"}, "10.1.0.2": {}}, marked
    entry = meshd.wait_synced(NODE)
    assert entry["kind"] == "sidecar" and entry["viewKey"] == "sidecar/default sidecar=none workload-ports=9000,9081", entry

    # Delta: the same resources, byte for byte (one view, one encoding).
    delta = delta_clients(meshd.xds_address, NODE)
    delta.subscribe("CDS")
    delta.subscribe("LDS")
    delta.wait_for(lambda c: c.state["CDS"] and c.state["LDS"], 10, "CDS and LDS")
    delta.subscribe("EDS", eds_names(r.message for r in delta.state["CDS"].values()))
    delta.subscribe("RDS", route_names(r.message for r in delta.state["LDS"].values()))
    delta.wait_for(lambda c: c.state["EDS"] and c.state["RDS"], 10, "EDS and RDS")
    _validate(delta.state)
    for t in ("CDS", "EDS", "LDS", "RDS"):
        assert {n: r.value for n, r in delta.state[t].items()} == {n: r.value for n, r in sotw.state[t].items()}, t

    # The shift: everything to v2. Both streams follow; nothing else changes.
    synced = meshd.wait_synced(NODE)
    _apply(meshd, configs.virtual_service({"v1": 0, "v2": 100}))
    sotw.wait_for(lambda c: "9080" in c.state["RDS"] and _weights(c) == {configs.cluster("v2"): 0}, 10, "the route to v2")
    delta.wait_for(lambda c: "9080" in c.state["RDS"] and c.state["RDS"]["9080"].value == sotw.state["RDS"]["9080"].value,
                   10, "Delta's route to v2")
    meshd.wait_synced(NODE, changed_from=meshd.acked_versions(synced))
    sotw.wait_quiet(0.5)
    _validate(sotw.state)
    assert configs.cluster("v1") in sotw.state["CDS"], "every subset keeps its cluster, so a shift back needs no new one"


def test_registry_only_sends_unknown_destinations_to_the_black_hole(meshd, ads_clients):
    _apply(meshd, configs.join(configs.canary(9081, 9082), configs.envoy_mesh(), configs.outbound_policy("REGISTRY_ONLY")))
    client = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[])
    client.wait_quiet(0.5)
    _validate(client.state)
    outbound = client.state["LDS"]["virtualOutbound"].message
    assert _tcp_clusters(outbound) == {"BlackHoleCluster"}
    assert _tcp_clusters(client.state["LDS"]["0.0.0.0_443"].message) == {
        "BlackHoleCluster", "outbound|443||api.example.com", "outbound|443||www.example.org"}
    catch_all = client.state["RDS"]["9080"].message.virtual_hosts[-1]
    assert catch_all.name == "block_all" and catch_all.routes[0].direct_response.status == 502
    assert "PassthroughCluster" in client.state["CDS"], "both are always sent"

    # Back to ALLOW_ANY: the same listeners now pass unknown destinations through.
    _apply(meshd, configs.outbound_policy("ALLOW_ANY"))
    client.wait_for(lambda c: _tcp_clusters(c.state["LDS"]["virtualOutbound"].message) == {"PassthroughCluster"}, 10,
                    "virtualOutbound to PassthroughCluster")
    client.wait_quiet(0.5)
    _validate(client.state)
    assert client.state["RDS"]["9080"].message.virtual_hosts[-1].name == "allow_any"


def test_a_sidecar_ingress_replaces_the_workloads_inbound_ports(meshd, ads_clients):
    ingress = (f"apiVersion: {configs.API_VERSION}\nkind: Sidecar\nmetadata: {{name: app, namespace: default}}\nspec:\n"
               "  workloadSelector: {labels: {app: productpage}}\n  ingress:\n"
               "  - {port: {number: 9080, protocol: HTTP, name: http}, defaultEndpoint: \"127.0.0.1:8080\"}\n"
               "  - {port: {number: 5000, protocol: TCP}, defaultEndpoint: \"unix:///var/run/app.sock\"}\n")
    _apply(meshd, configs.join(configs.canary(9081, 9082), configs.envoy_mesh(), ingress))
    client = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[],
                         metadata={"LABELS": {"app": "productpage"}})
    client.wait_quiet(0.5)
    _validate(client.state)
    inbound = client.state["LDS"]["virtualInbound"].message
    assert_inbound_layout(inbound, [5000, 9080])
    assert "inbound|9081||" not in client.state["CDS"]
    address = client.state["CDS"]["inbound|5000||"].message.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address
    assert address.pipe.path == "/var/run/app.sock"
    socket = client.state["CDS"]["inbound|9080||"].message.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address
    assert (socket.socket_address.address, socket.socket_address.port_value) == ("127.0.0.1", 8080)


def test_a_sidecar_that_nacks_shows_it_in_proxy_status(meshd, ads_clients):
    from meshd_process import run_meshctl
    from test_nack import _wait
    error = "listener 0.0.0.0_9080 rejected by the test sidecar"
    _apply(meshd, configs.join(configs.canary(9081, 9082), configs.envoy_mesh()))
    client = ads_clients(meshd.xds_address, NODE, user_agent_name="envoy", client_features=[], reject={"LDS": error})
    client.wait_for(lambda c: any(r.type == "LDS" for r in c.responses), 10, "LDS")

    def stale():
        entry = next((e for e in meshd.syncz() if e["proxyID"] == NODE), None)
        return entry if entry and entry["types"].get("LDS", {}).get("error") == error else None
    entry = _wait(stale, what="syncz to show the LDS NACK")
    assert entry["kind"] == "sidecar" and entry["types"]["LDS"]["status"] == "STALE", entry
    status = run_meshctl(meshd.admin_url, "proxy-status").stdout
    line = next(l for l in status.splitlines() if l.startswith(NODE))
    assert line.split()[1:3] == ["sidecar", "default"] and "STALE" in line and error in status, status
