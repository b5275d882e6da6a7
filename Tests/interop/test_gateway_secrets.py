"""Gateway TLS credentials (`meshctl create secret tls`) served over SDS on the ADS stream.

An Envoy gateway (`router~`) authenticated by its mesh certificate (the mTLS `--renew-port`) gets
`kubernetes://NAME` and `NAME-cacert` exactly as given to meshctl (certificates as DER, the key by
its public half), and a rotation as a new version; a plaintext gateway, an authenticated gateway
of another namespace and an authenticated sidecar get nothing (a warning is logged). Every Secret
passes xds-protos and Envoy's PGV rules (proto_check). The key (PEM lines, body, base64 of the PEM,
private scalar in hex) appears nowhere else: meshctl, history/diff, dry runs, config_dump
("[redacted]"), debug and overview endpoints, events, metrics, REST errors, meshd's log. The
secrets API needs the admin token even from loopback.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse

import pytest
from envoy.config.core.v3 import base_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

import configs
import proto_check
from ads_client import RESOURCE_WRAPPER, Received
from ca_tools import cert_der, gen_ec_key, make_ca, openssl, split_pem
from event_stream import EventStream
from meshd_process import run_meshctl
from stream_client import StreamClient
from test_proxy_identity import _mesh_certificate, _mtls_channel

SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
LDS_TYPE = "type.googleapis.com/envoy.config.listener.v3.Listener"
DOWNSTREAM_TLS = "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
NS = "istio-system"
NAME = "reviews-cert"
SDS_NAMES = [f"kubernetes://{NAME}", f"kubernetes://{NAME}-cacert"]
GATEWAY = f"router~10.0.0.9~ingress-1.{NS}~{NS}.svc.cluster.local"   # authenticated, istio-system
PLAIN = f"router~10.0.0.11~ingress-3.{NS}~{NS}.svc.cluster.local"    # plaintext port, claims istio-system
OTHER = "router~10.0.0.10~ingress-2.other~other.svc.cluster.local"    # authenticated, namespace other
SIDECAR = f"sidecar~10.0.0.7~app-1.{NS}~{NS}.svc.cluster.local"       # authenticated, istio-system, no gateway
LABELS = {"LABELS": {"istio": "ingressgateway"}}
REDACTED_B64 = base64.b64encode(b"[redacted]").decode()


def gateway_yaml(hosts=("reviews.example.com",)) -> str:
    return f"""\
apiVersion: {configs.API_VERSION}
kind: Gateway
metadata: {{name: ingress, namespace: {NS}}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 443, name: https, protocol: HTTPS}}
    hosts: [{", ".join(hosts)}]
    tls: {{mode: MUTUAL, credentialName: {NAME}}}
"""


class GatewaySds(StreamClient):
    """An Envoy gateway's ADS stream (state of the world) for SDS and, optionally, LDS: asks for
    names per type, ACKs every response and keeps them all, decoded with xds-protos and checked
    by proto_check (PGV included)."""

    def __init__(self, address: str, node_id: str, channel=None):
        super().__init__(address, channel)
        self.node = base_pb2.Node(id=node_id, user_agent_name="envoy")
        self.node.metadata.update(LABELS)
        self.subs: dict[str, list] = {}
        self.acked: dict[str, tuple] = {}  # type_url -> (version, nonce)
        self._node_sent = False

    def start(self) -> "GatewaySds":
        self._open(ads_pb2_grpc.AggregatedDiscoveryServiceStub(self._channel).StreamAggregatedResources)
        return self

    def ask(self, names, type_url: str = SECRET_TYPE) -> "GatewaySds":
        with self.cond:
            self.subs[type_url] = sorted(names)
            self._send(type_url)
        return self

    def _send(self, type_url: str) -> None:
        version, nonce = self.acked.get(type_url, ("", ""))
        req = discovery_pb2.DiscoveryRequest(type_url=type_url, resource_names=self.subs[type_url],
                                             version_info=version, response_nonce=nonce)
        if not self._node_sent:
            req.node.CopyFrom(self.node)
            self._node_sent = True
        self._out.put(req)

    def _on_response(self, resp) -> None:
        with self.cond:
            n = len(self.responses)
            rec = Received(seq=n, at=time.monotonic(), type=resp.type_url, version=resp.version_info, nonce=resp.nonce,
                           raw=resp, problems=[f"response #{n}: {p}" for p in proto_check.find_problems(resp)])
            for any_msg in resp.resources:
                if any_msg.type_url == RESOURCE_WRAPPER:
                    any_msg = discovery_pb2.Resource.FromString(any_msg.value).resource
                if any_msg.type_url != resp.type_url:
                    rec.problems.append(f"response #{n}: a {any_msg.type_url} in a {resp.type_url} response")
                msg = proto_check.unpack(any_msg)
                rec.resources[msg.name] = msg
            self.responses.append(rec)
            if resp.type_url in self.subs:
                self.acked[resp.type_url] = (resp.version_info, resp.nonce)
                self._send(resp.type_url)  # ACK
            self.cond.notify_all()

    def secrets(self) -> dict:
        """name -> the newest Secret received under that name."""
        with self.cond:
            return {k: m for r in self.responses if r.type == SECRET_TYPE for k, m in r.resources.items()}

    def latest(self, type_url: str) -> list:
        """The resources of the newest response of a type."""
        with self.cond:
            return next((list(r.resources.values()) for r in reversed(self.responses) if r.type == type_url), [])

    def secret_responses(self) -> list:
        with self.cond:
            return [r for r in self.responses if r.type == SECRET_TYPE]

    def describe(self, last: int = 30) -> str:
        return "\n".join([f"ADS {self.node.id} subs={self.subs}"] + [f"  {r!r}" for r in self.responses[-last:]])


def sds_names_of(listeners) -> set:
    """The SDS names the listeners' DownstreamTlsContexts ask for (certificate and validation)."""
    names = set()
    for chain in (c for listener in listeners for c in listener.filter_chains):
        if chain.transport_socket.typed_config.type_url.endswith("/" + DOWNSTREAM_TLS):
            tls = proto_check.unpack(chain.transport_socket.typed_config).common_tls_context
            names |= {c.name for c in tls.tls_certificate_sds_secret_configs}
            if tls.HasField("combined_validation_context"):
                names.add(tls.combined_validation_context.validation_context_sds_secret_config.name)
    return names


@pytest.fixture
def sds_streams():
    made: list[GatewaySds] = []

    def make(address: str, node: str, channel=None) -> GatewaySds:
        stream = GatewaySds(address, node, channel)
        made.append(stream)
        return stream.start()

    yield make
    for stream in made:
        stream.close()
    problems = [p for s in made for p in s.problems()]
    assert not problems, "Secrets the official protos or Envoy's PGV rules refuse:\n" + "\n".join(problems[:20])


# ------------------------------------------------------------------ credentials and meshctl

def make_credential(d, tag: str, ca) -> tuple:
    """A P-256 key and a leaf for DNS:reviews.example.com signed by ca=(cert, key)."""
    key = gen_ec_key(d / f"{tag}-key.pem")
    csr, cert, ext = d / f"{tag}.csr", d / f"{tag}-cert.pem", d / f"{tag}.cnf"
    openssl("req", "-new", "-key", key, "-subj", "/O=meshd-interop/CN=reviews.example.com", "-out", csr)
    ext.write_text("[v3]\nsubjectAltName = DNS:reviews.example.com\nextendedKeyUsage = serverAuth\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-days", "30",
            "-sha256", "-extfile", ext, "-extensions", "v3", "-out", cert)
    return cert, key


def public_half(key_pem: bytes | str) -> str:
    return openssl("pkey", "-pubout", input=key_pem).stdout.decode().strip()


def ctl(meshd, *args):
    """meshctl with the admin token from meshd's data dir (the secrets API always wants it)."""
    return run_meshctl(meshd.admin_url, "--data-dir", meshd.data_dir, *args)


def printed(p) -> str:
    return p.stdout + p.stderr


def create_secret(meshd, cert, key, ca=None):
    return ctl(meshd, "create", "secret", "tls", NAME, "--cert", cert, "--key", key, "-n", NS,
               *(["--ca", ca] if ca else []))


def authed(meshd, tmp_path, namespace: str, count: int = 1):
    """mTLS channels to the renew port with a mesh certificate of NAMESPACE (via mesh-agent)."""
    pki = _mesh_certificate(meshd, tmp_path, namespace, "ingressgateway")
    channels = [_mtls_channel(meshd, *pki) for _ in range(count)]
    return channels[0] if count == 1 else channels


def wait_log(meshd, *needles: str, timeout: float = 10.0) -> str:
    """The first line of meshd's log holding every needle (waits for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = next((line for line in list(meshd.lines) if all(n in line for n in needles)), None)
        if hit:
            return hit
        time.sleep(0.05)
    raise AssertionError(f"no log line with {needles} in {timeout}s\n{meshd.tail(40)}")


def assert_is(secret, cert_file, key_file) -> None:
    """The Secret's chain is cert_file's certificates (as DER) and its key has key_file's public half."""
    chain = secret.tls_certificate.certificate_chain.inline_bytes.decode()
    assert [cert_der(c) for c in split_pem(chain)] == [cert_der(c) for c in split_pem(cert_file.read_text())]
    assert public_half(secret.tls_certificate.private_key.inline_bytes) == public_half(key_file.read_bytes())
    assert proto_check.find_problems(secret) == [], proto_check.find_problems(secret)


# ------------------------------------------------------------------ 1 + 2: who gets what over SDS

def test_only_an_authenticated_gateway_of_the_namespace_gets_the_credential_and_its_rotation(meshd, tmp_path, sds_streams):
    ca = make_ca(tmp_path / "edge-ca", "edge-ca")
    cert, key = make_credential(tmp_path, "first", ca)
    create_secret(meshd, cert, key, ca[0])
    meshd.wait_pushed(meshd.apply(gateway_yaml())["revision"])

    # As Envoy does: listeners first, then the secrets their TLS contexts name.
    gw_channel, sidecar_channel = authed(meshd, tmp_path, NS, count=2)
    gw = sds_streams(meshd.renew_address, GATEWAY, gw_channel).ask([], LDS_TYPE)
    named = gw.wait_for(lambda c: sds_names_of(c.latest(LDS_TYPE)), 15, "a listener naming secrets")
    assert sorted(named) == sorted(SDS_NAMES), named
    gw.ask(named)
    first = gw.wait_for(lambda c: next((r for r in c.secret_responses() if set(SDS_NAMES) <= set(r.resources)), None),
                        15, "both secrets on the authenticated stream")
    assert first.type == SECRET_TYPE and first.version and sorted(first.resources) == sorted(SDS_NAMES)
    assert_is(first.resources[SDS_NAMES[0]], cert, key)
    validation = first.resources[SDS_NAMES[1]]
    assert not validation.HasField("tls_certificate")
    trusted = validation.validation_context.trusted_ca.inline_bytes.decode()
    assert [cert_der(c) for c in split_pem(trusted)] == [cert_der(ca[0].read_text())]
    assert proto_check.find_problems(validation) == []
    entry = meshd.wait_synced(GATEWAY)
    assert entry["authenticated"] is True and entry["kind"] == "gateway" and entry["namespace"] == NS, entry

    # A plaintext gateway claiming the namespace, an authenticated gateway of another namespace,
    # and an authenticated sidecar of this namespace (only gateways read credentials).
    plain = sds_streams(meshd.xds_address, PLAIN).ask(SDS_NAMES)
    other = sds_streams(meshd.renew_address, OTHER, authed(meshd, tmp_path, "other")).ask(SDS_NAMES)
    sidecar = sds_streams(meshd.renew_address, SIDECAR, sidecar_channel).ask(SDS_NAMES)
    # Each refusal is a warning naming the proxy and the credential. (For the other namespace
    # meshd says the credential is not found there: that namespace holds no such credential.)
    for node, says in ((PLAIN, "credential refused"), (OTHER, "credential"), (SIDECAR, "credential refused")):
        line = wait_log(meshd, " warning ", says, f"proxy={node}", f"credential={SDS_NAMES[0]} ")
        assert "refused" in line or "not found in the proxy's namespace" in line, line

    # Rotation: a new key and certificate arrive as a new version on the open stream.
    cert2, key2 = make_credential(tmp_path, "second", ca)
    assert "secret/reviews-cert configured" in create_secret(meshd, cert2, key2, ca[0]).stdout
    rotated = gw.wait_for(
        lambda c: next((r for r in c.secret_responses() if r.seq > first.seq and SDS_NAMES[0] in r.resources), None), 15,
        "the rotated certificate")
    assert rotated.version != first.version and rotated.nonce != first.nonce
    assert_is(rotated.resources[SDS_NAMES[0]], cert2, key2)
    gw.wait_for(lambda c: c.acked[SECRET_TYPE][0] == rotated.version, 5, "the rotation ACKed")

    # Nothing for the others, through both revisions (a bounded window after the rotation).
    time.sleep(1.0)
    for stream in (plain, other, sidecar):
        assert stream.error is None, stream.error
        assert not any(r.resources for r in stream.responses), stream.describe()
    assert gw.problems() == plain.problems() == other.problems() == sidecar.problems() == []
    found = leaks({"meshd log": "\n".join(meshd.lines)}, {**key_needles(key), **key_needles(key2)})
    assert not found, found


# ------------------------------------------------------------------ 3: the key nowhere else

def key_needles(key_file) -> dict:
    """What would betray the key: label -> string (hex ones are matched case-insensitively)."""
    pem = key_file.read_text()
    lines = [l for l in pem.strip().splitlines() if not l.startswith("-----")]
    needles = {f"{key_file.name} PEM line {i}": l for i, l in enumerate(lines) if len(l) >= 16}
    needles[f"{key_file.name} body unwrapped"] = "".join(lines)
    # The PEM inside something base64-encoded (JSON bytes fields): every alignment of a middle run.
    raw = pem.encode()
    for shift in range(3):
        needles[f"{key_file.name} PEM as base64 (shift {shift})"] = base64.b64encode(raw[40 + shift:40 + shift + 60]).decode()
    text = openssl("pkey", "-in", key_file, "-text", "-noout").stdout.decode()
    block = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
    scalar = "".join(block.split()).replace(":", "")
    scalar = scalar[2:] if len(scalar) == 66 and scalar.startswith("00") else scalar
    assert len(scalar) == 64, text
    needles[f"{key_file.name} scalar hex"] = scalar
    needles[f"{key_file.name} scalar hex:colons"] = ":".join(scalar[i:i + 2] for i in range(0, 64, 2))
    return needles


def leaks(surfaces: dict, needles: dict) -> list[str]:
    return [f"{what} in {where}" for where, text in surfaces.items() for what, needle in needles.items()
            if (needle.lower() in text.lower() if "hex" in what else needle in text)]


def test_the_key_is_nowhere_but_the_authenticated_stream(meshd, tmp_path, sds_streams):
    events = EventStream(meshd, timeout=10)
    try:
        events.read_until("event: revision", timeout=5)
        ca = make_ca(tmp_path / "edge-ca", "edge-ca")
        cert, key = make_credential(tmp_path, "first", ca)
        cert2, key2 = make_credential(tmp_path, "second", ca)
        needles = {**key_needles(key), **key_needles(key2)}
        for probe in [key.read_text()] + [base64.b64encode(b"{" * i + key.read_bytes()).decode() for i in range(3)]:
            assert leaks({"probe": probe}, needles), "the needles miss a plain rendering of the key"
        surfaces = {"meshctl create": printed(create_secret(meshd, cert, key, ca[0]))}
        created = meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]["revision"]
        meshd.wait_pushed(meshd.apply(gateway_yaml())["revision"])
        gw = sds_streams(meshd.renew_address, GATEWAY, authed(meshd, tmp_path, NS)).ask([], LDS_TYPE).ask(SDS_NAMES)
        gw.wait_for(lambda c: set(SDS_NAMES) <= set(c.secrets()) and c.latest(LDS_TYPE), 15, "the secrets and listeners")
        # The only ADS stream here: the plaintext and mTLS servers both number their streams from
        # 1 into one status registry, so a second stream would take the gateway's syncz entry.
        # The refusal paths' log lines are searched in the first test.
        surfaces["meshctl create (rotation)"] = printed(create_secret(meshd, cert2, key2, ca[0]))
        gw.wait_for(lambda c: public_half(c.secrets()[SDS_NAMES[0]].tls_certificate.private_key.inline_bytes)
                    == public_half(key2.read_bytes()), 15, "the rotation")
        meshd.wait_synced(GATEWAY)
        rotated = meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]["revision"]
        assert rotated > created
        # Both keys really were on the authenticated stream, so a miss below is not a vacuous pass.
        on_stream = "".join(r.raw.SerializeToString().decode("latin-1") for r in gw.responses)
        assert all(n in on_stream for w, n in needles.items() if "PEM line" in w), "the keys were never sent"

        for fmt in ("table", "yaml", "json"):
            o = [] if fmt == "table" else ["-o", fmt]
            surfaces[f"meshctl get secrets -n {NS} {fmt}"] = ctl(meshd, "get", "secrets", "-n", NS, *o).stdout
            surfaces[f"meshctl get secrets -A {fmt}"] = ctl(meshd, "get", "secrets", "-A", *o).stdout
            surfaces[f"meshctl get secret {NAME} {fmt}"] = ctl(meshd, "get", "secret", NAME, "-n", NS, *o).stdout
            surfaces[f"meshctl history {fmt}"] = ctl(meshd, "history", *o).stdout
        assert "reviews.example.com" in surfaces[f"meshctl get secrets -A table"]
        assert f"Secret {NS}/{NAME} configured" in surfaces["meshctl history table"]
        surfaces["meshctl diff 0"] = ctl(meshd, "diff", "0").stdout
        surfaces["meshctl diff rotation"] = ctl(meshd, "diff", created, rotated).stdout
        assert "material: sha256:" in surfaces["meshctl diff rotation"], surfaces["meshctl diff rotation"]
        node = urllib.parse.quote(GATEWAY, safe="")
        paths = [f"/api/v1/history/diff?from=0&to={rotated}", f"/api/v1/history/diff?from={created}&to={rotated}",
                 "/api/v1/history", "/api/v1/config/secrets", f"/api/v1/config/secrets/{NS}/{NAME}",
                 f"/debug/config_dump?proxyID={node}", "/debug/syncz", "/debug/push_status", "/api/v1/overview",
                 "/metrics"]
        for path in paths:
            surfaces[f"GET {path}"] = meshd._expect(meshd.request("GET", path), 200, path).text

        dump = json.loads(surfaces[f"GET /debug/config_dump?proxyID={node}"])
        shown = {s["name"]: s["resource"] for s in dump["resources"].get("SDS", [])}
        assert sorted(shown) == sorted(SDS_NAMES), dump["resources"].keys()
        tls = shown[SDS_NAMES[0]]["tls_certificate"]
        assert base64.b64decode(tls["private_key"]["inline_bytes"]) == b"[redacted]", tls
        assert cert_der(base64.b64decode(tls["certificate_chain"]["inline_bytes"]).decode()) == cert_der(cert2.read_text())
        surfaces["meshctl proxy-config all -o json"] = ctl(meshd, "proxy-config", "all", f"ingress-1.{NS}", "-o", "json").stdout
        surfaces["meshctl proxy-config secrets"] = ctl(meshd, "proxy-config", "secrets", f"ingress-1.{NS}").stdout

        # A dry run of a Gateway naming the credential, plain and with the gateway's diff.
        changed = gateway_yaml(("reviews.example.com", "ratings.example.com"))
        for query in ("dryRun=true", f"dryRun=true&proxy={node}"):
            r = meshd.request("POST", f"/api/v1/apply?{query}", changed, "application/yaml")
            assert r.status == 200, r
            surfaces[f"POST /api/v1/apply?{query}"] = r.text
        answer = json.loads(surfaces[f"POST /api/v1/apply?dryRun=true&proxy={node}"])
        assert [i["proxy"] for i in answer["impact"]] == [GATEWAY], answer
        assert "0.0.0.0_443" in answer["proxyDiff"]["diff"] and "ratings.example.com" in answer["proxyDiff"]["diff"], answer
        # A dry-run rollback to before the Gateway (credentials are not rolled back).
        r = meshd.request("POST", f"/api/v1/rollback?dryRun=true&proxy={node}", json.dumps({"toRevision": created}),
                          "application/json")
        assert r.status == 200 and r.json()["proxyDiff"]["diff"], r
        surfaces["POST /api/v1/rollback?dryRun=true&proxy="] = r.text

        # Errors for bodies carrying the key must not quote it.
        token = {"Authorization": "Bearer " + meshd.admin_token()}
        body = {"type": "kubernetes.io/tls", "certificate": cert.read_text(), "key": key.read_text()}
        bad = {"unknown field": json.dumps({**body, "tlsKey": key.read_text()}),
               "broken JSON": json.dumps(body)[:-40] + ', "key": ' + json.dumps(key.read_text()),
               "key as certificate": json.dumps({**body, "certificate": key.read_text()}),
               "mismatched key": json.dumps({**body, "certificate": cert.read_text(), "key": key2.read_text()})}
        for what, text in bad.items():
            r = meshd.request("PUT", f"/api/v1/secrets/{NS}/{NAME}", text, "application/json", headers=token)
            assert r.status in (400, 422), (what, r)
            surfaces[f"PUT error ({what})"] = r.text
        manifest = (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {NAME}, namespace: {NS}}}\ntype: kubernetes.io/tls\n"
                    f"stringData:\n  tls.key: {json.dumps(key.read_text())}\n")
        r = meshd.apply_raw(manifest)
        assert r.status >= 400, r
        surfaces["POST /api/v1/apply of a Secret manifest"] = r.text
        assert meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]["revision"] == rotated

        # Deleted: the answer warns about the Gateway naming it; history and diff record it.
        surfaces["meshctl delete secret"] = printed(ctl(meshd, "delete", "secret", NAME, "-n", NS))
        assert f"{NS}/ingress" in surfaces["meshctl delete secret"], surfaces["meshctl delete secret"]
        gone = meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]
        assert gone["changes"] == [{"action": "deleted", "kind": "Secret", "name": NAME, "namespace": NS}], gone
        surfaces["meshctl history (deleted)"] = ctl(meshd, "history").stdout
        surfaces["meshctl diff (deleted)"] = ctl(meshd, "diff", created, gone["revision"]).stdout
        assert f"Secret {NS}/{NAME} deleted" in surfaces["meshctl history (deleted)"]
        surfaces["GET /api/v1/events"] = events.read_until(f'"revision":{gone["revision"]}', timeout=5)
    finally:
        events.close()
    time.sleep(0.3)  # the last log lines of the requests above
    surfaces["meshd log"] = "\n".join(meshd.lines)
    assert REDACTED_B64 in surfaces[f"GET /debug/config_dump?proxyID={node}"]
    found = leaks(surfaces, needles)
    assert not found, "key material shown where it must not be:\n" + "\n".join(found)


# ------------------------------------------------------------------ 4: the admin token, even on loopback

def test_the_secrets_api_needs_the_admin_token_even_from_loopback(meshd, tmp_path):
    ca = make_ca(tmp_path / "edge-ca", "edge-ca")
    cert, key = make_credential(tmp_path, "first", ca)
    body = json.dumps({"type": "kubernetes.io/tls", "certificate": cert.read_text(), "key": key.read_text()})
    for headers in ({}, {"Authorization": "Bearer not-the-admin-token"}):
        for method, path, data in (("GET", "/api/v1/secrets", None), ("GET", f"/api/v1/secrets/{NS}/{NAME}", None),
                                   ("PUT", f"/api/v1/secrets/{NS}/{NAME}", body),
                                   ("DELETE", f"/api/v1/secrets/{NS}/{NAME}", None)):
            r = meshd.request(method, path, data, "application/json" if data else None, headers=headers)
            assert r.status == 401, (method, path, headers, r)
    assert meshd.request("GET", "/api/v1/history").json()["items"] == [], "a refused PUT was stored"
    empty = tmp_path / "no-token"
    empty.mkdir()
    p = run_meshctl(meshd.admin_url, "--data-dir", empty, "get", "secrets", "-A", check=False)
    assert p.returncode != 0 and ("401" in p.stderr or "token" in p.stderr), (p.stdout, p.stderr)
    # With the token: stored, listed.
    create_secret(meshd, cert, key)
    listed = meshd.request("GET", "/api/v1/secrets", headers={"Authorization": "Bearer " + meshd.admin_token()}).json()
    assert [(s["namespace"], s["name"], s["clientCA"]) for s in listed["items"]] == [(NS, NAME, False)], listed
