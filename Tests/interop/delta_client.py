"""A Delta (incremental) ADS client on xds-protos' generated stubs.

It drives the subscription by hand (subscribe / unsubscribe per type, optional
initial_resource_versions on a type's first request), ACKs every response with its nonce (or
NACKs the types listed in `reject`), applies each response to its view (resources added or
replaced, removed_resources deleted) and records every response in arrival order, decoded with
the official protos, so tests can check content, removals, versions and ordering.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

import proto_check
from ads_client import SHORT, TYPE_URLS
from stream_client import StreamClient


@dataclass
class DeltaResource:
    name: str
    version: str
    type_url: str
    value: bytes      # the serialized resource exactly as meshd sent it
    message: object   # decoded with the official proto


@dataclass
class DeltaReceived:
    seq: int
    type: str
    system_version: str
    nonce: str
    resources: dict = field(default_factory=dict)   # name -> DeltaResource
    removed: list = field(default_factory=list)
    problems: list = field(default_factory=list)    # what the official protos do not know or Envoy refuses

    @property
    def names(self) -> list[str]:
        return sorted(self.resources)

    def __repr__(self) -> str:
        return f"#{self.seq} {self.type} v={self.system_version!r} nonce={self.nonce!r} {self.names} removed={self.removed}"


class DeltaClient(StreamClient):
    label = "Delta"

    def __init__(self, address: str, node_id: str, reject: dict | None = None, metadata: dict | None = None,
                 channel=None):
        super().__init__(address, channel)
        self.node = base_pb2.Node(id=node_id, user_agent_name="envoy")
        if metadata:
            self.node.metadata.update(metadata)  # e.g. {"NAMESPACE": "a"}: the proxy's namespace
        self.reject = dict(reject or {})
        self.sent: list[str] = []
        self.state = {t: {} for t in TYPE_URLS}   # type -> name -> DeltaResource (the view)
        self.nonces = {t: "" for t in TYPE_URLS}
        self._node_sent = False

    # ------------------------------------------------------------------ stream

    def start(self) -> "DeltaClient":
        self._open(ads_pb2_grpc.AggregatedDiscoveryServiceStub(self._channel).DeltaAggregatedResources)
        return self

    def _send(self, type_short: str, subscribe=(), unsubscribe=(), initial=None, nonce: str = "",
              error: str | None = None) -> None:
        req = discovery_pb2.DeltaDiscoveryRequest(
            type_url=TYPE_URLS.get(type_short, type_short),
            resource_names_subscribe=sorted(subscribe),
            resource_names_unsubscribe=sorted(unsubscribe),
            initial_resource_versions=dict(initial or {}),
            response_nonce=nonce,
        )
        if error is not None:
            req.error_detail.code = 3
            req.error_detail.message = error
        if not self._node_sent:
            req.node.CopyFrom(self.node)
            self._node_sent = True
        self.sent.append(f"{type_short} +{sorted(subscribe)} -{sorted(unsubscribe)} init={sorted(initial or {})} "
                         f"nonce={nonce!r}{' NACK' if error else ''}")
        self._out.put(req)

    def subscribe(self, type_short: str, names=(), initial: dict | None = None) -> None:
        """Subscribe to names (none on a type's first request: wildcard; "*": wildcard)."""
        with self.cond:
            self._send(type_short, subscribe=names, initial=initial, nonce=self.nonces.get(type_short, ""))

    def unsubscribe(self, type_short: str, names) -> None:
        with self.cond:
            for name in names:
                self.state[type_short].pop(name, None)
            self._send(type_short, unsubscribe=names, nonce=self.nonces.get(type_short, ""))

    def _on_response(self, resp) -> None:
        with self.cond:
            t = SHORT.get(resp.type_url, resp.type_url)
            rec = DeltaReceived(seq=len(self.responses), type=t, system_version=resp.system_version_info,
                                nonce=resp.nonce, removed=list(resp.removed_resources))
            for wrapped in resp.resources:
                msg = proto_check.unpack(wrapped.resource)
                rec.problems += proto_check.find_problems(msg)
                if wrapped.name != proto_check.resource_name(msg):
                    rec.problems.append(f"Resource.name {wrapped.name!r} is not the resource's own name")
                rec.resources[wrapped.name] = DeltaResource(wrapped.name, wrapped.version, wrapped.resource.type_url,
                                                            wrapped.resource.value, msg)
            self.responses.append(rec)
            if t in self.state:
                self.state[t].update(rec.resources)
                for name in rec.removed:
                    self.state[t].pop(name, None)
                self.nonces[t] = rec.nonce
            self._send(t, nonce=rec.nonce, error=self.reject.get(t))  # ACK (or NACK)
            self.cond.notify_all()

    # ------------------------------------------------------------------ waiting / views

    def wait_response(self, after: int, type_short: str, pred=lambda r: True, timeout: float = 10.0) -> DeltaReceived:
        """The first response of a type after `after` responses that satisfies `pred`."""
        return self.wait_for(
            lambda c: next((r for r in c.responses[after:] if r.type == type_short and pred(r)), None),
            timeout, f"a {type_short} response")

    def quiet(self, seconds: float = 0.4) -> list[DeltaReceived]:
        """Waits `seconds` and returns the responses that arrived meanwhile (expected: none)."""
        n = len(self.responses)
        time.sleep(seconds)
        with self.cond:
            return self.responses[n:]

    def versions(self, type_short: str) -> dict:
        """name -> version of what the client holds: its initial_resource_versions on reconnect."""
        with self.cond:
            return {n: r.version for n, r in self.state[type_short].items()}

    def describe(self, last: int = 30) -> str:
        lines = [f"Delta client {self.node.id} -> {self.address}"]
        lines += [f"  recv {r!r}" for r in self.responses[-last:]]
        lines += [f"  sent {s}" for s in self.sent[-last:]]
        return "\n".join(lines)
