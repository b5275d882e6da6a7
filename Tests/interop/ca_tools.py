"""PKI helpers for the CA / mTLS interop tests: the `openssl` CLI as the oracle, hand-made JWTs,
a tiny DER reader, and a client for Istio's `IstioCertificateService/CreateCertificate`.

Nothing here needs a package beyond requirements.txt: keys, CSRs, certificates and ES256
signatures come from the `openssl` binary (OPENSSL overrides it); the Istio CA message classes
are built at run time from the project's own ca.proto with `protoc` (PROTOC overrides it).

`python ca_tools.py` runs a self-test of these helpers (no meshd needed).
"""

from __future__ import annotations

import base64
import calendar
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "Sources" / "EnvoyAPI" / "Protos"
CA_PROTO = "istio/v1/auth/ca.proto"
CREATE_CERTIFICATE = "/istio.v1.auth.IstioCertificateService/CreateCertificate"
TRUST_DOMAIN = "cluster.local"
PEM_CERT_RE = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.S)
TIMEOUT = 30.0


def spiffe_id(namespace: str, service_account: str, trust_domain: str = TRUST_DOMAIN) -> str:
    return f"spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"


# --------------------------------------------------------------------------- openssl

class OpensslError(AssertionError):
    pass


def openssl_bin() -> str:
    return os.environ.get("OPENSSL") or shutil.which("openssl") or "openssl"


def openssl(*args, input: bytes | str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run `openssl ARGS` (bytes in, bytes out); raise OpensslError with stderr when check fails."""
    if isinstance(input, str):
        input = input.encode()
    argv = [openssl_bin(), *map(str, args)]
    p = subprocess.run(argv, input=input, capture_output=True, timeout=TIMEOUT,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise OpensslError(f"{' '.join(argv)} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}"
                           f"{p.stdout.decode(errors='replace')[:2000]}")
    return p


def gen_ec_key(path: str | Path) -> Path:
    """A P-256 private key (SEC1 "EC PRIVATE KEY" PEM), as `openssl ecparam -genkey` makes it."""
    openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", path)
    return Path(path)


def gen_rsa_key(path: str | Path, bits: int = 2048) -> Path:
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", path)
    return Path(path)


def make_csr(key: str | Path, out: str | Path, subject: str = "/O=meshd-interop",
             sans: list[str] | None = None) -> str:
    """A PEM CSR signed by `key`; sans are openssl subjectAltName items ("URI:spiffe://...")."""
    args = ["req", "-new", "-key", key, "-subj", subject, "-out", out]
    if sans:
        args += ["-addext", "subjectAltName=" + ",".join(sans)]
    openssl(*args)
    return Path(out).read_text()


def csr_signature_ok(csr_pem: str) -> bool:
    # OpenSSL 3.0's `req -verify` exits 0 even on a bad signature: read what it prints.
    p = openssl("req", "-verify", "-noout", input=csr_pem, check=False)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return p.returncode == 0 and "verify OK" in out and "failure" not in out


def split_pem(text: str) -> list[str]:
    """The certificates of a PEM bundle, each normalized to end with a newline."""
    return [m.group(0).strip() + "\n" for m in PEM_CERT_RE.finditer(text)]


def cert_der(pem: str) -> bytes:
    """DER of one PEM certificate (to compare certificates whatever their PEM line wrapping)."""
    return openssl("x509", "-outform", "DER", input=pem).stdout


def cert_text(pem: str) -> str:
    return openssl("x509", "-noout", "-text", input=pem).stdout.decode()


def cert_sans(pem: str) -> list[str]:
    """subjectAltName items as openssl prints them: ["URI:spiffe://...", "DNS:localhost", ...]."""
    out = openssl("x509", "-noout", "-ext", "subjectAltName", input=pem).stdout.decode()
    lines = [line.strip() for line in out.splitlines()[1:] if line.strip()]
    return [item.strip() for line in lines for item in line.split(",") if item.strip()]


def uri_sans(pem: str) -> list[str]:
    return [s[4:] for s in cert_sans(pem) if s.startswith("URI:")]


def _openssl_time(text: str) -> float:
    # "Nov 26 23:25:01 2026 GMT"
    return float(calendar.timegm(time.strptime(" ".join(text.split()), "%b %d %H:%M:%S %Y %Z")))


def cert_validity(pem: str) -> tuple[float, float]:
    """(notBefore, notAfter) as POSIX seconds."""
    out = openssl("x509", "-noout", "-startdate", "-enddate", input=pem).stdout.decode()
    fields = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return _openssl_time(fields["notBefore"]), _openssl_time(fields["notAfter"])


def cert_is_ca(pem: str) -> bool:
    return bool(re.search(r"CA:TRUE", cert_text(pem)))


def public_key_of_cert(pem: str) -> str:
    return openssl("x509", "-noout", "-pubkey", input=pem).stdout.decode().strip()


def public_key_of_key(key: str | Path) -> str:
    return openssl("pkey", "-in", key, "-pubout").stdout.decode().strip()


def write_chain_files(dirpath: str | Path, chain: list[str]) -> tuple[Path, Path | None]:
    """Write chain[0] to leaf.pem and the rest (if any) to untrusted.pem; return their paths."""
    d = Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    leaf = d / "leaf.pem"
    leaf.write_text(chain[0])
    untrusted = None
    if len(chain) > 1:
        untrusted = d / "untrusted.pem"
        untrusted.write_text("".join(chain[1:]))
    return leaf, untrusted


def verify_chain(root_pem: str, chain: list[str], workdir: str | Path | None = None) -> subprocess.CompletedProcess:
    """`openssl verify -CAfile root.pem -untrusted chain.pem leaf.pem` (no check: look at returncode).

    The untrusted file holds every certificate after the leaf, so a root listed there changes
    nothing: only root_pem is trusted.
    """
    with tempfile.TemporaryDirectory(prefix="verify-", dir=workdir) as d:
        root = Path(d) / "root.pem"
        root.write_text(root_pem)
        leaf, untrusted = write_chain_files(d, chain)
        args = ["verify", "-CAfile", root]
        if untrusted is not None:
            args += ["-untrusted", untrusted]
        return openssl(*args, leaf, check=False)


def assert_verifies(root_pem: str, chain: list[str], what: str = "chain") -> None:
    p = verify_chain(root_pem, chain)
    out = (p.stdout + p.stderr).decode(errors="replace")
    assert p.returncode == 0 and ": OK" in out, (
        f"openssl verify of {what} against the root failed (exit {p.returncode}):\n{out}\n"
        + "\n".join(f"--- cert {i}:\n{cert_text(c)[:1500]}" for i, c in enumerate(chain)))


def make_ca(dirpath: str | Path, name: str, issuer: tuple[Path, Path] | None = None,
            days: int = 3650, pathlen: int | None = None) -> tuple[Path, Path]:
    """A P-256 CA certificate: self-signed when issuer is None, else signed by issuer=(cert, key).

    Returns (cert path, key path). Extensions: basicConstraints=critical,CA:TRUE[,pathlen],
    keyUsage=critical,keyCertSign,cRLSign, SKI, AKI.
    """
    d = Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    key = gen_ec_key(d / f"{name}-key.pem")
    cert = d / f"{name}-cert.pem"
    bc = "critical,CA:TRUE" + (f",pathlen:{pathlen}" if pathlen is not None else "")
    ext = d / f"{name}-ext.cnf"
    ext.write_text(
        "[v3_ca]\n"
        f"basicConstraints = {bc}\n"
        "keyUsage = critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier = hash\n"
        "authorityKeyIdentifier = keyid:always\n"
    )
    subject = f"/O=meshd-interop/CN={name}"
    if issuer is None:
        openssl("req", "-x509", "-new", "-key", key, "-subj", subject, "-days", days, "-sha256",
                "-config", ext, "-extensions", "v3_ca", "-out", cert)
    else:
        csr = d / f"{name}.csr"
        openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", issuer[0], "-CAkey", issuer[1], "-CAcreateserial",
                "-days", days, "-sha256", "-extfile", ext, "-extensions", "v3_ca", "-out", cert)
    return cert, key


def s_client_verify(address: str, root_pem: str, server_name: str = "localhost") -> tuple[bool, str]:
    """Handshake with `openssl s_client` (ALPN h2) and verify the server's chain and name.

    Returns (verified, output).
    """
    with tempfile.TemporaryDirectory(prefix="sclient-") as d:
        root = Path(d) / "root.pem"
        root.write_text(root_pem)
        p = openssl("s_client", "-connect", address, "-servername", server_name, "-alpn", "h2",
                    "-CAfile", root, "-verify_hostname", server_name, "-verify_return_error",
                    "-showcerts", input=b"", check=False)
    out = (p.stdout + p.stderr).decode(errors="replace")
    return p.returncode == 0 and "Verify return code: 0 (ok)" in out, out


# --------------------------------------------------------------------------- DER

def der_read(data: bytes, pos: int = 0) -> tuple[int, int, int, int]:
    """One DER TLV at pos: (tag, content start, content length, end). Definite lengths only."""
    tag = data[pos]
    length = data[pos + 1]
    start = pos + 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4:
            raise ValueError(f"unsupported DER length form at {pos}")
        length = int.from_bytes(data[start:start + n], "big")
        start += n
    end = start + length
    if end > len(data):
        raise ValueError(f"DER element at {pos} runs past the end ({end} > {len(data)})")
    return tag, start, length, end


def der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    out, pos = [], start
    while pos < end:
        tlv = der_read(data, pos)
        out.append(tlv)
        pos = tlv[3]
    return out


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def ecdsa_der_to_raw(der: bytes, size: int = 32) -> bytes:
    """ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } -> r || s, each `size` bytes (JWS)."""
    tag, start, _, end = der_read(der)
    if tag != 0x30 or end != len(der):
        raise ValueError("not a DER SEQUENCE")
    ints = der_children(der, start, end)
    if len(ints) != 2 or any(t != 0x02 for t, *_ in ints):
        raise ValueError("not SEQUENCE { INTEGER, INTEGER }")
    out = b""
    for _, s, n, _ in ints:
        value = der[s:s + n].lstrip(b"\x00")
        if len(value) > size:
            raise ValueError("integer too large")
        out += value.rjust(size, b"\x00")
    return out


def ecdsa_raw_to_der(raw: bytes) -> bytes:
    half = len(raw) // 2
    body = b""
    for part in (raw[:half], raw[half:]):
        v = part.lstrip(b"\x00") or b"\x00"
        if v[0] & 0x80:
            v = b"\x00" + v
        body += b"\x02" + _der_len(len(v)) + v
    return b"\x30" + _der_len(len(body)) + body


def pem_to_der(pem: str) -> bytes:
    body = re.sub(r"-----[^-]+-----", "", pem)
    return base64.b64decode("".join(body.split()))


def der_to_pem(der: bytes, label: str) -> str:
    b64 = base64.b64encode(der).decode()
    lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def tamper_csr_signature(csr_pem: str) -> str:
    """The same CSR with one bit of its signature flipped (still well-formed DER, bad signature).

    CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature BIT STRING }. The
    last byte of the BIT STRING is flipped: for ECDSA that is the low byte of `s`, so the inner
    SEQUENCE { r, s } stays valid DER; for RSA any byte keeps the structure.
    """
    der = bytearray(pem_to_der(csr_pem))
    tag, start, _, end = der_read(bytes(der))
    assert tag == 0x30, "CSR is not a SEQUENCE"
    parts = der_children(bytes(der), start, end)
    assert len(parts) == 3 and parts[2][0] == 0x03, f"unexpected CSR structure: {parts}"
    _, s, n, e = parts[2]
    assert n > 2, "empty signature"
    der[e - 1] ^= 0x01
    return der_to_pem(bytes(der), "CERTIFICATE REQUEST")


# --------------------------------------------------------------------------- JWT

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict, dict, bytes]:
    """(header, claims, signature) of a compact JWS, with no verification."""
    h, c, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(c)), b64url_decode(s)


def es256_sign(key: str | Path, data: bytes) -> bytes:
    """ES256 (JWS) signature of data with a PEM P-256 key: raw r || s, 64 bytes."""
    der = openssl("dgst", "-sha256", "-sign", key, input=data).stdout
    return ecdsa_der_to_raw(der)


def es256_verify(pubkey: str | Path, data: bytes, raw_sig: bytes) -> bool:
    with tempfile.TemporaryDirectory(prefix="jws-") as d:
        sig = Path(d) / "sig.der"
        sig.write_bytes(ecdsa_raw_to_der(raw_sig))
        return openssl("dgst", "-sha256", "-verify", pubkey, "-signature", sig, input=data,
                       check=False).returncode == 0


def make_jwt(header: dict, claims: dict, key: str | Path | None = None) -> str:
    """A compact JWS. key None: empty signature (for alg "none"); otherwise ES256 with key."""
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = b"" if key is None else es256_sign(key, signing_input.encode())
    return signing_input + "." + b64url(sig)


def resign(token: str, key: str | Path | None, header_update: dict | None = None,
           claims_update: dict | None = None) -> str:
    """A copy of a real token with header/claims changed and signed again (key None: unsigned)."""
    header, claims, _ = jwt_parts(token)
    header.update(header_update or {})
    claims.update(claims_update or {})
    return make_jwt(header, claims, key)


def expired_claims(claims: dict, seconds_ago: int = 3600) -> dict:
    """Claims moved into the past: exp `seconds_ago` ago, iat/nbf (when present) before that."""
    now = int(time.time())
    out = {"exp": now - seconds_ago}
    for k in ("iat", "nbf"):
        if k in claims:
            out[k] = now - 2 * seconds_ago
    return out


# --------------------------------------------------------------------------- Istio CA client

@functools.lru_cache(maxsize=1)
def ca_messages():
    """(IstioCertificateRequest, IstioCertificateResponse) classes built from ca.proto via protoc."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    protoc = os.environ.get("PROTOC") or shutil.which("protoc") or "/usr/bin/protoc"
    includes = ["-I", str(PROTO_ROOT)]
    for candidate in ("/usr/include", "/usr/local/include"):
        if (Path(candidate) / "google" / "protobuf" / "struct.proto").exists():
            includes += ["-I", candidate]
            break
    with tempfile.TemporaryDirectory(prefix="ca-proto-") as d:
        out = Path(d) / "ca.pb"
        p = subprocess.run([protoc, *includes, "--include_imports", f"--descriptor_set_out={out}", CA_PROTO],
                           capture_output=True, text=True, timeout=TIMEOUT)
        if p.returncode != 0:
            raise AssertionError(f"protoc failed on {CA_PROTO}: {p.stderr}")
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in fds.file:
        pool.Add(f)
    req = message_factory.GetMessageClass(pool.FindMessageTypeByName("istio.v1.auth.IstioCertificateRequest"))
    resp = message_factory.GetMessageClass(pool.FindMessageTypeByName("istio.v1.auth.IstioCertificateResponse"))
    return req, resp


class CAClient:
    """CreateCertificate over TLS (trusting root_pem) or, with root_pem None, over plaintext."""

    def __init__(self, address: str, root_pem: str | None, server_name: str = "localhost",
                 client_cert: tuple[bytes, bytes] | None = None):
        if root_pem is None:
            self.channel = grpc.insecure_channel(address)
        else:
            key, chain = client_cert or (None, None)
            creds = grpc.ssl_channel_credentials(root_certificates=root_pem.encode(),
                                                 private_key=key, certificate_chain=chain)
            self.channel = grpc.secure_channel(address, creds,
                                               options=[("grpc.ssl_target_name_override", server_name)])
        req_cls, resp_cls = ca_messages()
        self._req_cls = req_cls
        self._call = self.channel.unary_unary(CREATE_CERTIFICATE, request_serializer=req_cls.SerializeToString,
                                              response_deserializer=resp_cls.FromString)

    def create(self, csr_pem: str, token: str | None = None, validity_seconds: int | None = None,
               timeout: float = 10.0) -> list[str]:
        """The cert_chain (leaf first) or raises grpc.RpcError."""
        req = self._req_cls(csr=csr_pem)
        if validity_seconds is not None:
            req.validity_duration = int(validity_seconds)
        metadata = (("authorization", f"Bearer {token}"),) if token is not None else None
        resp = self._call(req, metadata=metadata, timeout=timeout, wait_for_ready=True)
        return list(resp.cert_chain)

    def status_of(self, csr_pem: str, token: str | None = None, validity_seconds: int | None = None,
                  timeout: float = 10.0) -> tuple[grpc.StatusCode, str]:
        """(status code, details) of one call: StatusCode.OK when it succeeds."""
        try:
            self.create(csr_pem, token, validity_seconds, timeout)
            return grpc.StatusCode.OK, ""
        except grpc.RpcError as err:
            return err.code(), err.details() or ""

    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def chain_of(cert_chain: list[str]) -> list[str]:
    """Flatten a cert_chain whose entries may each hold one or more PEM certificates."""
    out = []
    for entry in cert_chain:
        out += split_pem(entry)
    return out


# --------------------------------------------------------------------------- meshd's CA counters

CA_COUNTERS = {
    "csr": "citadel_server_csr_count",
    "auth_failure": "citadel_server_authentication_failure_count",
    "parse_error": "citadel_server_csr_parsing_err_count",
    "success": "citadel_server_success_cert_issuance_count",
}
ROOT_EXPIRY_GAUGE = "citadel_server_root_cert_expiry_timestamp"


def metric_sums(metrics_text: str, names) -> dict:
    """name -> sum of its samples (all label sets) in a Prometheus text page; 0 when absent."""
    out = {n: 0.0 for n in names}
    for line in metrics_text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)", line)
        if m and m.group(1) in out:
            out[m.group(1)] += float(m.group(3))
    return out


def ca_counters(meshd) -> dict:
    """The CA counters of one /metrics scrape, by short name (see CA_COUNTERS)."""
    sums = metric_sums(meshd.metrics(), CA_COUNTERS.values())
    return {short: sums[name] for short, name in CA_COUNTERS.items()}


def counter_deltas(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in before}


def settled_deltas(meshd, before: dict, expected: dict, timeout: float = 2.0) -> dict:
    """Counter deltas since `before`, re-scraped for up to `timeout` s until they equal `expected`
    (a counter may be bumped just after the RPC's answer left); the last deltas otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        got = counter_deltas(before, ca_counters(meshd))
        if got == expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def new_csr(workdir: str | Path, name: str, kind: str = "ec", subject: str = "/O=meshd-interop",
            sans: list[str] | None = None) -> tuple[Path, str]:
    """A fresh key (kind "ec" = P-256, "rsa" = RSA 2048) and a CSR for it: (key path, CSR PEM)."""
    d = Path(workdir)
    d.mkdir(parents=True, exist_ok=True)
    key = gen_ec_key(d / f"{name}-key.pem") if kind == "ec" else gen_rsa_key(d / f"{name}-key.pem")
    return key, make_csr(key, d / f"{name}.csr", subject, sans)


# --------------------------------------------------------------------------- self-test

def _self_test() -> None:
    with tempfile.TemporaryDirectory(prefix="ca-tools-") as d:
        d = Path(d)
        # DER <-> raw ECDSA, and an ES256 JWT that openssl verifies
        key = gen_ec_key(d / "k.pem")
        pub = d / "pub.pem"
        pub.write_text(public_key_of_key(key) + "\n")
        for _ in range(20):  # exercise r/s with and without a leading zero / high bit
            data = os.urandom(40)
            der = openssl("dgst", "-sha256", "-sign", key, input=data).stdout
            raw = ecdsa_der_to_raw(der)
            assert len(raw) == 64
            assert ecdsa_raw_to_der(raw) == der, "raw -> DER is not the inverse of DER -> raw"
            assert es256_verify(pub, data, raw)
            assert not es256_verify(pub, data + b"x", raw)
        assert ecdsa_der_to_raw(bytes.fromhex("3006020101020102")) == b"\x00" * 31 + b"\x01" + b"\x00" * 31 + b"\x02"
        assert ecdsa_raw_to_der(b"\x00" * 31 + b"\x80" + b"\x00" * 31 + b"\x01") == bytes.fromhex("30070202008002010" + "1")
        token = make_jwt({"alg": "ES256", "typ": "JWT", "kid": "k1"}, {"sub": "x", "exp": 2})
        h, c, s = jwt_parts(token)
        assert h["kid"] == "k1" and c == {"sub": "x", "exp": 2} and s == b""
        token = make_jwt({"alg": "ES256"}, {"sub": "x"}, key)
        signing_input, _, sig = token.rpartition(".")
        assert es256_verify(pub, signing_input.encode(), b64url_decode(sig)), "JWT signature does not verify"
        other = resign(token, None, {"alg": "none"}, expired_claims({"iat": 1}))
        h, c, s = jwt_parts(other)
        assert h["alg"] == "none" and c["exp"] < time.time() and c["iat"] < c["exp"] and s == b"" and other.endswith(".")

        # CSR with a SPIFFE SAN; tampering breaks the signature but not the structure
        for kind, k in (("ec", key), ("rsa", gen_rsa_key(d / "rsa.pem"))):
            csr = make_csr(k, d / f"{kind}.csr", "/CN=admin",
                           ["URI:spiffe://cluster.local/ns/kube-system/sa/admin"])
            assert csr_signature_ok(csr), f"{kind}: fresh CSR does not verify"
            bad = tamper_csr_signature(csr)
            assert bad != csr
            assert not csr_signature_ok(bad), f"{kind}: tampered CSR still verifies"
            text = openssl("req", "-noout", "-text", input=bad).stdout.decode()
            assert "spiffe://cluster.local/ns/kube-system/sa/admin" in text, f"{kind}: tampered CSR no longer parses"

        # root -> intermediate -> leaf, verified the way the tests do it
        root, root_key = make_ca(d, "root")
        inter, inter_key = make_ca(d, "inter", issuer=(root, root_key), pathlen=0)
        leaf_csr = d / "leaf.csr"
        make_csr(key, leaf_csr, "/O=x")
        ext = d / "leaf.cnf"
        ext.write_text("[v3]\nbasicConstraints=critical,CA:FALSE\nsubjectAltName=URI:spiffe://cluster.local/ns/default/sa/reviews\n")
        openssl("x509", "-req", "-in", leaf_csr, "-CA", inter, "-CAkey", inter_key, "-CAcreateserial", "-days", "1",
                "-extfile", ext, "-extensions", "v3", "-out", d / "leaf.pem")
        chain = [(d / "leaf.pem").read_text(), inter.read_text(), root.read_text()]
        chain = chain_of(["".join(chain)])
        assert len(chain) == 3
        assert_verifies(root.read_text(), chain)
        assert verify_chain(gen_and_self_sign(d), chain).returncode != 0, "a chain verified against an unrelated root"
        assert uri_sans(chain[0]) == ["spiffe://cluster.local/ns/default/sa/reviews"], cert_sans(chain[0])
        assert not cert_is_ca(chain[0]) and cert_is_ca(chain[1]) and cert_is_ca(chain[2])
        assert public_key_of_cert(chain[0]) == public_key_of_key(key)
        nb, na = cert_validity(chain[0])
        assert abs(nb - time.time()) < 120 and abs(na - nb - 86400) < 5, (nb, na)
        assert cert_der(chain[2]) == cert_der(root.read_text().replace("\n", "\r\n"))

        # the Istio CA message classes
        req_cls, resp_cls = ca_messages()
        req = req_cls(csr="x", validity_duration=3600)
        assert req.SerializeToString() == b"\x0a\x01x\x18\x90\x1c"
        assert list(resp_cls.FromString(b"\x0a\x01a\x0a\x01b").cert_chain) == ["a", "b"]
    print("ca_tools self-test: ok")


def gen_and_self_sign(d: Path) -> str:
    cert, _ = make_ca(d / "unrelated", "unrelated")
    return cert.read_text()


if __name__ == "__main__":
    _self_test()
