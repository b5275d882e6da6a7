"""meshd `--store kubernetes` end to end (issue 26): Istio's own objects in the Kubernetes API are
the configuration, applied with kubectl 1.32 or through meshd, against the stand-in API server
(kube_apiserver.py: the Istio CRDs of deploy/kubernetes/istio-crds.yaml installed, strict field
validation, status subresources, managedFields, Leases) with grpcio's real xDS client.

- kubectl apply of the canary's DestinationRule and VirtualService moves grpcio's traffic 50/50,
  then to v2 under load without a failed RPC; `meshctl get` and `kubectl get` show the same
  objects; a rollback through meshctl is visible to kubectl and moves the traffic back;
- writes through meshd reach the API server under the field manager `meshd:ACTOR` and the
  history ledger (ConfigMaps meshd-history-N) names who made each change, kubectl's included;
  a stale `metadata.resourceVersion` is a 409 and changes nothing;
- two replicas: one holds the Lease meshd-leader and records; both serve the same revision;
  the leader killed, the other takes the Lease within its duration and records the next change;
- a restarted meshd serves the same revisions and history from the ledger.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time

import pytest

import configs
import scenarios
from kube_apiserver import KubeApiServer
from kube_fixtures import KubeView, attach, namespace, reviews_objects, wait_until, webhook_address
from meshd_process import run_meshctl
from results import record_result
from test_kube_registry import POD_IPS, pod_pair  # noqa: F401  (the fixture: v1 on 127.0.0.2, v2 on 127.0.0.3)

ADMIN_TOKEN = "meshd-config-token"
SYSTEM_NAMESPACE = "mesh-system"
HOST = configs.HOST
LEASE_SECONDS = 15


def repo_file(*parts: str) -> str:
    from pathlib import Path
    return str(Path(__file__).resolve().parents[2].joinpath(*parts))


@pytest.fixture
def cluster(request, tmp_path):
    """The stand-in with the Istio CRDs and meshd's namespace; `cluster.kubectl(*args, stdin=)`."""
    work = tmp_path / "kube-apiserver"
    work.mkdir()
    api = KubeApiServer(tokens={ADMIN_TOKEN}, bookmark_interval=0.3, history_size=5000, workdir=str(work))
    api.start()
    attach(request, "stand-in API server: last requests",
           lambda: "\n".join(f"{m} {p} -> {s}" for m, p, s in list(api.requests)[-80:]))
    try:
        api.install_crds(repo_file("deploy", "kubernetes", "istio-crds.yaml"))
        api.create(namespace(SYSTEM_NAMESPACE))
        kubeconfig = api.kubeconfig(str(tmp_path / "kubeconfig"), ADMIN_TOKEN)

        def kubectl(*args, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
            p = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], input=stdin, capture_output=True,
                               text=True, timeout=30)
            if check:
                assert p.returncode == 0, f"kubectl {' '.join(args)} exited {p.returncode}: {p.stdout}{p.stderr}"
            return p
        api.kubectl = kubectl
        api.kubeconfig_path = kubeconfig
        yield api
    finally:
        api.stop()


@pytest.fixture
def config_meshd(cluster, meshd_factory):
    """Factory: a meshd with `--store kubernetes --registry kubernetes` on the stand-in."""
    def start(replica: str = "meshd-a", data_dir=None):
        return meshd_factory(
            extra_args=["--store", "kubernetes", "--registry", "kubernetes", "--kubeconfig", cluster.kubeconfig_path,
                        "--replica-name", replica, "--system-namespace", SYSTEM_NAMESPACE, "--webhook-port", "0"],
            data_dir=data_dir, name=replica)
    return start


def history(meshd) -> list[dict]:
    r = meshd.request("GET", "/api/v1/history?limit=100")
    assert r.status == 200, r
    return r.json()["items"]


def ledger(cluster) -> dict:
    """revision -> the ledger ConfigMap's record (decoded), from the stand-in's state."""
    out = {}
    for (ns, name), obj in cluster.state("configmaps").items():
        if ns == SYSTEM_NAMESPACE and name.startswith("meshd-history-"):
            out[int(name.rsplit("-", 1)[1])] = json.loads(obj["data"]["record"])
    return out


def lease_holder(cluster) -> str | None:
    lease = cluster.get("leases", SYSTEM_NAMESPACE, "meshd-leader")
    return (lease or {}).get("spec", {}).get("holderIdentity") or None


def wait_revision(meshd, kind: str, name: str, predicate, what: str, timeout: float = 15.0) -> dict:
    """meshd's GET of one resource until predicate(resource) holds."""
    found = {}

    def check():
        r = meshd.get_raw(kind, "default", name)
        found["r"] = r
        return r.status == 200 and predicate(r.json())
    wait_until(check, timeout, what, describe=lambda: f"last answer: {found.get('r')}\n{meshd.tail(30)}")
    return found["r"].json()


def weights(resource: dict) -> dict:
    return {d["destination"]["subset"]: d.get("weight", 0) for d in resource["spec"]["http"][0]["route"]}


def test_kubectl_canary_and_a_meshctl_rollback(cluster, config_meshd, pod_pair, xds_clients, node_id, tmp_path):
    """kubectl applies the canary; grpcio's traffic follows 50/50 -> 0/100 under load with no
    failed RPC; meshctl and kubectl show the same objects; meshctl's rollback reaches kubectl."""
    port = pod_pair["v1"].port
    for obj in reviews_objects(port, POD_IPS):
        cluster.create(obj)
    meshd = config_meshd()
    KubeView(meshd).wait_endpoints(HOST, lambda eps: len(eps) == 2, what="reviews' two pods in the registry")

    canary = tmp_path / "canary.yaml"
    canary.write_text(configs.join(configs.destination_rule(), configs.virtual_service({"v1": 50, "v2": 50})))
    out = cluster.kubectl("apply", "-f", str(canary)).stdout
    assert "destinationrule.networking.istio.io/reviews created" in out and "virtualservice.networking.istio.io/reviews created" in out, out
    vs = wait_revision(meshd, "virtualservices", "reviews", lambda r: weights(r) == {"v1": 50, "v2": 50}, "the 50/50 VirtualService in meshd")
    split_revision = int(vs["metadata"]["resourceVersion"])
    meshd.wait_pushed(split_revision)

    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)
    split = scenarios.even_split(client, 1000)
    record_result("kube-config", "kubectl apply 50/50: " + scenarios.fmt(split))

    client.start_loop("load")

    def kubectl_weights(w: dict):
        state = {}

        def apply():
            state["before"] = meshd.acked_versions(meshd.proxy_status(proxy))
            cluster.kubectl("apply", "-f", "-", stdin=configs.virtual_service(w))

        def synced():
            meshd.wait_synced(proxy, changed_from=state["before"])
        return apply, synced

    to_v2 = scenarios.shift(client, *kubectl_weights({"v1": 0, "v2": 100}), expect="v2", label="kubectl-to-v2")
    record_result("kube-config", "kubectl apply 0/100: " + scenarios.fmt(to_v2["after"]))

    # meshctl and kubectl show the same objects.
    mine = json.loads(run_meshctl(meshd.admin_url, "get", "vs", "reviews", "-n", "default", "-o", "json").stdout)
    theirs = json.loads(cluster.kubectl("get", "vs", "reviews", "-n", "default", "-o", "json").stdout)
    assert mine["spec"] == theirs["spec"] and weights(mine) == {"v1": 0, "v2": 100}, (mine, theirs)
    assert mine["apiVersion"] == theirs["apiVersion"] == "networking.istio.io/v1"
    listed = {o["metadata"]["name"] for o in json.loads(cluster.kubectl("get", "dr", "-A", "-o", "json").stdout)["items"]}
    assert listed == {"reviews"}

    # History names kubectl; the rollback goes through meshctl and reaches the API server.
    actors = {h["actor"] for h in history(meshd)}
    assert "kubernetes:kubectl-client-side-apply" in actors, actors
    state = {"before": meshd.acked_versions(meshd.proxy_status(proxy))}

    def rollback():
        run_meshctl(meshd.admin_url, "rollback", "--to", str(split_revision))

    def rolled_back_synced():
        meshd.wait_synced(proxy, changed_from=state["before"])
    window = client.stop_loop()
    scenarios.assert_no_failures(window, "load while kubectl moved the traffic")
    rollback()
    rolled_back_synced()
    theirs = json.loads(cluster.kubectl("get", "vs", "reviews", "-n", "default", "-o", "json").stdout)
    assert weights(theirs) == {"v1": 50, "v2": 50}, theirs
    # kubectl hides managedFields; the server's object has them.
    managers = {e["manager"] for e in cluster.get("virtualservices", "default", "reviews")["metadata"].get("managedFields", [])}
    assert any(m.startswith("meshd:") for m in managers), managers
    newest = history(meshd)[0]
    assert newest["operation"] == "rollback" and newest.get("rolledBackTo") == split_revision, newest
    back = scenarios.even_split(client, 1000)
    record_result("kube-config", "meshctl rollback to 50/50: " + scenarios.fmt(back))


def test_writes_through_meshd_and_their_history(cluster, config_meshd):
    """meshd's apply and delete reach the API server; the ledger records kubectl's changes and
    meshd's alike, with their actors; a stale resourceVersion is refused whole."""
    meshd = config_meshd()
    applied = meshd.apply(configs.destination_rule())
    assert [r["action"] for r in applied["results"]] == ["created"], applied
    dr = json.loads(cluster.kubectl("get", "dr", "reviews", "-n", "default", "-o", "json").stdout)
    assert [s["name"] for s in dr["spec"]["subsets"]] == ["v1", "v2"], dr
    stored = cluster.get("destinationrules", "default", "reviews")["metadata"]
    # The spec's manager; the leader may already have written status (meshd-status) too.
    assert {e["manager"] for e in stored["managedFields"] if e.get("subresource") != "status"} == {"meshd:loopback 127.0.0.1"}, stored

    # kubectl changes it; meshd sees the change at a new revision, recorded for kubectl.
    edited = configs.destination_rule(subsets=("v1", "v2", "v3"))
    cluster.kubectl("apply", "-f", "-", stdin=edited)
    got = wait_revision(meshd, "destinationrules", "reviews", lambda r: len(r["spec"]["subsets"]) == 3, "kubectl's edit in meshd")
    assert int(got["metadata"]["resourceVersion"]) > applied["revision"]

    # meshd's view of the revision before kubectl's edit is stale: 409, nothing changed.
    stale = configs.destination_rule().replace("name: reviews\n", f"name: reviews\n  resourceVersion: \"{applied['revision']}\"\n", 1)
    r = meshd.apply_raw(stale)
    assert r.status == 409, r
    assert len(json.loads(cluster.kubectl("get", "dr", "reviews", "-n", "default", "-o", "json").stdout)["spec"]["subsets"]) == 3

    # kubectl deletes it: gone from meshd, recorded as a deletion.
    cluster.kubectl("delete", "dr", "reviews", "-n", "default")
    wait_until(lambda: meshd.get_raw("destinationrules", "default", "reviews").status == 404, 15, "kubectl's delete in meshd")
    records = history(meshd)
    assert [(h["operation"], h["actor"]) for h in records[:3]] == [
        ("delete", "kubernetes"), ("apply", "kubernetes:kubectl-client-side-apply"), ("apply", "loopback 127.0.0.1")], records
    # The ledger in the API server is what history shows.
    assert sorted(ledger(cluster)) == sorted(h["revision"] for h in records)


def test_two_replicas_share_one_ledger_and_the_lease_moves(cluster, config_meshd, ads_clients, node_id):
    """Two replicas on one API server: one holds the Lease and records; both serve the same
    revision; each lists the other's proxies; the holder killed, the other takes the Lease within
    its duration, records and writes status."""
    a = config_meshd("meshd-a")
    wait_until(lambda: lease_holder(cluster) == "meshd-a", 10, "meshd-a holding the Lease")
    b = config_meshd("meshd-b")
    cluster.kubectl("apply", "-f", "-", stdin=configs.destination_rule())
    for m in (a, b):
        wait_revision(m, "destinationrules", "reviews", lambda r: True, f"{m.name} serving kubectl's DestinationRule")
    rev_a = a.get("destinationrules", "default", "reviews")["metadata"]["resourceVersion"]
    rev_b = b.get("destinationrules", "default", "reviews")["metadata"]["resourceVersion"]
    assert rev_a == rev_b, (rev_a, rev_b)
    applied = b.apply(configs.virtual_service({"v1": 100}))   # written through the follower
    for m in (a, b):
        m.wait_pushed(applied["revision"])
    assert a.push_status()["revision"] == b.push_status()["revision"] == applied["revision"]
    assert lease_holder(cluster) == "meshd-a"

    # A proxy on meshd-b is listed by meshd-a too, tagged with its replica.
    proxy = node_id("envoy")
    ads_clients(b.xds_address, f"sidecar~127.0.0.9~{proxy}.default~default.svc.cluster.local")

    def listed_by_a():
        return [e for e in a.syncz() if proxy in str(e.get("proxyID"))]
    wait_until(listed_by_a, 15, "meshd-b's proxy in meshd-a's /debug/syncz", describe=lambda: json.dumps(a.syncz())[:2000] + "\nmeshd-b: " + json.dumps(b.syncz())[:1500])
    assert {e.get("replica") for e in listed_by_a()} == {"meshd-b"}, listed_by_a()

    # /debug/ledger on each: the same head, one of them leading.
    ledgers = {m.name: m.request("GET", "/debug/ledger").json() for m in (a, b)}
    assert [l["leader"]["leading"] for l in ledgers.values()] == [True, False], ledgers
    assert {l["head"] for l in ledgers.values()} == {applied["revision"]}, ledgers
    assert all(l["enabled"] and l["leader"]["holder"] == "meshd-a" and not l["problems"] for l in ledgers.values()), ledgers

    killed_at = time.monotonic()
    a.kill9()
    wait_until(lambda: lease_holder(cluster) == "meshd-b", LEASE_SECONDS + 10, "meshd-b taking over the Lease")
    took = time.monotonic() - killed_at
    record_result("kube-config", f"leader killed: meshd-b took the Lease after {took:.1f}s (lease {LEASE_SECONDS}s)")
    assert took <= LEASE_SECONDS + 5, took
    cluster.kubectl("apply", "-f", "-", stdin=configs.virtual_service({"v2": 100}))
    got = wait_revision(b, "virtualservices", "reviews", lambda r: weights(r) == {"v2": 100}, "meshd-b recording after the takeover")
    assert int(got["metadata"]["resourceVersion"]) == applied["revision"] + 1
    # The new leader writes status too: no Service named reviews exists here, so IST0101.
    def codes():
        messages = ((cluster.get("virtualservices", "default", "reviews") or {}).get("status") or {}).get("validationMessages") or []
        return {m["type"]["code"] for m in messages}
    wait_until(lambda: "IST0101" in codes(), 15, "meshd-b writing the VirtualService's status", describe=lambda: b.tail(20))


def test_a_restarted_meshd_serves_the_same_revisions(cluster, config_meshd):
    meshd = config_meshd()
    meshd.apply(configs.destination_rule())
    served = meshd.apply(configs.virtual_service({"v1": 100}))["revision"]
    meshd.wait_pushed(served)
    before = history(meshd)
    meshd.stop()
    assert lease_holder(cluster) is None, "a stopping leader releases the Lease"
    meshd.start()
    assert history(meshd) == before
    assert meshd.wait_pushed(served)["revision"] == served


def webhook_configuration() -> dict:
    """deploy/kubernetes/meshd-kubernetes.yaml's ValidatingWebhookConfiguration, as shipped."""
    import yaml
    with open(repo_file("deploy", "kubernetes", "meshd-kubernetes.yaml")) as f:
        return next(d for d in yaml.safe_load_all(f) if d and d.get("kind") == "ValidatingWebhookConfiguration")


def negative_weight_vs() -> str:
    return configs.virtual_service({"v1": 100, "v2": 0}).replace("weight: 0", "weight: -1")


def test_kubectl_apply_is_checked_by_meshds_webhook(cluster, config_meshd):
    """The webhook configuration as shipped (Ignore, no caBundle) is patched by the leader; then
    kubectl's applies are refused with meshd's message and field path, or stored with meshd's
    warnings printed; a misspelled field is refused earlier by strict decoding."""
    cluster.create(webhook_configuration())
    meshd = config_meshd()
    host, port = webhook_address(meshd).rsplit(":", 1)
    cluster.add_webhook_service(SYSTEM_NAMESPACE, "meshd", f"{host}:{port}")

    def patched():
        hooks = cluster.get("validatingwebhookconfigurations", "", "meshd-validator")["webhooks"]
        return all(h.get("failurePolicy") == "Fail" and h.get("clientConfig", {}).get("caBundle") for h in hooks)
    wait_until(patched, 15, "the leader patching caBundle and failurePolicy: Fail")
    bundle = base64.b64decode(cluster.get("validatingwebhookconfigurations", "", "meshd-validator")["webhooks"][0]["clientConfig"]["caBundle"])
    assert bundle.decode().strip() == meshd.ca_root().strip()

    refused = cluster.kubectl("apply", "-f", "-", stdin=negative_weight_vs(), check=False)
    record_result("kube-config", f"kubectl apply of weight -1: exit {refused.returncode}: {refused.stderr.strip()}")
    assert refused.returncode != 0, refused
    assert 'admission webhook "validation.meshd.io" denied the request' in refused.stderr, refused.stderr
    assert "spec.http[0].route[1].weight" in refused.stderr, refused.stderr
    assert cluster.get("virtualservices", "default", "reviews") is None

    mirrored = configs.virtual_service({"v1": 100}).rstrip("\n") + "\n    mirror:\n      host: reviews.default.svc.cluster.local\n      subset: v2\n"
    warned = cluster.kubectl("apply", "-f", "-", stdin=mirrored)
    record_result("kube-config", f"kubectl apply with mirror: {warned.stderr.strip()}")
    assert "Warning:" in warned.stderr and "spec.http[0].mirror" in warned.stderr, warned.stderr
    wait_revision(meshd, "virtualservices", "reviews", lambda r: "mirror" in r["spec"]["http"][0], "the mirrored VirtualService in meshd")

    misspelled = configs.virtual_service({"v1": 100}).replace("weight:", "weigth:")
    typo = cluster.kubectl("apply", "-f", "-", stdin=misspelled, check=False)
    assert typo.returncode != 0 and 'unknown field "spec.http[0].route[0].weigth"' in typo.stderr, typo
    assert "mirror" in cluster.get("virtualservices", "default", "reviews")["spec"]["http"][0]
    calls = [(c["review"]["request"]["operation"], c["allowed"]) for c in cluster.admission_calls if c["webhook"] == "validation.meshd.io"]
    assert calls == [("CREATE", False), ("CREATE", True)], calls


def test_the_leader_writes_validation_messages_into_status(cluster, config_meshd):
    """A VirtualService naming a host that does not exist gets istioctl's IST0101 in its status
    (written by the Lease holder, as istiod does), with observedGeneration; fixed, it is cleared.
    Status writes record nothing in the ledger."""
    meshd = config_meshd()
    dangling = ("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\n"
                "spec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: ratings}\n")
    cluster.kubectl("apply", "-f", "-", stdin=dangling)

    def status():
        obj = cluster.get("virtualservices", "default", "reviews") or {}
        return obj.get("status") or {}
    wait_until(lambda: any(m["type"]["code"] == "IST0101" for m in status().get("validationMessages") or []), 15,
               "IST0101 in the VirtualService's status", describe=lambda: json.dumps(status()) + "\n" + meshd.tail(30))
    message = next(m for m in status()["validationMessages"] if m["type"]["code"] == "IST0101")
    assert message == {"type": {"code": "IST0101", "name": "ReferencedResourceNotFound"}, "level": "ERROR",
                       "documentationUrl": "https://istio.io/latest/docs/reference/config/analysis/ist0101/"}, message
    assert status()["observedGeneration"] == "1"
    revisions = len(history(meshd))

    cluster.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ratings", "namespace": "default"},
                    "spec": {"selector": {"app": "ratings"}, "ports": [{"name": "grpc-echo", "port": 9080, "targetPort": 9080}]}})
    wait_until(lambda: not status().get("validationMessages"), 15, "the status cleared once the host exists",
               describe=lambda: json.dumps(status()))
    assert len(history(meshd)) == revisions, "status writes must not be recorded as config changes"
