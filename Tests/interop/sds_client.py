"""A Secret Discovery Service client on mesh-agent's Unix socket, speaking as Envoy does
(grpcio with xds-protos' SDS stub): StreamSecrets (state of the world) or DeltaSecrets."""

from __future__ import annotations

import queue
import threading

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.discovery.v3 import discovery_pb2
from envoy.service.secret.v3 import sds_pb2_grpc

SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"


def secrets_of(resources) -> dict[str, secret_pb2.Secret]:
    """Any-packed Secrets by name, decoded with the official proto."""
    out = {}
    for any_msg in resources:
        assert any_msg.type_url == SECRET_TYPE, any_msg.type_url
        secret = secret_pb2.Secret.FromString(any_msg.value)
        out[secret.name] = secret
    return out


class SdsStream:
    """One SDS stream: requests are queued by the test, responses collected by a thread."""

    def __init__(self, socket_path: str, node_id: str = "sidecar~10.0.0.7~app-1.default~default.svc.cluster.local",
                 delta: bool = False):
        self.channel = grpc.insecure_channel(f"unix:{socket_path}")
        stub = sds_pb2_grpc.SecretDiscoveryServiceStub(self.channel)
        self.node = base_pb2.Node(id=node_id, user_agent_name="envoy")
        self.requests: queue.Queue = queue.Queue()
        self.responses: queue.Queue = queue.Queue()
        self.error: grpc.RpcError | None = None
        method = stub.DeltaSecrets if delta else stub.StreamSecrets
        self.call = method(iter(self.requests.get, None))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self.responses.put(response)
        except grpc.RpcError as err:
            self.error = err
            self.responses.put(err)

    def request(self, names, nonce: str = "", version: str = "", error: str | None = None) -> None:
        req = discovery_pb2.DiscoveryRequest(node=self.node, type_url=SECRET_TYPE, resource_names=list(names),
                                             response_nonce=nonce, version_info=version)
        if error is not None:
            req.error_detail.code = 3
            req.error_detail.message = error
        self.requests.put(req)

    def delta_request(self, subscribe=(), unsubscribe=(), nonce: str = "", initial=None) -> None:
        self.requests.put(discovery_pb2.DeltaDiscoveryRequest(
            node=self.node, type_url=SECRET_TYPE, resource_names_subscribe=list(subscribe),
            resource_names_unsubscribe=list(unsubscribe), response_nonce=nonce,
            initial_resource_versions=initial or {}))

    def next(self, timeout: float = 10.0):
        try:
            item = self.responses.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no SDS response within {timeout:g}s") from None
        if isinstance(item, grpc.RpcError):
            raise AssertionError(f"SDS stream failed: {item.code()}: {item.details()}")
        return item

    def quiet(self, seconds: float) -> bool:
        """True when no response arrives for `seconds` (a bounded wait, not a sleep-assertion:
        the test asserts the protocol sent nothing, which only a window can show)."""
        try:
            self.responses.get(timeout=seconds)
            return False
        except queue.Empty:
            return True

    def close(self) -> None:
        self.requests.put(None)
        self.call.cancel()
        self.channel.close()
