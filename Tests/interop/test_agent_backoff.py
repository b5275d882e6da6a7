"""mesh-agent keeps retrying (with backoff) while meshd is down and issues as soon as it is back;
its files appear only once a whole certificate/key pair is ready."""

from __future__ import annotations

import socket
import subprocess
import time

from ca_tools import cert_sans, public_key_of_cert, public_key_of_key, spiffe_id, split_pem
from meshd_process import mesh_agent_bin


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_agent_retries_while_meshd_is_down(meshd_factory, tmp_path):
    tls_port, renew_port = _free_port(), _free_port()
    ports = ["--tls-port", str(tls_port), "--renew-port", str(renew_port)]
    first = meshd_factory(extra_args=ports, name="before")
    root = tmp_path / "root.pem"
    root.write_text(first.ca_root())
    token = first.create_token("default", "reviews")
    data_dir = first.data_dir
    first.stop()

    out = tmp_path / "certs"
    agent = subprocess.Popen(
        [mesh_agent_bin(), "--ca-address", f"127.0.0.1:{tls_port}", "--renew-address", f"127.0.0.1:{renew_port}",
         "--root-cert", str(root), "--token", token, "--output-dir", str(out), "--ttl", "1h"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        time.sleep(3.5)  # attempts at ~0, 1, 3 s: all refused
        assert agent.poll() is None, agent.stdout.read().decode()
        assert not (out / "cert-chain.pem").exists()

        # Same data dir: same root and token key; same ports: the agent's next attempt lands.
        meshd_factory(extra_args=ports, data_dir=data_dir, name="after")
        deadline = time.monotonic() + 20
        while not (out / "cert-chain.pem").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (out / "cert-chain.pem").exists(), "mesh-agent did not issue after meshd came back"
        chain = split_pem((out / "cert-chain.pem").read_text())
        assert cert_sans(chain[0]) == [f"URI:{spiffe_id('default', 'reviews')}"]
        assert public_key_of_cert(chain[0]) == public_key_of_key(out / "key.pem")
    finally:
        agent.terminate()
        try:
            log = agent.communicate(timeout=10)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            agent.kill()
            log = agent.communicate()[0].decode(errors="replace")
    assert agent.returncode == 0, f"mesh-agent exited {agent.returncode} on SIGTERM\n{log}"
    assert "UNAVAILABLE" in log, f"the agent did not log its failed attempts:\n{log}"
