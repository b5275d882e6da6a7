"""An Envoy-like ADS client (state of the world) built on xds-protos' generated stubs.

It subscribes to CDS and LDS by wildcard (empty resource_names), then to RDS for the
route_config_names of the listeners' HttpConnectionManagers and to EDS for the EDS clusters'
service names as they appear; it ACKs every response (version_info + nonce) and records every
response in arrival order, decoded with the official protos, so tests can check content,
ordering, versions and bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

import proto_check
from stream_client import StreamClient

TYPE_URLS = {
    "LDS": "type.googleapis.com/envoy.config.listener.v3.Listener",
    "RDS": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    "CDS": "type.googleapis.com/envoy.config.cluster.v3.Cluster",
    "EDS": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
}
SHORT = {url: short for short, url in TYPE_URLS.items()}
RESOURCE_WRAPPER = "type.googleapis.com/envoy.service.discovery.v3.Resource"
HCM_TYPE = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"

# What grpcio's xDS client reports about itself, so meshd treats this client like the
# proxyless gRPC clients it will really serve.
GRPC_CLIENT_FEATURES = ["envoy.lb.does_not_support_overprovisioning", "xds.config.resource-in-sotw"]


@dataclass
class Resource:
    name: str
    type_url: str
    value: bytes          # the serialized resource exactly as meshd sent it
    message: object       # decoded with the official proto


@dataclass
class Received:
    seq: int
    at: float
    type: str
    version: str
    nonce: str
    resources: dict = field(default_factory=dict)   # name -> Resource, in order
    raw: object = None                              # the DiscoveryResponse
    problems: list = field(default_factory=list)    # proto_check.find_problems of the response

    @property
    def names(self) -> list[str]:
        return list(self.resources)

    def __repr__(self) -> str:
        return f"#{self.seq} {self.type} v={self.version!r} nonce={self.nonce!r} {self.names}"


def http_connection_managers(listener) -> list:
    """The HttpConnectionManagers of a listener: the api_listener's, or in its filter chains."""
    anys = []
    if listener.HasField("api_listener"):
        anys.append(listener.api_listener.api_listener)
    for chain in list(listener.filter_chains) + (
        [listener.default_filter_chain] if listener.HasField("default_filter_chain") else []
    ):
        for f in chain.filters:
            if f.HasField("typed_config"):
                anys.append(f.typed_config)
    return [proto_check.unpack(a) for a in anys if a.type_url.endswith("/" + HCM_TYPE)]


def route_names(listeners) -> set[str]:
    names = set()
    for listener in listeners:
        for hcm in http_connection_managers(listener):
            if hcm.HasField("rds"):
                names.add(hcm.rds.route_config_name)
    return names


def eds_names(clusters) -> set[str]:
    from envoy.config.cluster.v3 import cluster_pb2

    names = set()
    for c in clusters:
        if c.HasField("eds_cluster_config") or (
            c.WhichOneof("cluster_discovery_type") == "type" and c.type == cluster_pb2.Cluster.EDS
        ):
            names.add(c.eds_cluster_config.service_name or c.name)
    return names


def weighted_clusters(route_config) -> dict[str, int]:
    """cluster name -> weight over all routes of a RouteConfiguration (single clusters weigh 0)."""
    out = {}
    for vh in route_config.virtual_hosts:
        for r in vh.routes:
            if not r.HasField("route"):
                continue
            if r.route.HasField("weighted_clusters"):
                for c in r.route.weighted_clusters.clusters:
                    out[c.name] = c.weight.value
            elif r.route.cluster:
                out[r.route.cluster] = 0
    return out


class AdsClient(StreamClient):
    def __init__(self, address: str, node_id: str, wildcard=("CDS", "LDS"), follow: bool = True,
                 user_agent_name: str = "gRPC Python", client_features=None, reject: dict | None = None,
                 channel: grpc.Channel | None = None, metadata: dict | None = None, locality: dict | None = None):
        """locality: the Node's locality ({"region": ..., "zone": ..., "sub_zone": ...})."""
        super().__init__(address, channel)
        self.node_id = node_id
        self.wildcard = tuple(wildcard)
        self.follow = follow
        # type -> error message: responses of these types are NACKed (error_detail set, the
        # previous version kept), as a proxy does with config it cannot apply.
        self.reject = dict(reject or {})
        self.node = base_pb2.Node(
            id=node_id,
            user_agent_name=user_agent_name,
            user_agent_version=grpc.__version__,
            client_features=GRPC_CLIENT_FEATURES if client_features is None else client_features,
        )
        if metadata:
            self.node.metadata.update(metadata)
        if locality:
            self.node.locality.CopyFrom(base_pb2.Locality(**locality))
        self.sent: list = []
        self.state = {t: {} for t in TYPE_URLS}          # type -> name -> Resource (current view)
        self.versions = {t: None for t in TYPE_URLS}      # last ACKed version per type
        self.nonces = {t: "" for t in TYPE_URLS}
        self.subs: dict[str, set | None] = {t: None for t in TYPE_URLS}  # None: not subscribed
        self._node_sent = False

    # ------------------------------------------------------------------ stream

    def start(self) -> "AdsClient":
        self._open(ads_pb2_grpc.AggregatedDiscoveryServiceStub(self._channel).StreamAggregatedResources)
        with self.cond:
            for t in self.wildcard:
                self.subs[t] = set()
                self._send(t, [])
        return self

    def _send(self, type_short: str, names, error: str | None = None) -> None:
        """Queue one request for a type with the current version/nonce (caller holds cond)."""
        req = discovery_pb2.DiscoveryRequest(
            type_url=TYPE_URLS[type_short],
            resource_names=sorted(names),
            version_info=self.versions[type_short] or "",
            response_nonce=self.nonces[type_short],
        )
        if error is not None:
            req.error_detail.code = 3  # INVALID_ARGUMENT, as Envoy reports rejected config
            req.error_detail.message = error
        if not self._node_sent:
            req.node.CopyFrom(self.node)
            self._node_sent = True
        self.sent.append((time.monotonic(), type_short, list(req.resource_names), req.version_info, req.response_nonce))
        self._out.put(req)

    def _decode(self, resp) -> Received:
        t = SHORT.get(resp.type_url, resp.type_url)
        rec = Received(seq=len(self.responses), at=time.monotonic(), type=t,
                       version=resp.version_info, nonce=resp.nonce, raw=resp,
                       problems=[f"response #{len(self.responses)} ({t}): {p}" for p in proto_check.find_problems(resp)])
        for any_msg in resp.resources:
            name = None
            if any_msg.type_url == RESOURCE_WRAPPER:
                wrapper = discovery_pb2.Resource.FromString(any_msg.value)
                name = wrapper.name or None
                any_msg = wrapper.resource
            msg = proto_check.unpack(any_msg)
            name = name or proto_check.resource_name(msg)
            rec.resources[name] = Resource(name, any_msg.type_url, any_msg.value, msg)
        return rec

    def _on_response(self, resp) -> None:
        with self.cond:
            rec = self._decode(resp)
            self.responses.append(rec)
            t = rec.type
            if t in ("LDS", "CDS"):
                self.state[t] = dict(rec.resources)
            elif t in self.state:
                self.state[t].update(rec.resources)
            if t in TYPE_URLS and t in self.reject:
                self.nonces[t] = rec.nonce
                self._send(t, self.subs[t] or [], error=self.reject[t])  # NACK: keep the old version
            elif t in TYPE_URLS:
                self.versions[t] = rec.version
                self.nonces[t] = rec.nonce
                self._send(t, self.subs[t] or [])  # ACK
                if self.follow:
                    if t == "LDS":
                        self._resubscribe("RDS", route_names(r.message for r in self.state["LDS"].values()))
                    elif t == "CDS":
                        self._resubscribe("EDS", eds_names(r.message for r in self.state["CDS"].values()))
            self.cond.notify_all()

    def _resubscribe(self, t: str, names: set) -> None:
        current = self.subs[t]
        if current == names or (current is None and not names):
            return
        self.subs[t] = set(names)
        for gone in [n for n in self.state[t] if n not in names]:
            del self.state[t][gone]
        self._send(t, names)

    # ------------------------------------------------------------------ waiting / views

    def complete(self) -> bool:
        """Every subscribed type answered, and every subscribed RDS/EDS name present."""
        for t, names in self.subs.items():
            if names is None:
                continue
            if self.versions[t] is None:
                return False
            if t in ("RDS", "EDS") and not names.issubset(self.state[t]):
                return False
        return True

    def wait_complete(self, timeout: float = 10.0) -> None:
        self.wait_for(lambda c: c.complete() and c.subs["LDS"] is not None, timeout, "a complete set of resources")

    def wait_quiet(self, quiet: float = 1.0, timeout: float = 10.0) -> None:
        """Wait until complete and no response arrived for `quiet` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.wait_complete(max(0.1, deadline - time.monotonic()))
            n = len(self.responses)
            time.sleep(quiet)
            with self.cond:
                if len(self.responses) == n and self.complete():
                    return
            if time.monotonic() > deadline:
                raise AssertionError(f"ADS stream never went quiet for {quiet}s\n{self.describe()}")

    def snapshot(self) -> dict:
        """type -> {"version": str, "resources": {name: bytes}} of the current view."""
        with self.cond:
            return {
                t: {"version": self.versions[t], "resources": {n: r.value for n, r in sorted(self.state[t].items())}}
                for t in TYPE_URLS
                if self.subs[t] is not None
            }

    def describe(self, last: int = 30) -> str:
        lines = [f"ADS client {self.node_id} -> {self.address}: subs={ {k: sorted(v) if v is not None else None for k, v in self.subs.items()} }"]
        lines += [f"  recv {r!r}" for r in self.responses[-last:]]
        lines += [f"  sent {s[1]} names={s[2]} version={s[3]!r} nonce={s[4]!r}" for s in self.sent[-last:]]
        return "\n".join(lines)
