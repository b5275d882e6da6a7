"""Gateway credentials from Kubernetes Secrets (`meshd --store kubernetes`), applied with kubectl
1.32 to the stand-in API server and served over SDS on an Envoy gateway's ADS stream (the
authenticated `router~` node of test_gateway_secrets.py, on meshd's mTLS port).

- a `kubernetes.io/tls` Secret (`tls.crt` a leaf and its intermediate, `tls.key`, `ca.crt`) and
  Istio's generic form (`cert`, `key`, `cacert`, type Opaque) reach a gateway of the Secret's
  namespace as `kubernetes://NAME` (the chain as given, the key by its public half) and
  `NAME-cacert`, every Secret through xds-protos and PGV; a gateway of another namespace and a
  plaintext gateway get nothing;
- a Secret applied again with a new certificate is a new version on the open stream; a rollback
  through meshd leaves the Secret as kubectl made it;
- meshd's secrets API shows the public half, refuses writes (422 `refused`, naming kubectl); a
  `kubectl delete` is recorded as the Secret's deletion;
- a Secret whose key does not match its certificate is not served and is logged by name;
- the key is in no history record, diff or ledger ConfigMap;
- a Secret no Gateway names is not recorded; named, it is; no longer named, it is left out.
"""

from __future__ import annotations

import base64
import json
import re
import time

import pytest

import configs
from ca_tools import cert_der, make_ca, openssl, split_pem
from kube_fixtures import namespace, wait_until
from meshd_process import run_meshctl
from test_gateway_secrets import (GATEWAY, LDS_TYPE, NAME, NS, OTHER, PLAIN, SDS_NAMES, SECRET_TYPE, assert_is, authed,
                                  ctl, key_needles, leaks, make_credential, printed, sds_names_of, wait_log)
from test_gateway_secrets import sds_streams  # noqa: F401  (a fixture)
from test_kube_config import cluster, config_meshd, history, ledger  # noqa: F401  (cluster, config_meshd: fixtures)

BAD = "bad-cert"


# ------------------------------------------------------------------ credentials and manifests

@pytest.fixture
def pki(tmp_path):
    """A root CA, an intermediate it signed, and a way to make leaves for reviews.example.com
    signed by the intermediate: leaf(tag) -> (chain file: leaf + intermediate, key file)."""
    root = make_ca(tmp_path / "edge-root", "edge-root")
    intermediate = make_ca(tmp_path / "edge-intermediate", "edge-intermediate", issuer=root)

    def leaf(tag: str):
        cert, key = make_credential(tmp_path, tag, intermediate)
        chain = tmp_path / f"{tag}-chain.pem"
        chain.write_text(cert.read_text().rstrip("\n") + "\n" + intermediate[0].read_text())
        return chain, key

    leaf.root = root[0]
    return leaf


def tls_secret(name: str, chain, key, ca=None, generic: bool = False, ns: str = NS) -> str:
    """A Secret manifest (JSON, for `kubectl apply -f -`): kubernetes.io/tls with base64 `data`,
    or Istio's generic form (cert/key/cacert, type Opaque) with `stringData`."""
    if generic:
        fields = {"cert": chain.read_text(), "key": key.read_text(), **({"cacert": ca.read_text()} if ca else {})}
        body = {"type": "Opaque", "stringData": fields}
    else:
        fields = {"tls.crt": chain.read_text(), "tls.key": key.read_text(), **({"ca.crt": ca.read_text()} if ca else {})}
        body = {"type": "kubernetes.io/tls", "data": {k: base64.b64encode(v.encode()).decode() for k, v in fields.items()}}
    return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, **body})


def gateway_manifest(*credentials: str) -> str:
    """A Gateway of istio-system for the ingress gateway (JSON): one MUTUAL server per credential."""
    servers = [{"port": {"number": 443 + i, "name": f"https-{i}", "protocol": "HTTPS"}, "hosts": ["reviews.example.com"],
                "tls": {"mode": "MUTUAL", "credentialName": c}} for i, c in enumerate(credentials)]
    return json.dumps({"apiVersion": configs.API_VERSION, "kind": "Gateway", "metadata": {"name": "ingress", "namespace": NS},
                       "spec": {"selector": {"istio": "ingressgateway"}, "servers": servers}})


def serial_of(cert_file) -> str:
    """openssl's serial of the first certificate in a file, as bare lowercase hex."""
    out = openssl("x509", "-in", cert_file, "-noout", "-serial").stdout.decode()
    return normal_serial(out.split("=", 1)[1])


def normal_serial(text: str) -> str:
    return re.sub(r"[^0-9a-f]", "", text.lower()).lstrip("0")


# ------------------------------------------------------------------ meshd's side

@pytest.fixture
def kube_meshd(cluster, config_meshd):
    """A meshd with `--store kubernetes` on the stand-in, where namespaces istio-system and other
    exist and the Gateway `ingress` names the credentials NAME and BAD (meshd records only the
    Secrets a Gateway names)."""
    for ns in (NS, "other"):
        cluster.create(namespace(ns))
    meshd = config_meshd()
    apply_gateway(cluster, meshd, NAME, BAD)
    return meshd


def token(meshd) -> dict:
    return {"Authorization": "Bearer " + meshd.admin_token()}


def secret_summary(meshd, name: str = NAME):
    return meshd.request("GET", f"/api/v1/secrets/{NS}/{name}", headers=token(meshd))


def wait_secret(meshd, predicate=lambda s: True, name: str = NAME, what: str = "") -> dict:
    """meshd's summary of the Secret once it exists and predicate(summary) holds."""
    found = {}

    def check():
        r = found["r"] = secret_summary(meshd, name)
        return r.status == 200 and predicate(r.json())
    wait_until(check, 15, what or f"Secret {NS}/{name} in meshd",
               describe=lambda: f"last answer: {found.get('r')}\n{meshd.tail(30)}")
    return found["r"].json()


def apply_gateway(cluster, meshd, *credentials: str) -> None:
    cluster.kubectl("apply", "-f", "-", stdin=gateway_manifest(*credentials))
    wait_until(lambda: meshd.get_raw("gateways", NS, "ingress").status == 200, 15, "the Gateway in meshd",
               describe=lambda: meshd.tail(30))
    meshd.wait_pushed(int(meshd.get("gateways", NS, "ingress")["metadata"]["resourceVersion"]))


def open_gateway(meshd, tmp_path, sds_streams, names=None):
    """The authenticated istio-system gateway, as Envoy asks: listeners, then what they name."""
    gw = sds_streams(meshd.renew_address, GATEWAY, authed(meshd, tmp_path, NS)).ask([], LDS_TYPE)
    named = gw.wait_for(lambda c: sds_names_of(c.latest(LDS_TYPE)), 15, "a listener naming secrets")
    if names is not None:
        assert sorted(named) == sorted(names), named
    return gw.ask(named)


def response_with(gw, names, after: int = -1, what: str = "", timeout: float = 15.0):
    """The first SDS response after seq `after` carrying every name."""
    def found(c):
        return next((r for r in c.secret_responses() if r.seq > after and set(names) <= set(r.resources)), None)
    return gw.wait_for(found, timeout, what or f"{names} on the gateway's stream")


def assert_validation(secret, ca_file) -> None:
    assert not secret.HasField("tls_certificate"), secret
    trusted = secret.validation_context.trusted_ca.inline_bytes.decode()
    assert [cert_der(c) for c in split_pem(trusted)] == [cert_der(c) for c in split_pem(ca_file.read_text())]


def served_as_given(meshd, cluster, tmp_path, sds_streams, pki, generic: bool):
    chain, key = pki("first")
    applied = cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain, key, pki.root, generic=generic))
    assert f"secret/{NAME} created" in applied.stdout, applied.stdout
    summary = wait_secret(meshd)
    assert summary["clientCA"] is True and normal_serial(summary["serial"]) == serial_of(chain), summary
    apply_gateway(cluster, meshd, NAME)

    gw = open_gateway(meshd, tmp_path, sds_streams, SDS_NAMES)
    first = response_with(gw, SDS_NAMES)
    assert first.version and sorted(first.resources) == sorted(SDS_NAMES), first
    assert len(split_pem(first.resources[SDS_NAMES[0]].tls_certificate.certificate_chain.inline_bytes.decode())) == 2
    assert_is(first.resources[SDS_NAMES[0]], chain, key)
    assert_validation(first.resources[SDS_NAMES[1]], pki.root)
    entry = meshd.wait_synced(GATEWAY)
    assert entry["authenticated"] is True and entry["kind"] == "gateway" and entry["namespace"] == NS, entry
    assert gw.problems() == []
    return gw, first, chain


# ------------------------------------------------------------------ 1, 2: served as given

def test_a_kubernetes_io_tls_secret_reaches_the_gateway_of_its_namespace(
        kube_meshd, cluster, tmp_path, sds_streams, pki):
    served_as_given(kube_meshd, cluster, tmp_path, sds_streams, pki, generic=False)


def test_istios_generic_secret_form_reaches_the_gateway_of_its_namespace(
        kube_meshd, cluster, tmp_path, sds_streams, pki):
    served_as_given(kube_meshd, cluster, tmp_path, sds_streams, pki, generic=True)
    assert cluster.get("secrets", NS, NAME)["type"] == "Opaque"


# ------------------------------------------------------------------ 3: nobody else

def test_another_namespaces_gateway_and_a_plaintext_gateway_get_nothing(
        kube_meshd, cluster, tmp_path, sds_streams, pki):
    meshd = kube_meshd
    chain, key = pki("first")
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain, key, pki.root))
    wait_secret(meshd)
    apply_gateway(cluster, meshd, NAME)
    # The control: the gateway of istio-system is served (no syncz below: see test_gateway_secrets).
    gw = open_gateway(meshd, tmp_path, sds_streams, SDS_NAMES)
    response_with(gw, SDS_NAMES)

    plain = sds_streams(meshd.xds_address, PLAIN).ask(SDS_NAMES)
    other = sds_streams(meshd.renew_address, OTHER, authed(meshd, tmp_path, "other")).ask(SDS_NAMES)
    for node, says in ((PLAIN, "credential refused"), (OTHER, "credential")):
        wait_log(meshd, " warning ", says, f"proxy={node}", f"credential={SDS_NAMES[0]} ")
    time.sleep(1.0)   # a bounded window for anything they might still be sent
    for stream in (plain, other):
        assert stream.error is None, stream.error
        assert not any(r.resources for r in stream.responses), stream.describe()


# ------------------------------------------------------------------ 4: rotation, and a rollback leaves it alone

def test_a_rotation_by_kubectl_apply_is_a_new_version_and_a_rollback_leaves_it(
        kube_meshd, cluster, tmp_path, sds_streams, pki):
    meshd = kube_meshd
    gw, first, chain = served_as_given(meshd, cluster, tmp_path, sds_streams, pki, generic=False)
    before_rotation = history(meshd)[0]["revision"]

    chain2, key2 = pki("second")
    assert serial_of(chain2) != serial_of(chain)
    started = time.monotonic()
    applied = cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain2, key2, pki.root))
    assert f"secret/{NAME} configured" in applied.stdout, applied.stdout
    rotated = response_with(gw, [SDS_NAMES[0]], after=first.seq, what="the rotated certificate")
    took = time.monotonic() - started
    assert took < 10, took
    assert rotated.version != first.version and rotated.nonce != first.nonce, (first, rotated)
    assert_is(rotated.resources[SDS_NAMES[0]], chain2, key2)
    gw.wait_for(lambda c: c.acked[SECRET_TYPE][0] == rotated.version, 5, "the rotation ACKed")
    summary = wait_secret(meshd, lambda s: normal_serial(s["serial"]) == serial_of(chain2), what="the new serial")
    records = history(meshd)
    assert records[0]["changes"] == [{"action": "configured", "kind": "Secret", "name": NAME, "namespace": NS}], records[0]
    assert records[0]["revision"] > before_rotation

    # A rollback through meshd to before the rotation (and before a DestinationRule applied
    # after it) takes the DestinationRule back and leaves the Secret as kubectl made it.
    dr = meshd.apply(configs.destination_rule())["revision"]
    ctl(meshd, "rollback", "--to", str(before_rotation))
    wait_until(lambda: cluster.get("destinationrules", "default", "reviews") is None, 15,
               "the rollback deleting the DestinationRule")
    newest = wait_until(lambda: next((h for h in history(meshd)[:1] if h["operation"] == "rollback"), None), 15,
                        "the rollback recorded", describe=lambda: json.dumps(history(meshd)[:3]))
    assert newest["revision"] > dr, newest
    assert all(c["kind"] != "Secret" for c in newest["changes"]), newest
    data = cluster.get("secrets", NS, NAME)["data"]
    assert base64.b64decode(data["tls.crt"]).decode() == chain2.read_text()
    meshd.wait_pushed(newest["revision"])
    meshd.wait_synced(GATEWAY)
    assert normal_serial(secret_summary(meshd).json()["serial"]) == normal_serial(summary["serial"])
    for r in gw.secret_responses():
        if r.seq > rotated.seq and SDS_NAMES[0] in r.resources:
            assert_is(r.resources[SDS_NAMES[0]], chain2, key2)


# ------------------------------------------------------------------ 5: meshd's secrets API

def test_meshds_secrets_api_shows_the_public_half_refuses_writes_and_records_kubectls_delete(kube_meshd, cluster, pki):
    meshd = kube_meshd
    chain, key = pki("first")
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain, key, pki.root))
    summary = wait_secret(meshd)
    assert normal_serial(summary["serial"]) == serial_of(chain), summary
    assert summary["subject"] == "CN=reviews.example.com,O=meshd-interop", summary
    assert (summary["namespace"], summary["name"], summary["type"], summary["clientCA"], summary["subjectAltNames"]) == (
        NS, NAME, "kubernetes.io/tls", True, ["reviews.example.com"]), summary
    assert not {"key", "tls.key", "privateKey", "material"} & set(summary), summary
    listed = meshd.request("GET", "/api/v1/secrets", headers=token(meshd)).json()["items"]
    assert [(s["namespace"], s["name"]) for s in listed] == [(NS, NAME)], listed
    needles = key_needles(key)
    shown = {"GET secret": secret_summary(meshd).text, "GET secrets": json.dumps(listed)}
    assert not leaks(shown, needles), leaks(shown, needles)
    revision = history(meshd)[0]["revision"]
    stored = cluster.get("secrets", NS, NAME)

    # Writes through meshd are refused, naming kubectl; nothing changes anywhere.
    chain2, key2 = pki("second")
    p = run_meshctl(meshd.admin_url, "--data-dir", meshd.data_dir, "create", "secret", "tls", NAME, "--cert", chain2,
                    "--key", key2, "-n", NS, check=False)
    assert p.returncode != 0 and "kubectl" in printed(p), printed(p)
    body = json.dumps({"type": "kubernetes.io/tls", "certificate": chain2.read_text(), "key": key2.read_text()})
    r = meshd.request("PUT", f"/api/v1/secrets/{NS}/{NAME}", body, "application/json", headers=token(meshd))
    assert r.status == 422, r
    error = r.json()["error"]
    assert error["code"] == "refused" and "kubectl" in error["message"], error
    assert not leaks({"PUT answer": r.text, "meshctl": printed(p)}, {**needles, **key_needles(key2)})
    assert history(meshd)[0]["revision"] == revision
    assert cluster.get("secrets", NS, NAME)["data"] == stored["data"]
    assert normal_serial(secret_summary(meshd).json()["serial"]) == serial_of(chain)

    # kubectl deletes it: gone from meshd, recorded as the Secret's deletion.
    cluster.kubectl("delete", "secret", NAME, "-n", NS)
    wait_until(lambda: secret_summary(meshd).status == 404, 15, "the deleted Secret gone from meshd",
               describe=lambda: meshd.tail(30))
    gone = history(meshd)[0]
    assert gone["changes"] == [{"action": "deleted", "kind": "Secret", "name": NAME, "namespace": NS}], gone
    assert gone["revision"] > revision
    recorded = ledger(cluster)[gone["revision"]]
    assert [(c["action"], c["kind"], c["namespace"], c["name"], c["after"]) for c in recorded["changes"]] == [
        ("deleted", "Secret", NS, NAME, None)], recorded
    assert normal_serial(recorded["changes"][0]["before"]["spec"]["certificate"]["serial"]) == serial_of(chain), recorded
    assert f"Secret {NS}/{NAME} deleted" in ctl(meshd, "history").stdout


# ------------------------------------------------------------------ 6: an unusable Secret

def test_a_secret_whose_key_does_not_match_is_not_served_and_is_logged(kube_meshd, cluster, tmp_path, sds_streams, pki):
    meshd = kube_meshd
    chain, key = pki("first")
    _, wrong = pki("wrong")
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(BAD, chain, wrong, pki.root))
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain, key, pki.root))
    wait_secret(meshd)   # the good one seen: the bad one before it, on the same watch
    line = wait_log(meshd, " warning ", "not a usable gateway credential", BAD)
    assert f"{NS}/{BAD}" in line and "does not match" in line, line
    assert secret_summary(meshd, BAD).status == 404
    listed = meshd.request("GET", "/api/v1/secrets", headers=token(meshd)).json()["items"]
    assert [s["name"] for s in listed] == [NAME], listed
    assert not leaks({"meshd log": "\n".join(meshd.lines)}, key_needles(wrong))

    apply_gateway(cluster, meshd, NAME, BAD)
    bad_names = [f"kubernetes://{BAD}", f"kubernetes://{BAD}-cacert"]
    gw = open_gateway(meshd, tmp_path, sds_streams, SDS_NAMES + bad_names)
    response_with(gw, SDS_NAMES)
    time.sleep(1.0)   # a bounded window for the unusable one
    assert not set(bad_names) & set(gw.secrets()), gw.describe()

    # Fixed by kubectl: served.
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(BAD, chain, key, pki.root))
    fixed = response_with(gw, [bad_names[0]], what="the fixed credential")
    assert_is(fixed.resources[bad_names[0]], chain, key)


# ------------------------------------------------------------------ 7: the key in no record

def test_the_key_is_in_no_history_record_diff_or_ledger_configmap(kube_meshd, cluster, tmp_path, sds_streams, pki):
    meshd = kube_meshd
    chain, key = pki("first")
    chain2, key2 = pki("second")
    needles = {**key_needles(key), **key_needles(key2)}
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain, key, pki.root))
    created = wait_secret(meshd)
    apply_gateway(cluster, meshd, NAME)
    gw = open_gateway(meshd, tmp_path, sds_streams, SDS_NAMES)
    first = response_with(gw, SDS_NAMES)
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain2, key2, pki.root, generic=True))
    response_with(gw, [SDS_NAMES[0]], after=first.seq, what="the rotated certificate")
    wait_secret(meshd, lambda s: s["serial"] != created["serial"], what="the rotation in meshd")
    # Both keys really went out (so a miss below is not for want of material) and really are
    # in the stand-in's Secret objects (so the needles would find them in a ConfigMap).
    on_stream = "".join(r.raw.SerializeToString().decode("latin-1") for r in gw.responses)
    assert all(n in on_stream for w, n in needles.items() if "PEM line" in w), "the keys were never sent"
    assert leaks({"the stand-in's Secret": json.dumps(cluster.get("secrets", NS, NAME))}, key_needles(key2))
    cluster.kubectl("delete", "secret", NAME, "-n", NS)
    wait_until(lambda: secret_summary(meshd).status == 404, 15, "the deleted Secret gone from meshd")

    records = meshd.request("GET", "/api/v1/history?limit=100").json()["items"]
    secret_records = sorted(h["revision"] for h in records if any(c["kind"] == "Secret" for c in h["changes"]))
    assert len(secret_records) == 3, records
    created_at, rotated_at, deleted_at = secret_records
    oldest = min(h["revision"] for h in records)
    surfaces = {"GET /api/v1/history": json.dumps(records)}
    # (The kubernetes store compares from its oldest ledger entry on: from=0 is 410 historyPruned.)
    for a, b in [(oldest, deleted_at), (oldest, rotated_at), (created_at, rotated_at), (rotated_at, deleted_at)]:
        r = meshd.request("GET", f"/api/v1/history/diff?from={a}&to={b}")
        assert r.status == 200, (a, b, r)
        surfaces[f"GET /api/v1/history/diff?from={a}&to={b}"] = r.text
    assert "material" in surfaces[f"GET /api/v1/history/diff?from={created_at}&to={rotated_at}"]
    surfaces["meshctl diff"] = ctl(meshd, "diff", str(created_at), str(rotated_at)).stdout
    surfaces["meshctl history -o json"] = ctl(meshd, "history", "-o", "json").stdout
    configmaps = cluster.state("configmaps")
    ledger_maps = {f"ConfigMap {ns}/{name}": json.dumps(obj) for (ns, name), obj in configmaps.items()
                   if name.startswith("meshd-history-")}
    assert len(ledger_maps) == len(records) and set(ledger(cluster)) >= set(secret_records), sorted(ledger_maps)
    surfaces.update({f"ConfigMap {ns}/{name}": json.dumps(obj) for (ns, name), obj in configmaps.items()})
    surfaces["meshd log"] = "\n".join(meshd.lines)
    found = leaks(surfaces, needles)
    assert not found, "key material where it must not be:\n" + "\n".join(found)


# ------------------------------------------------------------------ 8: only what a Gateway names

def test_a_secret_no_gateway_names_is_not_recorded_until_one_does(kube_meshd, cluster, pki):
    """A cluster's other TLS Secrets (cert-manager's, say) stay out of meshd's history; a Gateway
    naming one brings it in, and dropping the name takes it out again."""
    meshd = kube_meshd
    chain, key = pki("first")
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret("unrelated", chain, key, pki.root))
    cluster.kubectl("apply", "-f", "-", stdin=tls_secret(NAME, chain, key, pki.root))
    wait_secret(meshd)   # the named one recorded: the other came first on the same watch
    assert secret_summary(meshd, "unrelated").status == 404
    assert not any(c["name"] == "unrelated" for h in history(meshd) for c in h["changes"]), history(meshd)

    apply_gateway(cluster, meshd, NAME, "unrelated")
    wait_secret(meshd, name="unrelated")
    apply_gateway(cluster, meshd, NAME)
    wait_until(lambda: secret_summary(meshd, "unrelated").status == 404, 15, "the Secret no Gateway names any more left out")
    assert secret_summary(meshd).status == 200
