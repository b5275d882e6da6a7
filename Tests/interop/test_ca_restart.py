"""The CA's keys live in the data dir and survive restarts; a plugged-in CA (--ca-dir) is used as is.

Restart (SIGTERM, or kill -9 with no chance to flush): the root PEM is identical, a certificate
issued before still verifies against the reloaded root, and a token minted before still works
(the token signing key is in the data dir too).

Plugged-in CA: an offline root and an intermediate (CA:true, pathlen 0) made with openssl;
ca-cert.pem / ca-key.pem are the intermediate, root-cert.pem the offline root, cert-chain.pem
the intermediate then the root (Istio's layout). Issued chains are leaf, intermediate, root and
verify with only the offline root trusted.
"""

from __future__ import annotations

import stat

import pytest

from ca_tools import (CAClient, assert_verifies, cert_der, cert_sans, chain_of, make_ca, new_csr,
                      s_client_verify, spiffe_id, verify_chain)

REVIEWS = spiffe_id("default", "reviews")


def issue(m, tmp_path, name: str, token: str, root: str) -> list[str]:
    _, csr = new_csr(tmp_path, name)
    with CAClient(m.tls_address, root) as ca:
        chain = chain_of(ca.create(csr, token, validity_seconds=3600))
    assert_verifies(root, chain, name)
    assert cert_sans(chain[0]) == [f"URI:{REVIEWS}"], cert_sans(chain[0])
    return chain


def assert_private(path):
    assert path.exists(), f"{path} is missing"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600, f"{path} has mode {oct(mode)}, expected 0600"


@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_root_and_tokens_survive_restart(meshd, tmp_path, how):
    for rel in ("ca/root-cert.pem", "ca/root-key.pem", "token-signing-key.pem", "admin-token"):
        assert meshd.data_path(rel).exists(), f"data dir lacks {rel}"
    for rel in ("ca/root-key.pem", "token-signing-key.pem", "admin-token"):
        assert_private(meshd.data_path(rel))
    root_before = meshd.ca_root()
    assert cert_der(meshd.data_path("ca/root-cert.pem").read_text()) == cert_der(root_before), (
        "/api/v1/ca/root differs from DATA_DIR/ca/root-cert.pem")
    admin_before = meshd.admin_token()
    token = meshd.create_token("default", "reviews")
    before = issue(meshd, tmp_path, "before", token, root_before)

    if how == "kill9":
        meshd.kill9()
    else:
        code = meshd.stop()
        assert code != -9, "meshd did not exit on SIGTERM and had to be killed"
    meshd.start()

    root_after = meshd.ca_root()
    assert root_after.strip() == root_before.strip(), (
        f"the root changed across a {how} restart:\nbefore:\n{root_before}\nafter:\n{root_after}")
    assert_verifies(root_after, before, "a chain issued before the restart")
    assert meshd.admin_token() == admin_before, "the admin token changed across the restart"
    after = issue(meshd, tmp_path, "after", token, root_after)  # the old token is still accepted
    assert cert_der(after[-1]) == cert_der(before[-1])
    ok, out = s_client_verify(meshd.tls_address, root_after)
    assert ok, f"the TLS port after the restart does not verify against the root:\n{out[-2000:]}"


def test_plugged_in_ca(meshd_factory, tmp_path):
    pki = tmp_path / "pki"
    root_cert, root_key = make_ca(pki, "offline-root", days=3650)
    inter_cert, inter_key = make_ca(pki, "intermediate", issuer=(root_cert, root_key), days=365, pathlen=0)
    ca_dir = tmp_path / "cacerts"
    ca_dir.mkdir()
    (ca_dir / "ca-cert.pem").write_text(inter_cert.read_text())
    (ca_dir / "ca-key.pem").write_text(inter_key.read_text())
    (ca_dir / "ca-key.pem").chmod(0o600)
    (ca_dir / "root-cert.pem").write_text(root_cert.read_text())
    (ca_dir / "cert-chain.pem").write_text(inter_cert.read_text() + root_cert.read_text())
    offline_root = root_cert.read_text()

    m = meshd_factory(["--ca-dir", str(ca_dir)])
    served_root = m.ca_root()
    assert cert_der(served_root) == cert_der(offline_root), "/api/v1/ca/root is not the offline root"

    token = m.create_token("default", "reviews")
    chain = issue(m, tmp_path, "plugged", token, offline_root)
    assert len(chain) == 3, f"expected leaf, intermediate, root; got {len(chain)} certificates"
    assert cert_der(chain[1]) == cert_der(inter_cert.read_text()), "chain[1] is not the intermediate"
    assert cert_der(chain[2]) == cert_der(offline_root), "chain[2] is not the offline root"
    # the leaf alone does not verify without the intermediate: the intermediate really signed it
    assert verify_chain(offline_root, chain[:1]).returncode != 0, "leaf verified with no intermediate"

    ok, out = s_client_verify(m.tls_address, offline_root)
    assert ok, f"meshd's TLS port does not verify against the offline root:\n{out[-2000:]}"

    # the offline root key never has to be on the host: meshd must not need it nor make its own root
    m.stop()
    m.start()
    assert cert_der(m.ca_root()) == cert_der(offline_root), "/api/v1/ca/root changed after a restart"
