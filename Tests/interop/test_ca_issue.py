"""meshd's CA issues workload certificates over its TLS port, checked with `openssl` as the oracle.

A token minted for default/reviews gets a leaf whose only SAN is
spiffe://cluster.local/ns/default/sa/reviews, whatever the CSR asked for; the chain ends with
the root that GET /api/v1/ca/root serves and `openssl verify -CAfile root.pem -untrusted
chain.pem leaf.pem` accepts it. The TLS port itself presents a certificate from that root and
serves ADS too.
"""

from __future__ import annotations

import threading
import time

import grpc
import pytest
from envoy.service.discovery.v3 import discovery_pb2

import configs
from ca_tools import (ROOT_EXPIRY_GAUGE, CAClient, assert_verifies, ca_counters, cert_der, cert_is_ca,
                      cert_sans, cert_text, cert_validity, chain_of, new_csr, settled_deltas,
                      public_key_of_cert, public_key_of_key, s_client_verify, spiffe_id, split_pem)

REVIEWS = spiffe_id("default", "reviews")
ASKED = "spiffe://cluster.local/ns/kube-system/sa/admin"


def issue_and_check(meshd, tmp_path, kind: str, validity: int = 3600) -> list[str]:
    root = meshd.ca_root()
    token = meshd.create_token("default", "reviews")
    key, csr = new_csr(tmp_path, kind, kind, subject="/O=kube-system/CN=admin",
                       sans=[f"URI:{ASKED}", "DNS:admin.kube-system.svc.cluster.local"])
    before = ca_counters(meshd)
    asked_at = time.time()
    with CAClient(meshd.tls_address, root) as ca:
        chain = chain_of(ca.create(csr, token, validity_seconds=validity))

    assert len(chain) >= 2, f"cert_chain should be leaf ... root, got {len(chain)} certificate(s)"
    assert cert_der(chain[-1]) == cert_der(root), "cert_chain does not end with the root of /api/v1/ca/root"
    assert_verifies(root, chain, f"the {kind} leaf")
    leaf = chain[0]
    assert cert_sans(leaf) == [f"URI:{REVIEWS}"], (
        f"the leaf's SANs must be exactly the token's identity, not the CSR's:\n{cert_text(leaf)}")
    assert ASKED not in cert_text(leaf)
    assert not cert_is_ca(leaf), f"a workload leaf must not be a CA:\n{cert_text(leaf)}"
    assert public_key_of_cert(leaf) == public_key_of_key(key), "the leaf does not certify the CSR's key"
    not_before, not_after = cert_validity(leaf)
    assert abs(not_after - (asked_at + validity)) < 300, (
        f"asked for {validity}s, leaf is valid {not_before:.0f}..{not_after:.0f} (asked at {asked_at:.0f})")
    expected = {"csr": 1, "auth_failure": 0, "parse_error": 0, "success": 1}
    deltas = settled_deltas(meshd, before, expected)
    assert deltas == expected, f"CA counter deltas for one issuance: {deltas}"
    return chain


def test_ec_csr_gets_the_token_identity_not_the_csr_one(meshd, tmp_path):
    chain = issue_and_check(meshd, tmp_path, "ec")
    root = meshd.ca_root()
    _, root_not_after = cert_validity(root)
    gauge = meshd.metric_value(ROOT_EXPIRY_GAUGE)
    assert gauge is not None, f"/metrics has no {ROOT_EXPIRY_GAUGE}"
    assert abs(gauge - root_not_after) <= 1, f"{ROOT_EXPIRY_GAUGE} = {gauge}, the root's notAfter is {root_not_after}"
    assert cert_is_ca(chain[-1])


def test_rsa_2048_csr_is_accepted(meshd, tmp_path):
    issue_and_check(meshd, tmp_path, "rsa")


@pytest.mark.parametrize("tls_san", [None, "meshd.example.internal"])
def test_tls_port_presents_a_certificate_from_the_mesh_root(meshd_factory, tls_san):
    m = meshd_factory(["--tls-san", tls_san] if tls_san else [])
    root = m.ca_root()
    name = tls_san or "localhost"
    ok, out = s_client_verify(m.tls_address, root, server_name=name)
    assert ok, f"openssl s_client could not verify meshd's TLS port against the root for {name}:\n{out[-3000:]}"
    served = split_pem(out)
    assert served, f"s_client showed no certificate:\n{out[-3000:]}"
    sans = cert_sans(served[0])
    expected = [f"DNS:{tls_san}"] if tls_san else ["DNS:localhost", "DNS:meshd.mesh-system.svc"]
    for san in expected + ["IP Address:127.0.0.1"]:
        assert san in sans, f"meshd's serving certificate lacks {san}: {sans}"


def test_tls_port_serves_ads(meshd, backends):
    """The TLS port answers a CDS request like the plaintext one (a client trusting only the root)."""
    ports = {n: b.port for n, b in backends.items()}
    meshd.wait_pushed(meshd.apply(configs.canary(ports["v1"], ports["v2"]))["revision"])
    root = meshd.ca_root()
    channel = grpc.secure_channel(meshd.tls_address, grpc.ssl_channel_credentials(root.encode()),
                                  options=[("grpc.ssl_target_name_override", "localhost")])
    try:
        ads = channel.stream_stream(
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
            request_serializer=discovery_pb2.DiscoveryRequest.SerializeToString,
            response_deserializer=discovery_pb2.DiscoveryResponse.FromString)
        req = discovery_pb2.DiscoveryRequest(type_url="type.googleapis.com/envoy.config.cluster.v3.Cluster")
        req.node.id = "tls-ads-probe"
        done = threading.Event()

        def requests():  # keep the stream open until the answer is in
            yield req
            done.wait(15)

        call = ads(requests(), timeout=10, wait_for_ready=True)
        try:
            first = next(call)
        finally:
            done.set()
            call.cancel()
    finally:
        channel.close()
    assert first.type_url == req.type_url, first
    assert len(first.resources) >= 3, f"CDS over the TLS port: {len(first.resources)} clusters"
