"""End to end mTLS with real clients: mesh-agent certificates, ISTIO_MUTUAL, grpcio's xDS security.

mesh-agent fetches certificates from meshd's CA for sa `reviews` (the backend), `productpage`
(the client) and `ratings` (an impostor backend). The backend is a grpcio server demanding a
client certificate from the mesh root. The config is ServiceEntry + WorkloadEntry
(serviceAccount: reviews) + DestinationRule {trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}, so
meshd sends the cluster with an UpstreamTlsContext that requires the server's SAN to be
spiffe://cluster.local/ns/default/sa/reviews. The client is grpcio's xDS client in a subprocess,
dialling with xds_channel_credentials and a bootstrap from `meshctl bootstrap --cert-dir`.

1. RPCs succeed, and the backend saw the client's identity (productpage).
2. The WorkloadEntry moves to the impostor (cert for `ratings`, same root): RPCs fail.
3. Back to the real backend: RPCs succeed again.
4. A client with no mesh certificate, straight to the backend, is refused by the backend
   (grpcio) and by the TLS handshake itself (Python's ssl, which can skip the host name check
   that grpcio cannot: the leaf has a SPIFFE URI SAN only), while the same handshake with the
   client's mesh certificate is accepted.
"""

from __future__ import annotations

import json
import socket
import ssl
import stat
import time
from pathlib import Path

import grpc

import configs
from backend import FULL_METHOD, EchoBackend, TlsFiles
from ca_tools import assert_verifies, cert_der, cert_sans, public_key_of_cert, public_key_of_key, spiffe_id, split_pem
from meshd_process import run_mesh_agent, run_meshctl

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # + empty SETTINGS


def fetch_identity(meshd, root_file: Path, sa: str, out: Path, token: str | None = None) -> TlsFiles:
    token = token or meshd.create_token("default", sa)
    run_mesh_agent(meshd.tls_address, root_file, token, out, ttl="1h")
    for name in ("cert-chain.pem", "key.pem", "root-cert.pem"):
        assert (out / name).exists(), f"mesh-agent did not write {out / name}"
    mode = stat.S_IMODE((out / "key.pem").stat().st_mode)
    assert mode == 0o600, f"mesh-agent wrote key.pem with mode {oct(mode)}"
    chain = split_pem((out / "cert-chain.pem").read_text())
    root = (out / "root-cert.pem").read_text()
    assert cert_der(root) == cert_der(root_file.read_text()), "mesh-agent's root-cert.pem is not meshd's root"
    assert_verifies(root, chain, f"mesh-agent's chain for {sa}")
    assert cert_sans(chain[0]) == [f"URI:{spiffe_id('default', sa)}"], cert_sans(chain[0])
    assert public_key_of_cert(chain[0]) == public_key_of_key(out / "key.pem"), "key.pem does not match the leaf"
    return TlsFiles.from_dir(out)


def handshake_and_settings(address: str, root: Path, client: Path | None) -> tuple[bool, str]:
    """TLS (ALPN h2, no host name check) + HTTP/2 preface: did the server answer with a frame?"""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cafile=str(root))
    ctx.set_alpn_protocols(["h2"])
    if client is not None:
        ctx.load_cert_chain(str(client / "cert-chain.pem"), str(client / "key.pem"))
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with ctx.wrap_socket(raw) as tls:
                tls.sendall(H2_PREFACE)
                data = tls.recv(9)
                if len(data) >= 4 and data[3] == 0x04:
                    return True, f"SETTINGS frame ({tls.version()})"
                return False, f"no SETTINGS frame: {data!r} ({tls.version()})"
    except (ssl.SSLError, OSError) as exc:
        return False, repr(exc)


def test_istio_mutual_end_to_end(meshd, tmp_path, xds_clients, ads_clients, node_id):
    # the operator's workflow for the client: meshctl ca root / meshctl token create -> mesh-agent
    root_file = tmp_path / "mesh-root.pem"
    root_file.write_text(run_meshctl(meshd.admin_url, "ca", "root").stdout)
    assert cert_der(root_file.read_text()) == cert_der(meshd.ca_root()), "meshctl ca root is not /api/v1/ca/root"
    # meshctl finds the admin token in meshd's data directory, as on meshd's own machine
    client_token = run_meshctl(meshd.admin_url, "--data-dir", meshd.data_dir, "token", "create", "--namespace", "default",
                               "--service-account", "productpage", "--ttl", "1h").stdout.strip()
    assert client_token.count(".") == 2 and "\n" not in client_token, f"meshctl token create printed {client_token!r}"
    reviews_dir, client_dir, ratings_dir = tmp_path / "reviews", tmp_path / "productpage", tmp_path / "ratings"
    reviews_tls = fetch_identity(meshd, root_file, "reviews", reviews_dir)
    fetch_identity(meshd, root_file, "productpage", client_dir, token=client_token)
    ratings_tls = fetch_identity(meshd, root_file, "ratings", ratings_dir)

    reviews = EchoBackend("reviews", tls=reviews_tls).start()
    impostor = EchoBackend("impostor", tls=ratings_tls).start()
    client = None
    try:
        # 1. ISTIO_MUTUAL to the real backend
        applied = meshd.apply(configs.mtls(reviews.port, "reviews"))
        meshd.wait_pushed(applied["revision"])
        proxy = node_id("mtls")
        boot = run_meshctl(meshd.admin_url, "bootstrap", "--xds-address", meshd.xds_address,
                           "--node-id", proxy, "--cert-dir", str(client_dir)).stdout
        providers = json.loads(boot).get("certificate_providers") or {}
        assert "default" in providers, f"meshctl bootstrap --cert-dir has no certificate_providers.default: {boot}"
        client = xds_clients(meshd.xds_address, proxy, bootstrap_json=boot, creds="xds", warmup_timeout=20)
        ready = client.wait_ready()
        assert ready.get("ok"), f"mTLS warm-up RPC failed: {ready}\n{client.stderr_tail()}"
        window = client.run(20)
        assert window["failures"] == 0 and window["counts"] == {"reviews": 20}, window
        assert reviews.peers == [spiffe_id("default", "productpage")], (
            f"the backend saw client identities {reviews.peers}, expected productpage's")
        synced = meshd.wait_synced(proxy)
        # the UpstreamTlsContext meshd sends, as an Envoy sidecar gets it, passes the oracle (at teardown)
        envoy = ads_clients(meshd.xds_address, "sidecar~10.0.0.8~productpage-1.default~default.svc.cluster.local",
                            user_agent_name="envoy")
        envoy.wait_complete(timeout=10)
        assert any(c.message.HasField("transport_socket") for c in envoy.state["CDS"].values()), envoy.describe()

        # 2. the WorkloadEntry (still serviceAccount: reviews) now points at a `ratings` backend
        applied = meshd.apply(configs.mtls(impostor.port, "reviews"))
        meshd.wait_pushed(applied["revision"])
        meshd.wait_synced(proxy, changed_from=meshd.acked_versions(synced))
        window = wait_for(lambda: client.run(10), lambda w: w["counts"].get("reviews", 0) == 0, timeout=15)
        window = client.run(10)
        assert window["failures"] == 10 and not window["counts"], (
            f"RPCs to a backend presenting spiffe://.../sa/ratings must fail when the WorkloadEntry says reviews: {window}")
        assert impostor.calls == 0, f"the impostor served {impostor.calls} RPCs"

        # 3. back to the real backend
        synced = meshd.wait_synced(proxy)
        applied = meshd.apply(configs.mtls(reviews.port, "reviews"))
        meshd.wait_pushed(applied["revision"])
        meshd.wait_synced(proxy, changed_from=meshd.acked_versions(synced))
        window = wait_for(lambda: client.run(10), lambda w: w["failures"] == 0, timeout=15)
        assert window["counts"] == {"reviews": 10}, window

        # 4. no mesh certificate: refused by the backend
        with grpc.secure_channel(reviews.address, grpc.ssl_channel_credentials(root_file.read_bytes()),
                                 options=[("grpc.ssl_target_name_override", "localhost")]) as ch:
            try:
                ch.unary_unary(FULL_METHOD)(b"", timeout=5)
                raise AssertionError("a client without a certificate got an answer from the mTLS backend")
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.UNAVAILABLE, (err.code(), err.details())
        ok, how = handshake_and_settings(reviews.address, root_file, client_dir)
        assert ok, f"the client's mesh certificate was not accepted by the backend: {how}"
        ok, how = handshake_and_settings(reviews.address, root_file, None)
        assert not ok, f"the backend accepted a TLS client with no certificate: {how}"
    finally:
        if client is not None:
            client.close()
        reviews.stop()
        impostor.stop()


def wait_for(action, good, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        result = action()
        if good(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)
