"""Renewal over mTLS: a workload holding a valid mesh certificate renews without a token.

meshd serves CreateCertificate a second time on its renewal port (`--renew-port`), which
requires a client certificate that chains to the mesh root; the identity comes from that
certificate's SPIFFE SAN. (The TLS port cannot ask for an *optional* client certificate, see
docs/security.md, so token callers and certificate callers get a port each.)
"""
from __future__ import annotations

import grpc

from ca_tools import (CAClient, assert_verifies, cert_sans, gen_ec_key, make_ca, make_csr, openssl,
                      spiffe_id, split_pem)
from meshd_process import run_mesh_agent


def _issue_with_token(meshd, tmp_path, sa="reviews"):
    root_file = tmp_path / "root.pem"
    root_file.write_text(meshd.ca_root())
    out = tmp_path / f"agent-{sa}"
    run_mesh_agent(meshd.tls_address, root_file, meshd.create_token("default", sa), out,
                   renew_address=meshd.renew_address)
    return root_file, out


def _serial(pem: str) -> str:
    return openssl("x509", "-noout", "-serial", input=pem).stdout.decode().strip()


def test_mesh_agent_renews_with_its_certificate_and_no_token(meshd, tmp_path):
    root_file, out = _issue_with_token(meshd, tmp_path)
    first = (out / "cert-chain.pem").read_text()

    # No token at all: the only credential is the certificate already in the directory.
    run_mesh_agent(meshd.tls_address, root_file, None, out, renew_address=meshd.renew_address)
    renewed = (out / "cert-chain.pem").read_text()
    assert _serial(renewed) != _serial(first), "mesh-agent did not get a new certificate"
    assert cert_sans(split_pem(renewed)[0]) == [f"URI:{spiffe_id('default', 'reviews')}"]
    assert_verifies(root_file.read_text(), split_pem(renewed), "renewed chain")


def test_renewal_identity_comes_from_the_client_certificate(meshd, tmp_path):
    root_file, out = _issue_with_token(meshd, tmp_path)
    key = (out / "key.pem").read_bytes()
    chain = (out / "cert-chain.pem").read_bytes()
    new_key = gen_ec_key(tmp_path / "new-key.pem")
    csr = make_csr(new_key, tmp_path / "new.csr", sans=[f"URI:{spiffe_id('kube-system', 'admin')}"])

    client = CAClient(meshd.renew_address, root_file.read_text(), client_cert=(key, chain))
    issued = client.create(csr)
    assert cert_sans(issued[0]) == [f"URI:{spiffe_id('default', 'reviews')}"], issued[0]
    assert_verifies(root_file.read_text(), issued, "chain renewed over mTLS")


def _refused(client: CAClient, csr: str) -> grpc.StatusCode:
    try:
        client.create(csr, timeout=5)
    except grpc.RpcError as err:  # the handshake fails: the channel never becomes ready
        return err.code()
    raise AssertionError("the renewal port issued a certificate to a caller without a mesh certificate")


def test_renewal_port_refuses_callers_without_a_mesh_certificate(meshd, tmp_path):
    root_pem = meshd.ca_root()
    csr = make_csr(gen_ec_key(tmp_path / "k.pem"), tmp_path / "k.csr")
    token = meshd.create_token("default", "reviews")

    # No client certificate: refused even with a valid token (this port is for certificates).
    plain = CAClient(meshd.renew_address, root_pem)
    try:
        plain.create(csr, token=token, timeout=5)
        raise AssertionError("the renewal port accepted a TLS client without a certificate")
    except grpc.RpcError as err:
        assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED), err

    # A certificate with a mesh-looking SPIFFE SAN from another CA: refused.
    ca_cert, ca_key = make_ca(tmp_path / "rogue", "rogue-root")
    leaf_key = gen_ec_key(tmp_path / "rogue-leaf-key.pem")
    leaf_csr = tmp_path / "rogue-leaf.csr"
    make_csr(leaf_key, leaf_csr)
    ext = tmp_path / "leaf.cnf"
    ext.write_text(f"[v3]\nsubjectAltName = URI:{spiffe_id('default', 'reviews')}\n"
                   "extendedKeyUsage = clientAuth,serverAuth\n")
    leaf = tmp_path / "rogue-leaf.pem"
    openssl("x509", "-req", "-in", leaf_csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
            "-extfile", ext, "-extensions", "v3", "-out", leaf)
    rogue = CAClient(meshd.renew_address, root_pem, client_cert=(leaf_key.read_bytes(), leaf.read_bytes()))
    assert _refused(rogue, csr) in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
