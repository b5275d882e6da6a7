"""The CA part of fake_meshd.py: key material in the data dir, JWTs, CreateCertificate.

NOT meshd's CA and it proves nothing about it: it implements just the contract the CA / mTLS
tests use, with the openssl CLI (see ca_tools.py), so that the suite itself can be debugged
without the Swift binaries.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import tempfile
import threading
import time
from pathlib import Path

import grpc

import ca_tools
from ca_tools import openssl

MAX_TTL = 90 * 86400
DEFAULT_TTL = 86400


def parse_duration(text: str) -> int:
    total, pos = 0, 0
    for m in re.finditer(r"(\d+)(ms|s|m|h|d)", text):
        if m.start() != pos:
            raise ValueError(f"bad duration {text!r}")
        pos = m.end()
        total += int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if pos != len(text) or not text:
        raise ValueError(f"bad duration {text!r}")
    return int(total)


def _private(path: Path) -> None:
    os.chmod(path, 0o600)


class FakeCA:
    def __init__(self, data_dir: str, ca_dir: str | None = None, trust_domain: str = "cluster.local"):
        self.dir = Path(data_dir)
        self.trust_domain = trust_domain
        self.lock = threading.Lock()
        self.counters = {k: 0 for k in ca_tools.CA_COUNTERS}
        cadir = self.dir / "ca"
        cadir.mkdir(parents=True, exist_ok=True)
        if ca_dir:
            src = Path(ca_dir)
            self.ca_cert, self.ca_key = src / "ca-cert.pem", src / "ca-key.pem"
            self.root = (src / "root-cert.pem").read_text()
            tail = ca_tools.split_pem((src / "cert-chain.pem").read_text())
            # the chain above the leaf: the signing cert, then the rest of cert-chain.pem, ending with the root
            above = [self.ca_cert.read_text()] + [c for c in tail if ca_tools.cert_der(c) != ca_tools.cert_der(self.ca_cert.read_text())]
            if ca_tools.cert_der(above[-1]) != ca_tools.cert_der(self.root):
                above.append(self.root)
            self.above = above
        else:
            self.ca_cert, self.ca_key = cadir / "root-cert.pem", cadir / "root-key.pem"
            if not self.ca_cert.exists():
                with tempfile.TemporaryDirectory(dir=cadir) as tmp:
                    cert, key = ca_tools.make_ca(tmp, "fake-meshd-root")
                    os.replace(key, self.ca_key)
                    os.replace(cert, self.ca_cert)
            _private(self.ca_key)
            self.root = self.ca_cert.read_text()
            self.above = [self.root]
        self.token_key = self.dir / "token-signing-key.pem"
        if not self.token_key.exists():
            ca_tools.gen_ec_key(self.token_key)
        _private(self.token_key)
        self.token_pub = cadir / "token-signing-pub.pem"
        self.token_pub.write_text(ca_tools.public_key_of_key(self.token_key) + "\n")
        admin = self.dir / "admin-token"
        if not admin.exists():
            admin.write_text(secrets.token_hex(32) + "\n")
        _private(admin)
        self.admin_token = admin.read_text().strip()
        self.db = cadir / "fake-openssl-ca"
        self.db.mkdir(exist_ok=True)
        (self.db / "index.txt").touch()
        (self.db / "index.txt.attr").write_text("unique_subject = no\n")
        if not (self.db / "serial").exists():
            (self.db / "serial").write_text(secrets.token_hex(8) + "\n")
        (self.db / "ca.cnf").write_text(
            "[ca]\ndefault_ca = CA_default\n[CA_default]\n"
            f"dir = {self.db}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir\nserial = $dir/serial\n"
            "default_md = sha256\npolicy = policy_any\nunique_subject = no\ncopy_extensions = none\n"
            "[policy_any]\norganizationName = optional\ncommonName = optional\n")

    # ------------------------------------------------------------------ certificates

    def root_not_after(self) -> float:
        return ca_tools.cert_validity(self.root)[1]

    def sign(self, csr_pem: str, sans: list[str], seconds: int) -> list[str]:
        """Sign with `openssl ca` (it takes an exact end date); returns leaf + chain up to the root."""
        end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
        with self.lock, tempfile.TemporaryDirectory(dir=self.db) as tmp:
            tmp = Path(tmp)
            (tmp / "req.csr").write_text(csr_pem)
            (tmp / "ext.cnf").write_text(
                "[leaf]\nbasicConstraints = critical,CA:FALSE\n"
                "keyUsage = critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage = serverAuth,clientAuth\nauthorityKeyIdentifier = keyid\n"
                f"subjectAltName = {','.join(sans)}\n")
            openssl("ca", "-batch", "-notext", "-config", self.db / "ca.cnf", "-cert", self.ca_cert,
                    "-keyfile", self.ca_key, "-in", tmp / "req.csr", "-out", tmp / "leaf.pem",
                    "-subj", "/O=" + self.trust_domain, "-enddate", end.strftime("%Y%m%d%H%M%SZ"),
                    "-extfile", tmp / "ext.cnf", "-extensions", "leaf")
            leaf = ca_tools.split_pem((tmp / "leaf.pem").read_text())[0]
        return [leaf, *self.above]

    def serving_identity(self, dns: list[str], ips: list[str]) -> tuple[bytes, bytes]:
        """(key PEM, chain PEM) for the TLS port."""
        with tempfile.TemporaryDirectory() as tmp:
            key, csr = ca_tools.new_csr(tmp, "serving")
            sans = [f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips]
            chain = self.sign(csr, sans, 365 * 86400)
            return key.read_bytes(), "".join(chain[:-1] if len(chain) > 1 else chain).encode()

    # ------------------------------------------------------------------ tokens

    def mint(self, namespace: str, service_account: str, ttl: int) -> str:
        now = int(time.time())
        return ca_tools.make_jwt({"alg": "ES256", "typ": "JWT", "kid": "fake-meshd"},
                                 {"iss": "meshd", "sub": f"system:serviceaccount:{namespace}:{service_account}",
                                  "aud": "istio-ca", "iat": now, "nbf": now, "exp": now + ttl}, self.token_key)

    def authenticate(self, token: str) -> tuple[str, str]:
        try:
            header, claims, sig = ca_tools.jwt_parts(token)
        except Exception as exc:
            raise ValueError(f"malformed token: {exc}")
        if header.get("alg") != "ES256":
            raise ValueError(f"alg {header.get('alg')!r} is not accepted")
        signing_input = token.rsplit(".", 1)[0].encode()
        if len(sig) != 64 or not ca_tools.es256_verify(self.token_pub, signing_input, sig):
            raise ValueError("bad signature")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time() - 60:
            raise ValueError("expired")
        if claims.get("nbf", 0) > time.time() + 60:
            raise ValueError("not yet valid")
        if claims.get("iss") != "meshd" or claims.get("aud") not in ("istio-ca", ["istio-ca"]):
            raise ValueError("wrong issuer or audience")
        m = re.fullmatch(r"system:serviceaccount:([^:]+):([^:]+)", str(claims.get("sub")))
        if not m:
            raise ValueError("bad subject")
        return m.group(1), m.group(2)

    @staticmethod
    def weak_key(csr_pem: str) -> bool:
        text = openssl("req", "-noout", "-text", input=csr_pem).stdout.decode()
        m = re.search(r"Public-Key: \((\d+) bit\)", text)
        return not m or int(m.group(1)) < (256 if "id-ecPublicKey" in text else 2048)

    # ------------------------------------------------------------------ gRPC

    def count(self, name: str) -> None:
        with self.lock:
            self.counters[name] += 1

    def handler(self) -> grpc.GenericRpcHandler:
        req_cls, resp_cls = ca_tools.ca_messages()

        def create(request, context):
            self.count("csr")
            transport = dict(context.auth_context() or {}).get("transport_security_type") or []
            if b"ssl" not in transport:
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "CreateCertificate is served on the TLS port only")
            auth = dict(context.invocation_metadata()).get("authorization", "")
            try:
                if not auth.startswith("Bearer "):
                    raise ValueError("no bearer token")
                ns, sa = self.authenticate(auth[len("Bearer "):].strip())
            except ValueError as exc:
                self.count("auth_failure")
                context.abort(grpc.StatusCode.UNAUTHENTICATED, f"authentication failed: {exc}")
            ttl = request.validity_duration or DEFAULT_TTL
            if ttl < 0 or ttl > MAX_TTL:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"validity {ttl}s is over {MAX_TTL}s")
            if not ca_tools.csr_signature_ok(request.csr) or self.weak_key(request.csr):
                self.count("parse_error")
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "malformed CSR or bad CSR signature")
            chain = self.sign(request.csr, [f"URI:spiffe://{self.trust_domain}/ns/{ns}/sa/{sa}"], ttl)
            self.count("success")
            return resp_cls(cert_chain=chain)

        return grpc.method_handlers_generic_handler("istio.v1.auth.IstioCertificateService", {
            "CreateCertificate": grpc.unary_unary_rpc_method_handler(
                create, request_deserializer=req_cls.FromString, response_serializer=resp_cls.SerializeToString)})

    def metrics(self) -> str:
        with self.lock:
            lines = [f"{ca_tools.CA_COUNTERS[k]} {v}" for k, v in self.counters.items()]
        lines.append(f"{ca_tools.ROOT_EXPIRY_GAUGE} {self.root_not_after():.0f}")
        return "\n".join(lines) + "\n"

    def token_request(self, body: bytes) -> str:
        doc = json.loads(body or b"{}")
        return self.mint(doc["namespace"], doc["serviceAccount"], parse_duration(doc.get("ttl") or "24h"))
