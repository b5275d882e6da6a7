"""Self-test of the stand-in Kubernetes API server (kube_apiserver.py) against real clients:
kubectl 1.32 (`KUBECTL` overrides the binary) and PyPI's `kubernetes` client. Needs no meshd.

Each test starts its own server (HTTPS, a generated CA, bearer tokens) and is bounded: kubectl
runs with a 10 s subprocess timeout, every watch has a server-side `timeoutSeconds` and a client
read timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from kube_apiserver import KubeApiServer

KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")
ADMIN = "admin-token"
AUD = "istio-ca"
SERVICE_ACCOUNTS = {
    "sa-token-reviews": ("shop", "reviews", [AUD]),
    "sa-token-k8s": ("shop", "ratings", ["https://kubernetes.default.svc.cluster.local"]),
}
needs_kubectl = pytest.mark.skipif(not KUBECTL, reason="kubectl not installed")


@pytest.fixture
def api(tmp_path):
    server = KubeApiServer(tokens={ADMIN, "second-token"}, service_accounts=SERVICE_ACCOUNTS,
                           bookmark_interval=0.3, history_size=500, workdir=str(tmp_path))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubeconfig(api, tmp_path):
    return api.kubeconfig(str(tmp_path / "kubeconfig"), ADMIN)


@pytest.fixture
def core(kubeconfig):
    c = config.new_client_from_config(config_file=kubeconfig)
    yield client.CoreV1Api(c)
    c.close()


def kubectl(kubeconfig, *args, check=True, timeout=10):
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    cache = os.path.join(os.path.dirname(kubeconfig), "kube-cache")
    p = subprocess.run([KUBECTL, "--cache-dir", cache, *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def pod(name, ns="default", labels=None, node="node-a"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "reviews"}},
            "spec": {"nodeName": node, "containers": [{"name": "app", "image": "example/app:1"}]}}


def ns(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def svc(name, ns="default"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"app": name}, "ports": [{"name": "grpc", "port": 9080}]}}


def slice_(name, ns="default", svc_name="reviews"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns, "labels": {"kubernetes.io/service-name": svc_name}},
            "addressType": "IPv4", "ports": [{"name": "grpc", "port": 9080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]}


# ------------------------------------------------------------------------------------------
# the kubernetes client: lists, pagination, selectors, versions


def test_auth_and_errors(api, kubeconfig, tmp_path):
    """A wrong token is 401 with a Status; a missing object is 404 NotFound; create twice is 409."""
    bad = config.new_client_from_config(config_file=api.kubeconfig(str(tmp_path / "bad"), "wrong"))
    with pytest.raises(ApiException) as e:
        client.CoreV1Api(bad).list_namespace(_request_timeout=5)
    assert e.value.status == 401 and json.loads(e.value.body)["reason"] == "Unauthorized"
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("nope", "default", _request_timeout=5)
    assert e.value.status == 404 and json.loads(e.value.body)["reason"] == "NotFound"
    core.create_namespaced_pod("default", pod("p1"), _request_timeout=5)
    with pytest.raises(ApiException) as e:
        core.create_namespaced_pod("default", pod("p1"), _request_timeout=5)
    assert e.value.status == 409 and json.loads(e.value.body)["reason"] == "AlreadyExists"
    with pytest.raises(ApiException) as e:  # no such namespace
        core.create_namespaced_pod("ghost", pod("p1", ns="ghost"), _request_timeout=5)
    assert e.value.status == 404


def test_create_update_conflict_and_status(api, core):
    """POST sets uid/creationTimestamp/resourceVersion; PUT with a stale version is 409; the main
    resource keeps its status, /status changes only status; versions grow by one per write."""
    created = core.create_namespaced_pod("default", pod("p1"), _request_timeout=5)
    assert created.metadata.uid and created.metadata.creation_timestamp
    rv1 = int(created.metadata.resource_version)
    assert rv1 == api.resource_version
    created.metadata.labels["v"] = "2"
    updated = core.replace_namespaced_pod("p1", "default", created, _request_timeout=5)
    assert int(updated.metadata.resource_version) == rv1 + 1
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_pod("p1", "default", created, _request_timeout=5)  # rv1: stale
    assert e.value.status == 409 and json.loads(e.value.body)["reason"] == "Conflict"
    # status through the main resource is ignored, through /status it is taken
    updated.status = client.V1PodStatus(phase="Running")
    same = core.replace_namespaced_pod("p1", "default", updated, _request_timeout=5)
    assert same.status.phase == "Pending" and same.metadata.resource_version == updated.metadata.resource_version
    body = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    ready = core.patch_namespaced_pod_status("p1", "default", body, _request_timeout=5)
    assert ready.status.phase == "Running" and ready.status.conditions[0].status == "True"
    assert ready.metadata.labels == {"app": "reviews", "v": "2"}
    assert api.state("pods")[("default", "p1")]["status"]["conditions"][0]["type"] == "Ready"
    deleted = core.delete_namespaced_pod("p1", "default", _request_timeout=5)
    assert api.get("pods", "default", "p1") is None and deleted is not None


def test_pagination_is_a_consistent_snapshot(api, core):
    """limit/continue pages all come from the first page's snapshot although writes happen between
    pages; the next fresh list sees the writes; a continue token past the history window is 410."""
    for i in range(25):
        api.create(pod(f"p{i:02d}"))
    first = core.list_namespaced_pod("default", limit=10, _request_timeout=5)
    snap = first.metadata.resource_version
    assert len(first.items) == 10 and first.metadata._continue and first.metadata.remaining_item_count == 15
    names = [p.metadata.name for p in first.items]
    cont = first.metadata._continue
    pages = 1
    while cont:
        # writes between pages: a delete of an unseen pod, a new one, a change to an unseen one
        api.delete("pods", "default", f"p{24 - pages:02d}")
        api.create(pod(f"zz-new-{pages}"))
        api.patch("pods", "default", f"p{20 - pages:02d}", {"metadata": {"labels": {"changed": "yes"}}})
        page = core.list_namespaced_pod("default", limit=10, _continue=cont, _request_timeout=5)
        assert page.metadata.resource_version == snap
        for p in page.items:
            assert "changed" not in (p.metadata.labels or {}), p.metadata.name
        names += [p.metadata.name for p in page.items]
        cont = page.metadata._continue
        pages += 1
    assert names == [f"p{i:02d}" for i in range(25)] and pages == 3
    fresh = core.list_namespaced_pod("default", _request_timeout=5)
    assert int(fresh.metadata.resource_version) == api.resource_version > int(snap)
    fresh_names = {p.metadata.name for p in fresh.items}
    assert "zz-new-1" in fresh_names and "p23" not in fresh_names
    # an expired token
    first = core.list_namespaced_pod("default", limit=5, _request_timeout=5)
    api.create(pod("after-snapshot"))
    api.compact()
    with pytest.raises(ApiException) as e:
        core.list_namespaced_pod("default", limit=5, _continue=first.metadata._continue, _request_timeout=5)
    assert e.value.status == 410 and json.loads(e.value.body)["reason"] == "Expired"


def test_resource_version_match_exact_and_too_large(api, core):
    api.create(pod("a"))
    old = api.resource_version
    api.create(pod("b"))
    api.patch("pods", "default", "a", {"metadata": {"labels": {"app": "x"}}})
    at = core.list_namespaced_pod("default", resource_version=str(old), resource_version_match="Exact",
                                  _request_timeout=5)
    assert [p.metadata.name for p in at.items] == ["a"] and at.items[0].metadata.labels == {"app": "reviews"}
    assert at.metadata.resource_version == str(old)
    latest = core.list_namespaced_pod("default", resource_version="0", _request_timeout=5)
    assert len(latest.items) == 2 and int(latest.metadata.resource_version) == api.resource_version
    with pytest.raises(ApiException) as e:
        core.list_namespaced_pod("default", resource_version=str(api.resource_version + 100), _request_timeout=5)
    assert e.value.status == 504
    api.compact()
    with pytest.raises(ApiException) as e:
        core.list_namespaced_pod("default", resource_version=str(old), resource_version_match="Exact",
                                 _request_timeout=5)
    assert e.value.status == 410


def test_selectors(api, core):
    api.create(ns("shop"))
    api.create(pod("a", labels={"app": "reviews", "version": "v1"}))
    api.create(pod("b", labels={"app": "reviews", "version": "v2"}, node="node-b"))
    api.create(pod("c", labels={"app": "ratings"}))
    api.create(pod("d", ns="shop", labels={"app": "reviews", "canary": "true"}))

    def names(**kw):
        return sorted(f"{p.metadata.namespace}/{p.metadata.name}"
                      for p in core.list_pod_for_all_namespaces(_request_timeout=5, **kw).items)
    assert names(label_selector="app=reviews") == ["default/a", "default/b", "shop/d"]
    assert names(label_selector="app==reviews,version!=v1") == ["default/b", "shop/d"]
    assert names(label_selector="version in (v1, v2)") == ["default/a", "default/b"]
    assert names(label_selector="version notin (v1)") == ["default/b", "default/c", "shop/d"]
    assert names(label_selector="!version") == ["default/c", "shop/d"]
    assert names(label_selector="canary") == ["shop/d"]
    assert names(field_selector="metadata.name=b") == ["default/b"]
    assert names(field_selector="metadata.namespace!=default") == ["shop/d"]
    assert names(field_selector="spec.nodeName=node-b,metadata.namespace=default") == ["default/b"]
    with pytest.raises(ApiException) as e:
        names(field_selector="spec.unknown=x")
    assert e.value.status == 400
    with pytest.raises(ApiException) as e:
        names(label_selector="a in (x")
    assert e.value.status == 400


# ------------------------------------------------------------------------------------------
# the kubernetes client: watches


def test_watch_events_bookmarks_and_resume(api, core):
    """Watch().stream sees ADDED/MODIFIED/DELETED in order and BOOKMARKs with only a version;
    after the stream ends, a watch from the last bookmark's version gets exactly what was missed."""
    listed = core.list_namespaced_pod("default", _request_timeout=5)
    rv = listed.metadata.resource_version

    def writes():
        time.sleep(0.2)
        api.create(pod("w1"))
        api.patch("pods", "default", "w1", {"metadata": {"labels": {"x": "1"}}})
        api.create(svc("not-a-pod"))
        api.delete("pods", "default", "w1")
    threading.Thread(target=writes, daemon=True).start()
    w = watch.Watch()
    seen, bookmarks = [], []
    for ev in w.stream(core.list_namespaced_pod, "default", resource_version=rv, allow_watch_bookmarks=True,
                       timeout_seconds=2, _request_timeout=5):
        if ev["type"] == "BOOKMARK":
            bookmarks.append(ev["raw_object"])
        else:
            seen.append((ev["type"], ev["object"].metadata.name, int(ev["object"].metadata.resource_version)))
    assert [(t, n) for t, n, _ in seen] == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]
    versions = [v for _, _, v in seen]
    assert versions == sorted(versions) and versions[-1] == api.resource_version  # DELETED carries the deletion's rv
    assert bookmarks, "no BOOKMARK in 2 s at a 0.3 s interval"
    assert all(set(b) == {"kind", "apiVersion", "metadata"} and set(b["metadata"]) == {"resourceVersion"}
               for b in bookmarks)
    last_bookmark = bookmarks[-1]["metadata"]["resourceVersion"]
    assert int(last_bookmark) == api.resource_version
    # missed while not watching, then resumed from the bookmark
    api.create(pod("m1"))
    api.create(pod("m2"))
    resumed = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=last_bookmark, timeout_seconds=1, _request_timeout=5)]
    assert resumed == [("ADDED", "m1"), ("ADDED", "m2")]
    # no resourceVersion: the current objects as ADDED first
    initial = [(e["type"], e["object"].metadata.name) for e in watch.Watch().stream(
        core.list_namespaced_pod, "default", timeout_seconds=1, _request_timeout=5)]
    assert initial == [("ADDED", "m1"), ("ADDED", "m2")]


def test_watch_selector_enter_and_leave(api, core):
    api.create(pod("p", labels={"app": "reviews"}))
    rv = str(api.resource_version)

    def writes():
        time.sleep(0.2)
        api.patch("pods", "default", "p", {"metadata": {"labels": {"app": "other"}}})
        api.patch("pods", "default", "p", {"metadata": {"labels": {"app": "reviews"}}})
        api.patch("pods", "default", "p", {"metadata": {"labels": {"extra": "1"}}})
    threading.Thread(target=writes, daemon=True).start()
    events = [(e["type"], e["object"].metadata.labels.get("app")) for e in watch.Watch().stream(
        core.list_namespaced_pod, "default", label_selector="app=reviews", resource_version=rv,
        timeout_seconds=1, _request_timeout=5)]
    assert events == [("DELETED", "other"), ("ADDED", "reviews"), ("MODIFIED", "reviews")]


def test_watch_410_leads_to_relist(api, core):
    """A reflector loop: list, watch; the history is compacted and the watch fails with 410; the
    client's Watch raises ApiException(410), the loop relists and sees every object."""
    api.create(pod("a"))
    listed = core.list_namespaced_pod("default", _request_timeout=5)
    rv = listed.metadata.resource_version
    api.create(pod("b"))
    api.compact()  # rv is now older than the window
    # a raw look at the wire: one ERROR event with a 410 Status, then the end of the stream
    resp = core.list_namespaced_pod("default", watch=True, resource_version=rv, timeout_seconds=5,
                                    _preload_content=False, _request_timeout=5)
    lines = [json.loads(l) for l in resp.data.decode().splitlines()]
    assert [l["type"] for l in lines] == ["ERROR"]
    status = lines[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"
    assert "too old resource version" in status["message"]
    # the client: without timeout_seconds it retries once at the same version, then raises
    with pytest.raises(ApiException) as e:
        for _ in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=rv, _request_timeout=5):
            pass
    assert e.value.status == 410
    relisted = core.list_namespaced_pod("default", _request_timeout=5)
    assert sorted(p.metadata.name for p in relisted.items) == ["a", "b"]
    # an open watch told 410 by the storm hook
    done = []

    def watcher():
        try:
            for _ in watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=5,
                                          resource_version=relisted.metadata.resource_version, _request_timeout=8):
                pass
        except ApiException as exc:
            done.append(exc.status)
    t = threading.Thread(target=watcher, daemon=True)
    t.start()
    wait_for(lambda: api.open_watches() == 1)
    api.fail_watches(410)
    t.join(5)
    assert done == [410]


def wait_for(cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_watch_timeout_and_storm_hooks(api, core):
    """timeoutSeconds ends the stream; end_watches ends it at once; reset_watches cuts it mid-event;
    pause holds events (bookmarks still flow) and releases them in order afterwards."""
    t0 = time.monotonic()
    assert list(watch.Watch().stream(core.list_namespaced_pod, "default", resource_version="1",
                                     timeout_seconds=1, _request_timeout=5)) == []
    assert 0.9 < time.monotonic() - t0 < 3

    def run(results, **kw):
        try:
            for e in watch.Watch().stream(core.list_namespaced_pod, "default", timeout_seconds=8,
                                          resource_version=str(api.resource_version), _request_timeout=10, **kw):
                results.append(e["type"])
            results.append("end")
        except Exception as exc:
            results.append(type(exc).__name__)

    # end_watches: a clean end (the client then stops: timeout_seconds disables its retry)
    out = []
    t = threading.Thread(target=run, args=(out,), daemon=True)
    t.start()
    wait_for(lambda: api.open_watches() == 1)
    t0 = time.monotonic()
    api.end_watches()
    t.join(5)
    assert out == ["end"] and time.monotonic() - t0 < 2
    # reset_watches: half an event then the socket closed: the client sees an error, not an event
    out = []
    t = threading.Thread(target=run, args=(out,), daemon=True)
    t.start()
    wait_for(lambda: api.open_watches() == 1)
    api.reset_watches()
    t.join(5)
    assert len(out) == 1 and out[0] not in ("end", "BOOKMARK"), out
    # pause: nothing but bookmarks for the pause, then the held events in order
    api.pause(1.0)
    out = []
    t = threading.Thread(target=run, args=(out,), kwargs={"allow_watch_bookmarks": True}, daemon=True)
    t.start()
    wait_for(lambda: api.open_watches() == 1)
    api.create(pod("held"))
    time.sleep(0.7)
    assert "ADDED" not in out and "BOOKMARK" in out
    wait_for(lambda: "ADDED" in out, timeout=3)
    api.end_watches()
    t.join(5)


def test_restart_unreachable_and_delay(api, core):
    api.create(pod("kept"))
    rv = api.resource_version
    api.restart(keep_state=True)
    assert [p.metadata.name for p in core.list_namespaced_pod("default", _request_timeout=5).items] == ["kept"]
    api.create(pod("after"))
    assert [e["object"].metadata.name for e in watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=str(rv), timeout_seconds=1,
        _request_timeout=5)] == ["after"]
    api.restart(keep_state=False)
    assert core.list_namespaced_pod("default", _request_timeout=5).items == []
    with pytest.raises(ApiException) as e:
        for _ in watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=str(rv),
                                      timeout_seconds=2, _request_timeout=5):
            pass
    assert e.value.status == 410
    api.unreachable()
    with pytest.raises(Exception) as e:
        core.list_namespaced_pod("default", _request_timeout=2, _preload_content=True)
    assert not isinstance(e.value, ApiException)  # a connection error, not an HTTP answer
    api.reachable()
    assert core.list_namespace(_request_timeout=5).items
    api.delay(0.5)
    t0 = time.monotonic()
    core.list_namespace(_request_timeout=5)
    assert time.monotonic() - t0 >= 0.5
    api.delay(0)


def test_token_review(api, kubeconfig, tmp_path):
    """TokenReview through the client: the service account's user, audiences intersected; a token of
    other audiences or unknown is unauthenticated with an error; a caller without a valid token 401."""
    auth = client.AuthenticationV1Api(config.new_client_from_config(config_file=kubeconfig))

    def review(token, audiences=None):
        body = client.V1TokenReview(spec=client.V1TokenReviewSpec(token=token, audiences=audiences))
        return auth.create_token_review(body, _request_timeout=5).status

    ok = review("sa-token-reviews", [AUD, "other"])
    assert ok.authenticated and ok.user.username == "system:serviceaccount:shop:reviews"
    assert ok.audiences == [AUD] and "system:serviceaccounts:shop" in ok.user.groups
    wrong = review("sa-token-reviews", ["https://kubernetes.default.svc.cluster.local"])
    assert not wrong.authenticated and "audiences" in wrong.error
    default_aud = review("sa-token-k8s")
    assert default_aud.authenticated and default_aud.user.username == "system:serviceaccount:shop:ratings"
    unknown = review("forged")
    assert not unknown.authenticated and unknown.error
    anon = client.AuthenticationV1Api(config.new_client_from_config(
        config_file=api.kubeconfig(str(tmp_path / "sa"), "sa-token-reviews")))
    with pytest.raises(ApiException) as e:
        anon.create_token_review(client.V1TokenReview(spec=client.V1TokenReviewSpec(token="sa-token-reviews")),
                                 _request_timeout=5)
    assert e.value.status == 401


def test_leases(api, kubeconfig):
    coord = client.CoordinationV1Api(config.new_client_from_config(config_file=kubeconfig))
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="meshd-leader"),
                           spec=client.V1LeaseSpec(holder_identity="meshd-0", lease_duration_seconds=15))
    made = coord.create_namespaced_lease("kube-system", lease, _request_timeout=5)
    made.spec.holder_identity = "meshd-1"
    taken = coord.replace_namespaced_lease("meshd-leader", "kube-system", made, _request_timeout=5)
    assert taken.spec.holder_identity == "meshd-1"
    with pytest.raises(ApiException) as e:  # the loser of the race
        coord.replace_namespaced_lease("meshd-leader", "kube-system", made, _request_timeout=5)
    assert e.value.status == 409
    assert api.state("leases")[("kube-system", "meshd-leader")]["spec"]["holderIdentity"] == "meshd-1"


# ------------------------------------------------------------------------------------------
# kubectl


@needs_kubectl
def test_kubectl_get_all_namespaces(api, kubeconfig):
    api.create(ns("shop"))
    api.create(pod("a"))
    api.create(pod("b", ns="shop"))
    api.create(svc("reviews", ns="shop"))
    api.create(slice_("reviews-abc", ns="shop"))
    out = kubectl(kubeconfig, "get", "ns", "-o", "name").stdout.split()
    assert out == ["namespace/default", "namespace/kube-public", "namespace/kube-system", "namespace/shop"]
    table = kubectl(kubeconfig, "get", "pods", "-A").stdout
    assert "NAMESPACE" in table and "shop" in table and " b " in table.replace("\n", " ")
    items = json.loads(kubectl(kubeconfig, "get", "svc", "-A", "-o", "json").stdout)["items"]
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [("shop", "reviews")]
    eps = kubectl(kubeconfig, "get", "endpointslices", "-A", "-o", "name").stdout.split()
    assert eps == ["endpointslice.discovery.k8s.io/reviews-abc"]
    assert kubectl(kubeconfig, "get", "po", "-n", "shop", "-l", "app=reviews", "-o", "name").stdout.split() == ["pod/b"]
    # a wrong token: kubectl fails with the server's 401
    p = kubectl(api.kubeconfig(kubeconfig + ".bad", "wrong"), "get", "pods", check=False)
    assert p.returncode != 0 and "Unauthorized" in p.stderr


MANIFEST = """apiVersion: v1
kind: Service
metadata:
  name: reviews
  namespace: default
spec:
  selector: {app: reviews}
  ports:
  - {name: grpc, port: 9080, targetPort: 9080}
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-v1
  namespace: default
  labels: {app: reviews, version: v1}
spec:
  containers:
  - name: app
    image: example/reviews:IMAGE
    ports: [{containerPort: 9080}]
"""


@needs_kubectl
def test_kubectl_apply_label_delete(api, kubeconfig, tmp_path):
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFEST.replace("IMAGE", "1"))
    # /openapi/v3 says every kind takes fieldValidation: kubectl skips client-side validation (which
    # would need /openapi/v2) and asks the server for Strict
    out = kubectl(kubeconfig, "apply", "-f", str(manifest)).stdout
    assert "service/reviews created" in out and "pod/reviews-v1 created" in out
    assert [r[1].split("?")[1] for r in api.requests if r[0] == "POST"] == \
        ["fieldManager=kubectl-client-side-apply&fieldValidation=Strict"] * 2
    pod_obj = api.get("pods", "default", "reviews-v1")
    assert "kubectl.kubernetes.io/last-applied-configuration" in pod_obj["metadata"]["annotations"]
    manifest.write_text(MANIFEST.replace("IMAGE", "2").replace("version: v1}", "version: v1, track: stable}"))
    out = kubectl(kubeconfig, "apply", "--validate=false", "-f", str(manifest)).stdout
    assert "pod/reviews-v1 configured" in out and "service/reviews unchanged" in out
    pod_obj = api.get("pods", "default", "reviews-v1")
    assert pod_obj["spec"]["containers"][0]["image"] == "example/reviews:2"
    assert pod_obj["spec"]["containers"][0]["ports"] == [{"containerPort": 9080}]
    assert pod_obj["metadata"]["labels"] == {"app": "reviews", "version": "v1", "track": "stable"}
    kubectl(kubeconfig, "label", "pod", "reviews-v1", "tier=backend")
    assert api.get("pods", "default", "reviews-v1")["metadata"]["labels"]["tier"] == "backend"
    kubectl(kubeconfig, "label", "pod", "reviews-v1", "tier-")
    assert "tier" not in api.get("pods", "default", "reviews-v1")["metadata"]["labels"]
    out = kubectl(kubeconfig, "delete", "-f", str(manifest)).stdout
    assert 'pod "reviews-v1" deleted' in out
    assert api.state("pods") == {} and api.state("services") == {}


@needs_kubectl
def test_kubectl_get_watch(api, kubeconfig):
    api.create(pod("before"))
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    proc = subprocess.Popen([KUBECTL, "--cache-dir", os.path.join(os.path.dirname(kubeconfig), "kube-cache"),
                             "get", "pods", "-w", "--output-watch-events", "--request-timeout=4s"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: api.open_watches() == 1, timeout=8)
        api.create(pod("during"))
        api.patch("pods", "default", "during", {"metadata": {"labels": {"x": "1"}}})
        api.delete("pods", "default", "during")
        out, err = proc.communicate(timeout=8)
    finally:
        proc.kill()
    rows = [l.split()[:2] for l in out.splitlines()[1:]]
    assert rows == [["ADDED", "before"], ["ADDED", "during"], ["MODIFIED", "during"], ["DELETED", "during"]], out + err


def test_cli(tmp_path):
    """`python kube_apiserver.py --port 0 --http --data FILE` serves the seeded objects."""
    data = tmp_path / "seed.yaml"
    data.write_text(json.dumps(pod("seeded")))
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "kube_apiserver.py"),
                             "--port", "0", "--http", "--data", str(data), "--kubeconfig", str(tmp_path / "kc")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), line + proc.stderr.read() if not line else line
        proc.stdout.readline()
        core = client.CoreV1Api(config.new_client_from_config(config_file=str(tmp_path / "kc")))
        assert [p.metadata.name for p in core.list_pod_for_all_namespaces(_request_timeout=5).items] == ["seeded"]
    finally:
        proc.terminate()
        proc.wait(5)
