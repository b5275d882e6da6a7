"""A small state-of-the-world ADS server in Python, serving hand-built resources.

Not meshd: it exists so the harness itself (xds_client.py with a real grpcio client,
ads_client.py, proto_check.py, and via fake_meshd.py the meshd tests) can be proven to work
without a meshd binary (see test_harness.py). It builds the resources meshd is expected to send
for the canary and pushes them make-before-break:
- to a client subscribed to every cluster (wildcard CDS, like Envoy): a cluster that a route
  the client holds still names stays in CDS until that route is gone, and a route config is
  sent only once every cluster it names was sent in CDS and EDS;
- versions are a hash of the content, so they survive a restart.
"""

from __future__ import annotations

import hashlib
import itertools
import queue
import threading
from concurrent import futures

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2, health_check_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import api_listener_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from envoy.extensions.transport_sockets.tls.v3 import common_pb2 as tls_common_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.type.matcher.v3 import string_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2, wrappers_pb2

import configs
from ads_client import TYPE_URLS, weighted_clusters

ORDER = ("CDS", "EDS", "LDS", "RDS")


def _any(msg) -> any_pb2.Any:
    a = any_pb2.Any()
    a.Pack(msg, deterministic=True)
    return a


def _ads_source():
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
    )


def api_listener(name: str):
    hcm = hcm_pb2.HttpConnectionManager(
        stat_prefix=name,  # Envoy's rule: min_len 1
        rds=hcm_pb2.Rds(config_source=_ads_source(), route_config_name=name),
        http_filters=[hcm_pb2.HttpFilter(name="envoy.filters.http.router", typed_config=_any(router_pb2.Router()))],
    )
    return listener_pb2.Listener(name=name, api_listener=api_listener_pb2.ApiListener(api_listener=_any(hcm)))


def route_config(name: str, domains: list, weights: dict):
    """weights: cluster name -> weight."""
    return route_pb2.RouteConfiguration(
        name=name,
        virtual_hosts=[
            route_components_pb2.VirtualHost(
                name=name,
                domains=domains,
                routes=[
                    route_components_pb2.Route(
                        match=route_components_pb2.RouteMatch(prefix="/"),
                        route=route_components_pb2.RouteAction(
                            weighted_clusters=route_components_pb2.WeightedCluster(
                                clusters=[
                                    route_components_pb2.WeightedCluster.ClusterWeight(
                                        name=c, weight=wrappers_pb2.UInt32Value(value=w)
                                    )
                                    for c, w in weights.items()
                                ]
                            )
                        ),
                    )
                ],
            )
        ],
    )


def istio_mutual_tls(sans: list) -> base_pb2.TransportSocket:
    """ISTIO_MUTUAL for a proxyless client, the way istiod writes it: certificate provider
    instance "default" for both the client certificate and the roots, server SAN in `sans`."""
    common = tls_pb2.CommonTlsContext(
        tls_certificate_provider_instance=tls_common_pb2.CertificateProviderPluginInstance(
            instance_name="default", certificate_name="default"),
        combined_validation_context=tls_pb2.CommonTlsContext.CombinedCertificateValidationContext(
            default_validation_context=tls_common_pb2.CertificateValidationContext(
                match_subject_alt_names=[string_pb2.StringMatcher(exact=s) for s in sans]),
            validation_context_certificate_provider_instance=tls_pb2.CommonTlsContext.CertificateProviderInstance(
                instance_name="default", certificate_name="ROOTCA"),
        ),
    )
    return base_pb2.TransportSocket(name="envoy.transport_sockets.tls",
                                    typed_config=_any(tls_pb2.UpstreamTlsContext(common_tls_context=common)))


def eds_cluster(name: str, tls_sans: list | None = None):
    """tls_sans not None: ISTIO_MUTUAL, requiring one of these server SANs."""
    c = cluster_pb2.Cluster(
        name=name,
        type=cluster_pb2.Cluster.EDS,
        eds_cluster_config=cluster_pb2.Cluster.EdsClusterConfig(eds_config=_ads_source(), service_name=name),
        lb_policy=cluster_pb2.Cluster.ROUND_ROBIN,
    )
    if tls_sans is not None:
        c.transport_socket.CopyFrom(istio_mutual_tls(tls_sans))
    return c


def load_assignment(name: str, addresses: list):
    """addresses: [(ip, port), ...]."""
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=name,
        endpoints=[
            endpoint_components_pb2.LocalityLbEndpoints(
                locality=base_pb2.Locality(),
                load_balancing_weight=wrappers_pb2.UInt32Value(value=1),
                lb_endpoints=[
                    endpoint_components_pb2.LbEndpoint(
                        endpoint=endpoint_components_pb2.Endpoint(
                            address=address_pb2.Address(
                                socket_address=address_pb2.SocketAddress(address=ip, port_value=port)
                            )
                        ),
                        health_status=health_check_pb2.HEALTHY,
                    )
                    for ip, port in addresses
                ],
            )
        ],
    )


def canary_resources(ports: dict, weights: dict) -> dict:
    """type -> {name: message}: what a proxyless client needs for reviews:9080.

    ports: subset -> backend port; weights: subset -> weight.
    """
    listener = api_listener(configs.LISTENER)
    route = route_config(configs.LISTENER, [configs.HOST, configs.LISTENER],
                         {configs.cluster(s): w for s, w in weights.items()})
    clusters, assignments = {}, {}
    by_subset = {"": list(ports.values()), **{s: [p] for s, p in ports.items()}}
    for subset, subset_ports in by_subset.items():
        name = configs.cluster(subset)
        clusters[name] = eds_cluster(name)
        assignments[name] = load_assignment(name, [("127.0.0.1", p) for p in subset_ports])
    return {"LDS": {listener.name: listener}, "RDS": {route.name: route}, "CDS": clusters, "EDS": assignments}


def _version(content: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(content):
        h.update(name.encode() + b"\0" + content[name] + b"\0")
    return h.hexdigest()[:16]


class _Stream:
    """Per-connection state: subscriptions and what was sent (name -> serialized bytes)."""

    def __init__(self):
        self.node_id = ""
        self.subs: dict = {}
        self.sent = {t: {} for t in TYPE_URLS}
        self.answered: set = set()   # types that got at least one response
        self.last_nonce: dict = {}


class FakeAds(ads_pb2_grpc.AggregatedDiscoveryServiceServicer):
    """SotW ADS: answers what is asked, pushes what changed, make-before-break."""

    def __init__(self):
        self.lock = threading.Lock()
        self.resources = {t: {} for t in TYPE_URLS}
        self.streams: list[queue.Queue] = []
        # node id -> type -> {"sent": version, "nonce": str, "acked": version or None, "error": str}
        self.status: dict = {}
        self.pushes = {t: 0 for t in TYPE_URLS}
        self._nonces = itertools.count(1)
        self.server = None
        self.port = None

    def start(self, host: str = "127.0.0.1", port: int = 0, handlers=(), tls=None) -> "FakeAds":
        """handlers: extra generic RPC handlers; tls: (port, grpc.ServerCredentials) to serve
        the same services on a TLS port too (its port ends up in self.tls_port)."""
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        ads_pb2_grpc.add_AggregatedDiscoveryServiceServicer_to_server(self, self.server)
        if handlers:
            self.server.add_generic_rpc_handlers(tuple(handlers))
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        self.tls_port = None
        if tls is not None:
            self.tls_port = self.server.add_secure_port(f"{host}:{tls[0]}", tls[1])
        self.server.start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(grace=0).wait(timeout=5)

    def set_resources(self, by_type: dict) -> None:
        """Replace the resources of the given types and push to every stream."""
        with self.lock:
            for t, named in by_type.items():
                self.resources[t] = {n: m.SerializeToString(deterministic=True) for n, m in named.items()}
            streams = list(self.streams)
        for q in streams:
            q.put(("update", None))

    def synced(self, node_id: str) -> bool:
        with self.lock:
            types = self.status.get(node_id)
            return bool(types) and all(s.get("acked") == s.get("sent") for s in types.values())

    def acked(self, node_id: str) -> dict:
        with self.lock:
            return {t: s.get("acked") for t, s in self.status.get(node_id, {}).items()}

    # ------------------------------------------------------------------ push plan

    def _wanted(self, st: _Stream, t: str, available: dict) -> dict:
        names = st.subs.get(t)
        if names is None:
            return {}
        if not names and t in ("LDS", "CDS"):
            return dict(available)
        return {n: available[n] for n in names if n in available}

    def _next_response(self, st: _Stream):
        """The next (type, content) to send on this stream, or None. Caller holds the lock."""
        res = self.resources
        held_routes = [route_pb2.RouteConfiguration.FromString(b) for b in st.sent["RDS"].values()]
        still_named = set()
        for rc in held_routes:
            still_named |= set(weighted_clusters(rc))
        for t in ORDER:
            if t not in st.subs:
                continue
            want = self._wanted(st, t, res[t])
            wildcard_cds = st.subs.get("CDS") == []
            if t == "CDS" and wildcard_cds:
                # make-before-break: keep clusters that routes the client holds still name
                for n, b in st.sent["CDS"].items():
                    if n not in want and n in still_named:
                        want[n] = b
            if t == "EDS":
                for n in (st.subs["EDS"] or []):
                    if n not in want and n in st.sent["EDS"]:
                        want[n] = st.sent["EDS"][n]
            if t in ("LDS", "CDS"):
                if want != st.sent[t] or t not in st.answered:
                    return t, want
            else:
                changed = {n: b for n, b in want.items() if st.sent[t].get(n) != b}
                if t == "RDS" and wildcard_cds:
                    # a client that takes every cluster gets a route only once the clusters it
                    # names have arrived with their endpoints (a client that names its clusters,
                    # like grpcio, asks for them after seeing the route and waits for them itself)
                    ready = {}
                    for n, b in changed.items():
                        names = set(weighted_clusters(route_pb2.RouteConfiguration.FromString(b)))
                        if all(c in st.sent["CDS"] and c in st.sent["EDS"] for c in names):
                            ready[n] = b
                    changed = ready
                if changed or (t not in st.answered and want == {} and st.subs[t]):
                    return t, changed
        return None

    def _respond(self, st: _Stream, t: str, content: dict):
        if t in ("LDS", "CDS"):
            st.sent[t] = dict(content)
        else:
            st.sent[t].update(content)
        st.answered.add(t)
        version = _version(st.sent[t])
        nonce = str(next(self._nonces))
        st.last_nonce[t] = nonce
        entry = self.status.setdefault(st.node_id, {}).setdefault(t, {"acked": None})
        entry["sent"], entry["nonce"] = version, nonce
        self.pushes[t] += 1
        resources = []
        for name, data in content.items():
            resources.append(any_pb2.Any(type_url=TYPE_URLS[t], value=data))
        return discovery_pb2.DiscoveryResponse(type_url=TYPE_URLS[t], version_info=version, nonce=nonce,
                                               resources=resources)

    def StreamAggregatedResources(self, request_iterator, context):
        events: queue.Queue = queue.Queue()

        def pump():
            try:
                for req in request_iterator:
                    events.put(("req", req))
            except Exception:
                pass
            events.put(None)

        with self.lock:
            self.streams.append(events)
        threading.Thread(target=pump, daemon=True).start()
        st = _Stream()
        try:
            while True:
                ev = events.get()
                if ev is None or not context.is_active():
                    return
                kind, req = ev
                out = []
                with self.lock:
                    if kind == "req":
                        st.node_id = st.node_id or req.node.id
                        t = next((s for s, u in TYPE_URLS.items() if u == req.type_url), None)
                        if t is None:
                            continue
                        if req.response_nonce and req.response_nonce != st.last_nonce.get(t):
                            continue  # stale nonce: ignored, as the protocol says
                        entry = self.status.setdefault(st.node_id, {}).setdefault(t, {"acked": None})
                        if req.response_nonce:
                            if req.HasField("error_detail"):
                                entry["error"] = req.error_detail.message
                            else:
                                entry["acked"], entry["error"] = req.version_info, None
                        names = list(req.resource_names)
                        if st.subs.get(t) != names:
                            st.subs[t] = names
                            # a new or changed subscription is answered even if nothing changed
                            st.answered.discard(t)
                            for n in list(st.sent[t]):
                                if t in ("RDS", "EDS") and n not in names:
                                    del st.sent[t][n]
                            if t in ("RDS", "EDS"):
                                want = self._wanted(st, t, self.resources[t])
                                # names asked for again must be sent again
                                for n in want:
                                    st.sent[t].pop(n, None)
                    for _ in range(16):
                        step = self._next_response(st)
                        if step is None:
                            break
                        out.append(self._respond(st, *step))
                for resp in out:
                    yield resp
        finally:
            with self.lock:
                self.streams.remove(events)
