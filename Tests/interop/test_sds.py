"""mesh-agent's SDS server (`--sds-socket`): Envoy's view of the workload certificate.

A grpcio client with xds-protos' SDS stub stands in for Envoy on the agent's Unix socket. It
gets `default` (the chain and key mesh-agent also writes to disk) and `ROOTCA` (the bundle),
ACKs, and receives the renewed certificate as a new version when the agent rotates it. Every
secret decodes with the official protos and passes Envoy's PGV rules.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time

import grpc
import pytest
from google.protobuf import json_format

from ca_tools import cert_sans, public_key_of_cert, public_key_of_key, spiffe_id, split_pem
from meshd_process import mesh_agent_bin
from proto_check import find_problems, unpack
from sds_client import SdsStream, secrets_of
from test_envoy_bootstrap import decode, meshctl


class Agent:
    """A long-running mesh-agent with an SDS socket."""

    def __init__(self, meshd, tmp_path, ttl: str = "1h", socket_path=None):
        self.root = tmp_path / "root.pem"
        self.root.write_text(meshd.ca_root())
        self.out = tmp_path / "certs"
        self.socket = str(socket_path or tmp_path / "sds.sock")
        self.proc = subprocess.Popen(
            [mesh_agent_bin(), "--ca-address", meshd.tls_address, "--renew-address", meshd.renew_address,
             "--root-cert", str(self.root), "--token", meshd.create_token("default", "reviews"),
             "--output-dir", str(self.out), "--ttl", ttl, "--sds-socket", self.socket, "--log-level", "debug"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait_socket(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"mesh-agent exited {self.proc.returncode}:\n{self.proc.stdout.read()}")
            if os.path.exists(self.socket) and stat.S_ISSOCK(os.stat(self.socket).st_mode):
                # Accepting connections, not merely present: a stale socket is present too.
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    probe.connect(self.socket)
                    return
                except OSError:
                    pass
                finally:
                    probe.close()
            time.sleep(0.05)
        raise AssertionError(f"mesh-agent did not create {self.socket} within {timeout:g}s")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.stdout.read() if self.proc.stdout else ""


@pytest.fixture
def agent_factory(meshd, tmp_path):
    agents = []

    def make(**kw) -> Agent:
        agent = Agent(meshd, tmp_path, **kw)
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        print(f"--- mesh-agent log ---\n{agent.stop()}")  # shown by pytest when the test failed


def _assert_matches_files(secrets, out) -> None:
    chain = secrets["default"].tls_certificate.certificate_chain.inline_bytes.decode()
    key = secrets["default"].tls_certificate.private_key.inline_bytes.decode()
    root = secrets["ROOTCA"].validation_context.trusted_ca.inline_bytes.decode()
    assert chain == (out / "cert-chain.pem").read_text(), "SDS default chain differs from cert-chain.pem"
    assert key == (out / "key.pem").read_text(), "SDS default key differs from key.pem"
    assert root == (out / "root-cert.pem").read_text(), "SDS ROOTCA differs from root-cert.pem"
    leaf = split_pem(chain)[0]
    assert cert_sans(leaf) == [f"URI:{spiffe_id('default', 'reviews')}"]
    assert public_key_of_cert(leaf) == public_key_of_key(out / "key.pem")
    for name, secret in secrets.items():
        assert find_problems(secret) == [], f"secret {name} breaks Envoy's rules: {find_problems(secret)}"


def test_sds_serves_default_and_rootca_and_pushes_a_rotation(agent_factory):
    # 20 s certificates: renewed at about half (9-11 s), so the test sees a real rotation.
    agent = agent_factory(ttl="20s")
    agent.wait_socket()
    assert stat.S_IMODE(os.stat(agent.socket).st_mode) == 0o600, oct(os.stat(agent.socket).st_mode)

    stream = SdsStream(agent.socket)
    try:
        stream.request(["default", "ROOTCA"])
        first = stream.next()
        secrets = secrets_of(first.resources)
        assert sorted(secrets) == ["ROOTCA", "default"], sorted(secrets)
        assert first.version_info and first.nonce
        _assert_matches_files(secrets, agent.out)

        stream.request(["default", "ROOTCA"], nonce=first.nonce, version=first.version_info)  # ACK
        rotated = stream.next(timeout=30)
        assert rotated.version_info != first.version_info, "a rotation must be a new version"
        assert rotated.nonce != first.nonce
        new = secrets_of(rotated.resources)
        old_chain = secrets["default"].tls_certificate.certificate_chain.inline_bytes
        assert new["default"].tls_certificate.certificate_chain.inline_bytes != old_chain
        # The files and the pushed secret are the same generation.
        deadline = time.monotonic() + 5
        while (agent.out / "cert-chain.pem").read_bytes() != new["default"].tls_certificate.certificate_chain.inline_bytes:
            assert time.monotonic() < deadline, "pushed chain never matched cert-chain.pem"
            time.sleep(0.05)
        _assert_matches_files(new, agent.out)
    finally:
        stream.close()


def test_sds_ack_is_not_answered_and_a_nack_keeps_the_version(agent_factory):
    agent = agent_factory()
    agent.wait_socket()
    stream = SdsStream(agent.socket)
    try:
        stream.request(["default"])
        first = stream.next()
        assert list(secrets_of(first.resources)) == ["default"]
        stream.request(["default"], nonce=first.nonce, error="cannot load the key")  # NACK
        assert stream.quiet(1.5), "a NACK must not be answered with the same secret again"
        # Asking for another name is answered with both, as a new response.
        stream.request(["default", "ROOTCA"], nonce=first.nonce)
        second = stream.next()
        assert sorted(secrets_of(second.resources)) == ["ROOTCA", "default"]
        assert second.nonce != first.nonce
        stream.request(["default", "ROOTCA"], nonce=second.nonce, version=second.version_info)  # ACK
        assert stream.quiet(1.0), "an ACK must not be answered"
    finally:
        stream.close()
    log = agent.stop()
    assert "Envoy rejected the secrets" in log and "cannot load the key" in log, log[-2000:]
    assert not os.path.exists(agent.socket), "mesh-agent left its socket behind on SIGTERM"


def test_sds_delta_sends_each_secret_once(agent_factory):
    agent = agent_factory()
    agent.wait_socket()
    stream = SdsStream(agent.socket, delta=True)
    try:
        stream.delta_request(subscribe=["default", "ROOTCA", "file-cert:/etc/x"])
        first = stream.next()
        assert sorted(r.name for r in first.resources) == ["ROOTCA", "default"]
        assert list(first.removed_resources) == ["file-cert:/etc/x"]
        secrets = secrets_of(r.resource for r in first.resources)
        _assert_matches_files(secrets, agent.out)
        stream.delta_request(nonce=first.nonce)  # ACK
        assert stream.quiet(1.0), "nothing changed: nothing must be sent"
    finally:
        stream.close()


def test_a_stale_socket_is_replaced_and_another_file_is_refused(agent_factory, meshd, tmp_path):
    stale = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(stale))
    leftover.close()  # the file stays, as after a crash
    agent = agent_factory(socket_path=stale)
    agent.wait_socket()
    stream = SdsStream(agent.socket)
    try:
        stream.request(["ROOTCA"])
        assert list(secrets_of(stream.next().resources)) == ["ROOTCA"]
    finally:
        stream.close()

    regular = tmp_path / "not-a-socket"
    regular.write_text("keep me")
    (tmp_path / "second").mkdir()
    other = Agent(meshd, tmp_path / "second", socket_path=regular)
    assert other.proc.wait(timeout=20) != 0
    assert "is not a socket" in other.stop()
    assert regular.read_text() == "keep me"


def test_the_envoy_bootstrap_path_reaches_meshd_as_an_authenticated_sidecar(agent_factory, meshd, delta_clients):
    """What Envoy does with `meshctl bootstrap --envoy`, step by step: fetch the secrets the
    xds-grpc cluster names from the agent's socket, open mTLS to the address and SNI the
    bootstrap gives, and run delta ADS with the bootstrap's node. meshd must take it for an
    authenticated Envoy sidecar of the certificate's namespace, with the bootstrap's labels."""
    agent = agent_factory()
    agent.wait_socket()
    proxy = "sidecar~127.0.0.1~reviews-v1-abc.default~default.svc.cluster.local"
    text = meshctl("bootstrap", "--envoy", "--node-id", proxy, "--labels", "app=reviews,version=v1",
                   "--xds-address", meshd.renew_address, "--server-name", "localhost",
                   "--sds-socket", agent.socket).stdout
    bootstrap = decode(text)
    xds = next(c for c in bootstrap.static_resources.clusters if c.name == "xds-grpc")
    sds = next(c for c in bootstrap.static_resources.clusters if c.name == "sds-grpc")
    tls = unpack(xds.transport_socket.typed_config)
    names = [tls.common_tls_context.tls_certificate_sds_secret_configs[0].name,
             tls.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name]

    stream = SdsStream(sds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe.path)
    try:
        stream.request(names)
        secrets = secrets_of(stream.next().resources)
    finally:
        stream.close()
    identity, root = secrets[names[0]].tls_certificate, secrets[names[1]].validation_context
    address = xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
    credentials = grpc.ssl_channel_credentials(root_certificates=root.trusted_ca.inline_bytes,
                                               private_key=identity.private_key.inline_bytes,
                                               certificate_chain=identity.certificate_chain.inline_bytes)
    channel = grpc.secure_channel(f"{address.address}:{address.port_value}", credentials,
                                  options=[("grpc.ssl_target_name_override", tls.sni)])
    metadata = json.loads(json_format.MessageToJson(bootstrap.node.metadata))
    client = delta_clients(f"{address.address}:{address.port_value}", bootstrap.node.id, metadata=metadata,
                           channel=channel)
    client.subscribe("CDS")
    client.subscribe("LDS")
    deadline = time.monotonic() + 15
    while True:
        entry = next((p for p in meshd.syncz() if p["proxyID"] == proxy), None)
        if entry and entry.get("types"):
            break
        assert time.monotonic() < deadline, f"meshd never listed {proxy}: {meshd.syncz()}"
        time.sleep(0.05)
    assert entry["kind"] == "sidecar" and entry["authenticated"] is True, entry
    assert entry["namespace"] == "default" and entry["identity"] == spiffe_id("default", "reviews"), entry
    assert entry["labels"] == {"app": "reviews", "version": "v1"} and entry["instanceIPs"] == ["127.0.0.1"], entry
