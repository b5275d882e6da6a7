"""PeerAuthentication enforced by a real grpcio xDS-enabled server (gRFC A36).

The server is grpcio's `grpc.server(..., xds=True)` serving with `xds_server_credentials`; its
bootstrap comes from `meshctl bootstrap --cert-dir --namespace --labels`, so it asks meshd for
`xds.istio.io/grpc/lds/inbound/0.0.0.0:P` and takes its certificates (issued by meshd's CA
through mesh-agent) from the `default` provider. The mTLS client is grpcio's xDS client with an
ISTIO_MUTUAL DestinationRule to the server's WorkloadEntry.

- STRICT (workload-selected): a plaintext client is refused; the mTLS client is served and the
  server sees its SPIFFE identity.
- DISABLE: plaintext is served.
- PERMISSIVE: plaintext is served, and the apply answer warns naming spec.mtls.mode.
"""

from __future__ import annotations

import json
import time

import grpc

import configs
from backend import FULL_METHOD
from ca_tools import spiffe_id
from meshd_process import run_meshctl
from test_mtls import fetch_identity
from xds_server_runner import XdsServerProcess, free_port


def peer_authentication(mode: str, selector: dict | None = None, name: str = "reviews") -> str:
    select = ""
    if selector:
        labels = "".join(f"      {k}: {v}\n" for k, v in selector.items())
        select = f"  selector:\n    matchLabels:\n{labels}"
    return f"""\
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: {name}
  namespace: {configs.NAMESPACE}
spec:
{select}  mtls:
    mode: {mode}
"""


def plaintext_call(address: str) -> grpc.StatusCode:
    with grpc.insecure_channel(address) as channel:
        try:
            channel.unary_unary(FULL_METHOD)(b"", timeout=3)
            return grpc.StatusCode.OK
        except grpc.RpcError as err:
            return err.code()


def poll(action, good, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = action()
        if good(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.25)


def server_bootstrap(meshd, node: str, cert_dir) -> str:
    boot = run_meshctl(meshd.admin_url, "bootstrap", "--xds-address", meshd.xds_address, "--node-id", node,
                       "--cert-dir", str(cert_dir), "--namespace", configs.NAMESPACE, "--labels", "app=reviews,version=v1").stdout
    document = json.loads(boot)
    assert document["server_listener_resource_name_template"] == "xds.istio.io/grpc/lds/inbound/%s", document
    assert document["node"]["metadata"] == {"GENERATOR": "grpc", "NAMESPACE": configs.NAMESPACE,
                                            "LABELS": {"app": "reviews", "version": "v1"}}, document
    return boot


def test_strict_disable_permissive(meshd, tmp_path, xds_clients, node_id):
    root_file = tmp_path / "mesh-root.pem"
    root_file.write_text(run_meshctl(meshd.admin_url, "ca", "root").stdout)
    server_dir, client_dir = tmp_path / "reviews", tmp_path / "productpage"
    fetch_identity(meshd, root_file, "reviews", server_dir)
    fetch_identity(meshd, root_file, "productpage", client_dir)
    port = free_port()
    applied = meshd.apply(configs.mtls(port, "reviews") + "---\n" + peer_authentication("STRICT", {"app": "reviews"}))
    assert not [w for w in applied["warnings"] if "PeerAuthentication" in w and "proxyless gRPC" in w], applied
    # Envoy sidecars serve it on virtualInbound (test_envoy_zero_trust.py): the apply says nothing of Envoy
    assert not [w for w in applied["warnings"] if w.startswith("PeerAuthentication") and "Envoy" in w], applied
    meshd.wait_pushed(applied["revision"])

    server = XdsServerProcess(server_bootstrap(meshd, node_id("server"), server_dir), port)
    client = None
    try:
        proxy = node_id("mtls-client")
        boot = run_meshctl(meshd.admin_url, "bootstrap", "--xds-address", meshd.xds_address,
                           "--node-id", proxy, "--cert-dir", str(client_dir)).stdout
        client = xds_clients(meshd.xds_address, proxy, bootstrap_json=boot, creds="xds", warmup_timeout=30)
        ready = client.wait_ready(timeout=40)
        assert ready.get("ok"), f"mTLS RPC to the STRICT server failed: {ready}\n{client.stderr_tail()}\n{server.stderr_tail()}"
        window = client.run(10)
        assert window["failures"] == 0 and window["counts"] == {"reviews": 10}, window
        assert set(server.peers()) == {spiffe_id("default", "productpage")}, server.peers()

        # STRICT: a plaintext client is refused
        code = plaintext_call(server.address)
        assert code == grpc.StatusCode.UNAVAILABLE, f"a plaintext client got {code} from a STRICT server"

        # DISABLE: plaintext served (the listener changes on the running server)
        applied = meshd.apply(peer_authentication("DISABLE", {"app": "reviews"}))
        meshd.wait_pushed(applied["revision"])
        code = poll(lambda: plaintext_call(server.address), lambda c: c == grpc.StatusCode.OK)
        assert code == grpc.StatusCode.OK, f"plaintext under DISABLE: {code}\n{server.stderr_tail()}"
        assert server.peers()[-1] == "", server.peers()

        # back to STRICT: plaintext refused again
        applied = meshd.apply(peer_authentication("STRICT", {"app": "reviews"}))
        meshd.wait_pushed(applied["revision"])
        code = poll(lambda: plaintext_call(server.address), lambda c: c != grpc.StatusCode.OK)
        assert code == grpc.StatusCode.UNAVAILABLE, code

        # PERMISSIVE: plaintext served, and the apply says why it is not mTLS too
        applied = meshd.apply(peer_authentication("PERMISSIVE", {"app": "reviews"}))
        assert any(w.startswith("PeerAuthentication default/reviews: spec.mtls.mode: substituted for proxyless gRPC clients: plaintext")
                   for w in applied["warnings"]), applied
        meshd.wait_pushed(applied["revision"])
        code = poll(lambda: plaintext_call(server.address), lambda c: c == grpc.StatusCode.OK)
        assert code == grpc.StatusCode.OK, f"plaintext under PERMISSIVE: {code}"
    finally:
        if client is not None:
            client.close()
        server.close()


def test_server_without_policy_or_service_serves_plaintext(meshd, tmp_path, node_id):
    """A port no service declares, no policy: the server still gets its listener and serves."""
    port = free_port()
    boot = run_meshctl(meshd.admin_url, "bootstrap", "--xds-address", meshd.xds_address,
                       "--node-id", node_id("bare-server"), "--namespace", "other").stdout
    server = XdsServerProcess(boot, port, host="::")
    try:
        code = poll(lambda: plaintext_call(f"[::1]:{port}"), lambda c: c == grpc.StatusCode.OK)
        assert code == grpc.StatusCode.OK, f"{code}\n{server.stderr_tail()}"
    finally:
        server.close()
