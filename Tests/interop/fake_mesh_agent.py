#!/usr/bin/env python3
"""A stand-in for mesh-agent (`--once` only), to debug the suite without the real binary:
`MESH_AGENT_BIN=Tests/interop/fake_mesh_agent.py`. It proves nothing about mesh-agent.

Makes a P-256 key and a CSR with openssl, calls CreateCertificate on the CA's TLS port with the
token, writes OUT/cert-chain.pem (leaf + intermediates), OUT/key.pem (0600), OUT/root-cert.pem.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

import ca_tools  # noqa: E402
from fake_ca import parse_duration  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--ca-address", required=True)
    p.add_argument("--root-cert", required=True)
    p.add_argument("--server-name", default="localhost")
    p.add_argument("--token", required=True)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--ttl", default="24h")
    p.add_argument("--once", action="store_true")
    a = p.parse_args()
    out = Path(a.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(a.root_cert).read_text()
    key, csr = ca_tools.new_csr(out, ".fake-agent")
    try:
        with ca_tools.CAClient(a.ca_address, root, a.server_name) as ca:
            chain = ca_tools.chain_of(ca.create(csr, a.token, parse_duration(a.ttl)))
    except grpc.RpcError as err:
        print(f"error: CreateCertificate: {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    intermediates = [c for c in chain[1:] if ca_tools.cert_der(c) != ca_tools.cert_der(root)]
    (out / "cert-chain.pem").write_text("".join([chain[0], *intermediates]))
    os.chmod(key, 0o600)
    os.replace(key, out / "key.pem")
    (out / "root-cert.pem").write_text(root)
    (out / ".fake-agent.csr").unlink()
    print(f"wrote {out}/cert-chain.pem, key.pem, root-cert.pem")
    return 0


if __name__ == "__main__":
    sys.exit(main())
