"""Who a proxy is: its kind and namespace from its node (Istio's forms), and on the mTLS port
(`--renew-port`, istiod's 15013) the SPIFFE identity of its mesh certificate, which the
namespace it claims must match."""
from __future__ import annotations

import subprocess

import grpc
import pytest

import configs
from ads_client import AdsClient
from meshd_process import meshctl_bin, run_mesh_agent


def _mesh_certificate(meshd, tmp_path, namespace: str, sa: str = "reviews"):
    """A workload certificate for NAMESPACE/SA from meshd's CA (via mesh-agent and a token)."""
    root_file = tmp_path / "root.pem"
    root_file.write_text(meshd.ca_root())
    out = tmp_path / f"agent-{namespace}-{sa}"
    run_mesh_agent(meshd.tls_address, root_file, meshd.create_token(namespace, sa), out)
    return root_file.read_bytes(), (out / "key.pem").read_bytes(), (out / "cert-chain.pem").read_bytes()


def _mtls_channel(meshd, root: bytes, key: bytes, chain: bytes) -> grpc.Channel:
    creds = grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=chain)
    return grpc.secure_channel(meshd.renew_address, creds, options=[("grpc.ssl_target_name_override", "localhost")])


def _entry(meshd, proxy_id: str) -> dict:
    entries = [e for e in meshd.syncz() if e["proxyID"] == proxy_id]
    assert entries, f"{proxy_id} not in /debug/syncz: {meshd.syncz()}"
    return entries[0]


def test_a_proxy_with_a_mesh_certificate_is_served_on_the_mtls_port_as_its_certificate_says(meshd, tmp_path):
    meshd.apply(configs.canary(9081, 9082))
    root, key, chain = _mesh_certificate(meshd, tmp_path, "a")
    with AdsClient(meshd.renew_address, "mtls-proxy", channel=_mtls_channel(meshd, root, key, chain),
                   metadata={"NAMESPACE": "a"}).start() as client:
        client.wait_complete(timeout=10)
        assert "outbound|9080|v1|reviews.default.svc.cluster.local" in client.state["CDS"]
        assert client.problems() == []
        entry = _entry(meshd, "mtls-proxy")
        assert entry["authenticated"] is True
        assert entry["namespace"] == "a"
        assert entry["identity"] == "spiffe://cluster.local/ns/a/sa/reviews"
        assert entry["kind"] == "proxyless-grpc"

        # meshctl proxy-status shows kind, namespace and authentication.
        table = subprocess.run([meshctl_bin(), "--server", meshd.admin_url, "proxy-status"],
                               capture_output=True, text=True, timeout=30, check=True).stdout
        row = next(line for line in table.splitlines() if line.startswith("mtls-proxy"))
        assert row.split()[1:4] == ["proxyless-grpc", "a", "mtls"], table


def test_a_node_claiming_another_namespace_than_its_certificate_is_refused(meshd, tmp_path):
    meshd.apply(configs.canary(9081, 9082))
    root, key, chain = _mesh_certificate(meshd, tmp_path, "a")
    client = AdsClient(meshd.renew_address, "sidecar~10.0.0.7~reviews-1.b~b.svc.cluster.local",
                       channel=_mtls_channel(meshd, root, key, chain), metadata={"NAMESPACE": "b"}).start()
    try:
        client.wait_for(lambda c: c.error is not None, 10, "the stream to be refused")
        assert client.error.code() == grpc.StatusCode.PERMISSION_DENIED, client.error
        assert "namespace \"b\"" in client.error.details() and "ns/a/sa/reviews" in client.error.details()
        assert not client.responses
    finally:
        client.close()


def test_the_mtls_port_refuses_xds_without_a_client_certificate(meshd):
    creds = grpc.ssl_channel_credentials(root_certificates=meshd.ca_root().encode())
    channel = grpc.secure_channel(meshd.renew_address, creds, options=[("grpc.ssl_target_name_override", "localhost")])
    client = AdsClient(meshd.renew_address, "anonymous", channel=channel).start()
    try:
        client.wait_for(lambda c: c.error is not None, 10, "the stream to fail")
        assert not client.responses
    finally:
        client.close()


@pytest.mark.parametrize("node_id,agent,metadata,kind,namespace", [
    ("sidecar~10.0.0.7~reviews-1.shop~shop.svc.cluster.local", "envoy", None, "sidecar", "shop"),
    ("sidecar~10.0.0.7~reviews-1.shop~shop.svc.cluster.local", "envoy", {"GENERATOR": "grpc"}, "proxyless-grpc", "shop"),
    ("plain-client", "gRPC Python", {"NAMESPACE": "billing"}, "proxyless-grpc", "billing"),
    ("plain-client", "gRPC Python", None, "proxyless-grpc", "default"),
])
def test_kind_and_namespace_come_from_the_node(meshd, node_id, agent, metadata, kind, namespace):
    meshd.apply(configs.canary(9081, 9082))
    with AdsClient(meshd.xds_address, node_id, user_agent_name=agent, metadata=metadata).start() as client:
        client.wait_complete(timeout=10)
        entry = _entry(meshd, node_id)
        assert (entry["kind"], entry["namespace"], entry["authenticated"]) == (kind, namespace, False)
        # what each kind is sent (a sidecar's and a gateway's listeners too) passes the oracle
        assert client.problems() == []


def test_a_gateway_node_no_gateway_selects_gets_only_its_own_listeners(meshd, ads_clients):
    """A router~ node is an Envoy gateway: with no Gateway selecting it, its listeners are its own
    health and stats ports (no proxyless or sidecar shapes), its clusters the outbound ones, and it
    is listed as a gateway."""
    node_id = "router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local"
    meshd.apply(configs.canary(9081, 9082))
    client = ads_clients(meshd.xds_address, node_id, user_agent_name="envoy", client_features=[])
    client.wait_quiet(0.5)
    assert set(client.state["LDS"]) == {"0.0.0.0_15021", "0.0.0.0_15090"}, sorted(client.state["LDS"])
    assert not client.state["RDS"]
    assert "virtualOutbound" not in client.state["LDS"] and "PassthroughCluster" not in client.state["CDS"]
    assert configs.cluster("v1") in client.state["CDS"]
    assert _entry(meshd, node_id)["kind"] == "gateway"

