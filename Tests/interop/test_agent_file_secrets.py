"""mesh-agent's file secrets over SDS: `file-cert:CERT~KEY` and `file-root:CA` (istio-agent's names).

A grpcio client with xds-protos' SDS stub stands in for a gateway's Envoy on the agent's Unix
socket (`--sds-socket`). Files are made with `openssl` (P-256). It gets each name with exactly
the files' bytes (every Secret through xds-protos and Envoy's PGV rules, proto_check); a
rotation done as a Kubernetes secret volume does it (write aside, then `os.replace`) is pushed
on the open stream as a new version; a file that is not PEM, not the right PEM, or too large is
not served, logged once as a warning naming the file, never its content, and a file that breaks
later leaves the last good content served; DeltaSecrets serves a `file-root:` name and its
rotation.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from ca_tools import make_ca, openssl
from proto_check import find_problems
from sds_client import SdsStream, secrets_of
from test_gateway_secrets import key_needles, leaks, make_credential
from test_sds import _assert_matches_files, agent_factory  # noqa: F401  (agent_factory: a fixture)

ROTATION_WAIT = 10.0  # seconds: the agent re-checks files every 1 s
MAX_FILE_BYTES = 65_536


# ------------------------------------------------------------------ files

class Pki:
    """A CA and credentials made with openssl under `gen/`; what the agent reads is copied
    (atomically) into `served/`, as a Kubernetes secret volume presents it."""

    def __init__(self, tmp_path: Path):
        self.gen = tmp_path / "gen"
        self.served = tmp_path / "served"
        self.gen.mkdir()
        self.served.mkdir()
        self.ca = make_ca(self.gen, "gw-ca")
        self.crt = self.served / "tls.crt"
        self.key = self.served / "tls.key"
        self.root = self.served / "ca.crt"
        self.keys: list[Path] = []  # every key made: none may show in the agent's log

    def credential(self, tag: str, pkcs8: bool = False, with_ca: bool = False) -> tuple[Path, Path]:
        """A leaf (optionally followed by the CA: a chain) and its key, SEC1 or PKCS#8 PEM."""
        cert, key = make_credential(self.gen, tag, self.ca)
        if pkcs8:
            p8 = self.gen / f"{tag}-key.p8.pem"
            openssl("pkcs8", "-topk8", "-nocrypt", "-in", key, "-out", p8)
            key = p8
        if with_ca:
            chain = self.gen / f"{tag}-chain.pem"
            chain.write_bytes(cert.read_bytes() + self.ca[0].read_bytes())
            cert = chain
        self.keys.append(key)
        return cert, key

    def cert_name(self, crt: Path | None = None, key: Path | None = None) -> str:
        return f"file-cert:{crt or self.crt}~{key or self.key}"

    def root_name(self, ca: Path | None = None) -> str:
        return f"file-root:{ca or self.root}"


def swap_in(source: Path | bytes, target: Path) -> None:
    """Write next to `target`, then rename over it: readers see the old file or the new, whole."""
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(source if isinstance(source, bytes) else source.read_bytes())
    os.replace(tmp, target)


def chain_and_key(secret) -> tuple[bytes, bytes]:
    tls = secret.tls_certificate
    return tls.certificate_chain.inline_bytes, tls.private_key.inline_bytes


def assert_valid(secrets: dict) -> None:
    for name, secret in secrets.items():
        assert secret.name == name
        assert find_problems(secret) == [], f"secret {name} breaks Envoy's rules: {find_problems(secret)}"


def assert_no_key_material(log: str, keys) -> None:
    found = [leak for key in keys for leak in leaks({"mesh-agent log": log}, key_needles(key))]
    assert not found, f"key material in mesh-agent's log: {found}"


def warnings_naming(log: str, path: str) -> list[str]:
    """The agent's "cannot be served" warnings whose problem names `path` (the file at fault)."""
    return [line for line in log.splitlines()
            if "file secret cannot be served" in line and f"problem={path} " in line and re.search(r"\bwarning\b", line)]


# ------------------------------------------------------------------ tests

def test_sotw_serves_file_cert_and_file_root_with_exactly_the_file_bytes(agent_factory, tmp_path):
    pki = Pki(tmp_path)
    cert, key = pki.credential("v1", with_ca=True)
    swap_in(cert, pki.crt)
    swap_in(key, pki.key)
    swap_in(pki.ca[0], pki.root)
    agent = agent_factory()
    agent.wait_socket()

    names = [pki.cert_name(), pki.root_name()]
    stream = SdsStream(agent.socket)
    try:
        stream.request(names)
        first = stream.next()
        assert first.version_info and first.nonce
        secrets = secrets_of(first.resources)
        assert sorted(secrets) == sorted(names), sorted(secrets)
        assert chain_and_key(secrets[names[0]]) == (pki.crt.read_bytes(), pki.key.read_bytes())
        assert not secrets[names[0]].HasField("validation_context")
        root = secrets[names[1]]
        assert root.validation_context.trusted_ca.inline_bytes == pki.root.read_bytes()
        assert not root.HasField("tls_certificate")
        assert_valid(secrets)

        stream.request(names, nonce=first.nonce, version=first.version_info)  # ACK
        # Files are re-checked every second; unchanged files must push nothing.
        assert stream.quiet(2.5), "unchanged files must not be pushed again"

        # The agent's own secrets are served beside them, unchanged.
        stream.request(names + ["default", "ROOTCA"], nonce=first.nonce, version=first.version_info)
        both = stream.next()
        secrets = secrets_of(both.resources)
        assert sorted(secrets) == sorted(names + ["default", "ROOTCA"]), sorted(secrets)
        _assert_matches_files(secrets, agent.out)  # also runs find_problems on every secret
        assert chain_and_key(secrets[names[0]]) == (pki.crt.read_bytes(), pki.key.read_bytes())
        stream.request(names + ["default", "ROOTCA"], nonce=both.nonce, version=both.version_info)  # ACK
        assert stream.quiet(1.0), "an ACK must not be answered"
    finally:
        stream.close()
    log = agent.stop()
    assert "file secret loaded" in log, log[-2000:]
    assert "file secret cannot be served" not in log, log[-2000:]
    assert_no_key_material(log, pki.keys)


def test_a_rotation_is_pushed_on_the_open_stream_and_a_broken_file_keeps_the_last_good(agent_factory, tmp_path):
    pki = Pki(tmp_path)
    old_cert, old_key = pki.credential("v1")
    new_cert, new_key = pki.credential("v2", pkcs8=True, with_ca=True)  # another key form: "PRIVATE KEY"
    swap_in(old_cert, pki.crt)
    swap_in(old_key, pki.key)
    agent = agent_factory()
    agent.wait_socket()

    name = pki.cert_name()
    stream = SdsStream(agent.socket)
    try:
        stream.request([name])
        first = stream.next()
        secrets = secrets_of(first.resources)
        assert list(secrets) == [name]
        assert chain_and_key(secrets[name]) == (old_cert.read_bytes(), old_key.read_bytes())
        assert_valid(secrets)
        stream.request([name], nonce=first.nonce, version=first.version_info)  # ACK

        # The swap: key, then certificate, each written aside and renamed over the served file.
        swap_in(new_key, pki.key)
        swap_in(new_cert, pki.crt)
        rotated_at = time.monotonic()
        wanted = (new_cert.read_bytes(), new_key.read_bytes())
        allowed_chains, allowed_keys = {old_cert.read_bytes(), wanted[0]}, {old_key.read_bytes(), wanted[1]}
        previous, pushes = first, []
        while True:
            remaining = ROTATION_WAIT - (time.monotonic() - rotated_at)
            assert remaining > 0, f"no push with the new pair within {ROTATION_WAIT:g}s (got {len(pushes)} pushes)"
            pushed = stream.next(timeout=remaining)
            pushes.append(pushed)
            assert pushed.version_info != previous.version_info, "a push must be a new version"
            assert pushed.nonce != previous.nonce
            secrets = secrets_of(pushed.resources)
            assert list(secrets) == [name], list(secrets)
            assert_valid(secrets)
            chain, key = chain_and_key(secrets[name])
            # Between the two renames the agent may see the new key with the old certificate;
            # it must never serve anything but whole files.
            assert chain in allowed_chains and key in allowed_keys, "pushed bytes are neither file's"
            stream.request([name], nonce=pushed.nonce, version=pushed.version_info)  # ACK
            previous = pushed
            if (chain, key) == wanted:
                break
        took = time.monotonic() - rotated_at
        assert len(pushes) <= 2, f"{len(pushes)} pushes for one rotation"
        assert stream.quiet(1.5), "the ACK of the rotation must not be answered, and nothing else changed"

        # The key file breaks (not PEM): nothing is pushed, the last good pair stays served.
        swap_in(b"this is not a key\n", pki.key)
        assert stream.quiet(2.5), "a broken file must not be pushed"
        second = SdsStream(agent.socket)
        try:
            second.request([name])
            secrets = secrets_of(second.next().resources)
            assert list(secrets) == [name], list(secrets)
            assert chain_and_key(secrets[name]) == wanted, "the last good content must stay served"
        finally:
            second.close()

        # Fixed again: the good content is pushed on the first stream.
        swap_in(old_key, pki.key)
        swap_in(old_cert, pki.crt)
        deadline = time.monotonic() + ROTATION_WAIT
        while True:
            fixed = stream.next(timeout=max(0.01, deadline - time.monotonic()))
            stream.request([name], nonce=fixed.nonce, version=fixed.version_info)  # ACK
            if chain_and_key(secrets_of(fixed.resources)[name]) == (old_cert.read_bytes(), old_key.read_bytes()):
                break
    finally:
        stream.close()
    log = agent.stop()
    print(f"rotation pushed after {took:.2f}s in {len(pushes)} push(es)")
    broken = warnings_naming(log, str(pki.key))
    assert len(broken) == 1, f"the broken key file must be logged once, as a warning naming it:\n{log[-3000:]}"
    assert "this is not a key" not in log
    assert_no_key_material(log, pki.keys)


def test_malformed_files_are_not_served_and_logged_by_path_never_by_content(agent_factory, tmp_path):
    pki = Pki(tmp_path)
    cert, key = pki.credential("v1")
    swap_in(cert, pki.crt)
    swap_in(key, pki.key)
    swap_in(pki.ca[0], pki.root)
    big = pki.served / "big-ca.crt"  # well-formed certificates, but over 64 KiB
    ca_pem = pki.ca[0].read_bytes()
    big.write_bytes(ca_pem * (MAX_FILE_BYTES // len(ca_pem) + 1))
    assert big.stat().st_size > MAX_FILE_BYTES
    later = pki.served / "later.key"  # missing at first, written afterwards
    agent = agent_factory()
    agent.wait_socket()

    hostname_key = pki.cert_name(key=Path("/etc/hostname"))       # the key file is not PEM
    key_as_chain = pki.cert_name(crt=pki.key)                     # the "chain" is a private key
    cert_as_key = pki.cert_name(key=pki.crt)                      # the "key" is a certificate
    too_big = pki.root_name(big)
    not_yet = pki.cert_name(key=later)
    good = pki.root_name()
    bad = [hostname_key, key_as_chain, cert_as_key, too_big, not_yet]
    stream = SdsStream(agent.socket)
    try:
        stream.request(bad + [good])
        first = stream.next()
        secrets = secrets_of(first.resources)
        assert list(secrets) == [good], f"only the well-formed file may be served, got {sorted(secrets)}"
        assert secrets[good].validation_context.trusted_ca.inline_bytes == pki.root.read_bytes()
        assert_valid(secrets)
        stream.request(bad + [good], nonce=first.nonce, version=first.version_info)  # ACK
        # Several re-checks of the broken files: nothing pushed, each problem logged once.
        assert stream.quiet(2.5), "broken files must push nothing"

        # The missing key appears (as cert-manager would write it): the name is served then.
        swap_in(key, later)
        pushed = stream.next(timeout=ROTATION_WAIT)
        secrets = secrets_of(pushed.resources)
        assert sorted(secrets) == sorted([good, not_yet]), sorted(secrets)
        assert chain_and_key(secrets[not_yet]) == (pki.crt.read_bytes(), later.read_bytes())
        assert_valid(secrets)
    finally:
        stream.close()
    log = agent.stop()

    for path, why in [("/etc/hostname", hostname_key), (str(pki.key), key_as_chain),
                      (str(pki.crt), cert_as_key), (str(big), too_big), (str(later), not_yet)]:
        lines = warnings_naming(log, path)
        assert [line for line in lines if why in line], f"no warning naming {path} for {why}:\n{log[-4000:]}"
    hostname_lines = warnings_naming(log, "/etc/hostname")
    assert len(hostname_lines) == 1, f"a broken file is logged once, not every second:\n{hostname_lines}"
    assert_no_key_material(log, pki.keys)
    cert_body = [line for line in pki.crt.read_text().splitlines() if not line.startswith("-----") and len(line) >= 16]
    assert not [line for line in cert_body if line in log], "certificate content in mesh-agent's log"


def test_delta_serves_a_file_root_and_its_rotation(agent_factory, tmp_path):
    pki = Pki(tmp_path)
    swap_in(pki.ca[0], pki.root)
    other_ca = make_ca(pki.gen, "gw-ca-2")
    agent = agent_factory()
    agent.wait_socket()

    name = pki.root_name()
    stream = SdsStream(agent.socket, delta=True)
    try:
        stream.delta_request(subscribe=[name])
        first = stream.next()
        assert [r.name for r in first.resources] == [name] and not first.removed_resources
        assert first.resources[0].version and first.system_version_info and first.nonce
        secrets = secrets_of(r.resource for r in first.resources)
        assert secrets[name].validation_context.trusted_ca.inline_bytes == pki.root.read_bytes()
        assert_valid(secrets)
        stream.delta_request(nonce=first.nonce)  # ACK
        assert stream.quiet(1.5), "nothing changed: nothing must be sent"

        # A new bundle (both CAs, as during a CA rotation).
        bundle = pki.ca[0].read_bytes() + other_ca[0].read_bytes()
        swap_in(bundle, pki.root)
        pushed = stream.next(timeout=ROTATION_WAIT)
        assert [r.name for r in pushed.resources] == [name] and not pushed.removed_resources
        assert pushed.resources[0].version != first.resources[0].version
        assert pushed.nonce != first.nonce
        secrets = secrets_of(r.resource for r in pushed.resources)
        assert secrets[name].validation_context.trusted_ca.inline_bytes == bundle
        assert_valid(secrets)
        stream.delta_request(nonce=pushed.nonce)  # ACK
        assert stream.quiet(1.0), "an ACK must not be answered"
    finally:
        stream.close()
