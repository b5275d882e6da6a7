"""Self-test of the stand-in Kubernetes API server (kube_apiserver.py) against real clients:
kubectl 1.32 (`KUBECTL` overrides the binary) and PyPI's `kubernetes` client. Needs no meshd.

Each test starts its own server (HTTPS, a generated CA, bearer tokens) and is bounded: kubectl
runs with a 10 s subprocess timeout, every watch has a server-side `timeoutSeconds` and a client
read timeout.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from kube_apiserver import KubeApiServer, make_tls_material

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


# ------------------------------------------------------------------------------------------
# custom resources, field validation, managedFields and validating webhooks (issue 26)


def _crd(kind, plural, short, v1_spec, versions=("v1", "v1beta1", "v1alpha3"), status=True):
    """A CRD as Istio's are made: several served versions, v1 stored, structural schemas (the
    older versions keep spec open), conversion None."""
    def version(v):
        spec = v1_spec if v == "v1" else {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        d = {"name": v, "served": True, "storage": v == "v1",
             "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                 "spec": spec, "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}
        if status:
            d["subresources"] = {"status": {}}
        return d
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.networking.istio.io"},
            "spec": {"group": "networking.istio.io", "scope": "Namespaced",
                     "names": {"kind": kind, "listKind": kind + "List", "plural": plural, "singular": kind.lower(),
                               "shortNames": [short], "categories": ["istio-io", "networking-istio-io"]},
                     "versions": [version(v) for v in versions]}}


_OBJ = {"type": "object"}
VS_CRD = _crd("VirtualService", "virtualservices", "vs", {**_OBJ, "properties": {
    "hosts": {"type": "array", "items": {"type": "string"}},
    "gateways": {"type": "array", "items": {"type": "string"}},
    "http": {"type": "array", "items": {**_OBJ, "properties": {
        "name": {"type": "string"},
        "mirror": {**_OBJ, "properties": {"host": {"type": "string"}}},
        "timeout": {"type": "string"},
        "route": {"type": "array", "items": {**_OBJ, "properties": {
            "destination": {**_OBJ, "properties": {
                "host": {"type": "string"}, "subset": {"type": "string"},
                "port": {**_OBJ, "properties": {"number": {"type": "integer", "minimum": 1, "maximum": 65535}}}}},
            "weight": {"type": "integer", "format": "int32"}}}}}}}}})
DR_CRD = _crd("DestinationRule", "destinationrules", "dr", {**_OBJ, "properties": {
    "host": {"type": "string"},
    "trafficPolicy": {**_OBJ, "properties": {"tls": {**_OBJ, "properties": {
        "mode": {"type": "string", "enum": ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]}}}}}}})
SE_CRD = _crd("ServiceEntry", "serviceentries", "se", {**_OBJ, "x-kubernetes-preserve-unknown-fields": True},
              versions=("v1",), status=False)


def vs(name="reviews", weight=100, ns="default", version="v1", **http):
    return {"apiVersion": f"networking.istio.io/{version}", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"hosts": [name], "http": [{"route": [{"destination": {"host": name, "subset": "v1"},
                                                          "weight": weight}], **http}]}}


def dump(tmp_path, name, *docs):
    path = tmp_path / name
    path.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    return str(path)


@pytest.fixture
def crds(api):
    api.install_crds([VS_CRD, DR_CRD, SE_CRD])
    return api


@pytest.fixture
def custom(kubeconfig):
    c = config.new_client_from_config(config_file=kubeconfig)
    yield client.CustomObjectsApi(c)
    c.close()


@needs_kubectl
def test_kubectl_crds_discovery_and_versions(api, kubeconfig, tmp_path):
    """kubectl apply of CRDs makes their kinds served (discovery with short names and categories);
    kubectl then creates and lists them by short name, plural.group and category; the CRD is
    Established with its accepted names."""
    out = kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "crds.yaml", VS_CRD, DR_CRD)).stdout
    assert "customresourcedefinition.apiextensions.k8s.io/virtualservices.networking.istio.io created" in out
    crd = api.get("customresourcedefinitions", "", "virtualservices.networking.istio.io")
    conds = {c["type"]: (c["status"], c["reason"]) for c in crd["status"]["conditions"]}
    assert conds == {"NamesAccepted": ("True", "NoConflicts"), "Established": ("True", "InitialNamesAccepted")}
    assert crd["status"]["acceptedNames"]["shortNames"] == ["vs"] and crd["status"]["storedVersions"] == ["v1"]
    group = json.loads(kubectl(kubeconfig, "get", "--raw", "/apis/networking.istio.io").stdout)
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1", "v1alpha3"]
    assert group["preferredVersion"]["version"] == "v1"
    table = kubectl(kubeconfig, "api-resources", "--api-group=networking.istio.io").stdout
    assert "virtualservices" in table and " vs " in table and "destinationrules" in table
    api.create(ns("shop"))  # (kubectl create namespace speaks protobuf, which the stand-in does not)
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "vs.yaml", vs(ns="shop"), vs("ratings", version="v1alpha3")))
    rows = kubectl(kubeconfig, "get", "vs", "-A", "--no-headers").stdout.split("\n")
    assert [r.split()[:2] for r in rows if r] == [["default", "ratings"], ["shop", "reviews"]]
    assert kubectl(kubeconfig, "get", "virtualservices.networking.istio.io", "-n", "shop", "-o", "name").stdout.split() \
        == ["virtualservice.networking.istio.io/reviews"]
    assert "virtualservice.networking.istio.io/ratings" in kubectl(kubeconfig, "get", "istio-io", "-o", "name").stdout
    old = json.loads(kubectl(kubeconfig, "get", "virtualservices.v1alpha3.networking.istio.io", "-n", "shop",
                             "reviews", "-o", "json").stdout)
    assert old["apiVersion"] == "networking.istio.io/v1alpha3" and old["spec"]["hosts"] == ["reviews"]
    assert api.get("virtualservices", "default", "ratings")["apiVersion"] == "networking.istio.io/v1"  # stored as v1
    out = kubectl(kubeconfig, "delete", "crd", "virtualservices.networking.istio.io").stdout
    assert 'customresourcedefinition.apiextensions.k8s.io "virtualservices.networking.istio.io" deleted' in out
    assert not [k for k in api.store.objects if k[0] == "virtualservices.networking.istio.io"]
    p = kubectl(kubeconfig, "get", "vs", "-A", check=False)  # (kubectl's discovery cache may still name it)
    assert p.returncode != 0 and "the server could not find the requested resource" in p.stderr


def test_one_store_across_versions(crds, custom):
    """An object written under v1alpha3 is read, listed and watched under v1 and v1beta1 with its
    apiVersion rewritten; deleting the CRD deletes its objects and ends their watches."""
    api = crds
    made = custom.create_namespaced_custom_object("networking.istio.io", "v1alpha3", "default", "virtualservices",
                                                  vs(version="v1alpha3"), _request_timeout=5)
    assert made["apiVersion"] == "networking.istio.io/v1alpha3"
    got = custom.get_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", "reviews",
                                              _request_timeout=5)
    assert got["apiVersion"] == "networking.istio.io/v1" and got["metadata"]["uid"] == made["metadata"]["uid"]
    listed = custom.list_cluster_custom_object("networking.istio.io", "v1beta1", "virtualservices", _request_timeout=5)
    assert listed["kind"] == "VirtualServiceList" and listed["apiVersion"] == "networking.istio.io/v1beta1"
    assert [i["apiVersion"] for i in listed["items"]] == ["networking.istio.io/v1beta1"]
    rv = listed["metadata"]["resourceVersion"]

    def writes():
        time.sleep(0.2)
        custom.patch_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", "reviews",
                                              {"metadata": {"labels": {"x": "1"}}}, _request_timeout=5)
        api.delete("customresourcedefinitions", "", "virtualservices.networking.istio.io")
    threading.Thread(target=writes, daemon=True).start()
    t0 = time.monotonic()
    events = [(e["type"], e["object"]["apiVersion"]) for e in watch.Watch().stream(
        custom.list_namespaced_custom_object, "networking.istio.io", "v1beta1", "default", "virtualservices",
        resource_version=rv, timeout_seconds=5, _request_timeout=8)]
    assert events == [("MODIFIED", "networking.istio.io/v1beta1"), ("DELETED", "networking.istio.io/v1beta1")]
    assert time.monotonic() - t0 < 3  # ended with the CRD, not by its timeout
    assert api.get("customresourcedefinitions", "", "virtualservices.networking.istio.io") is None
    with pytest.raises(ApiException) as e:
        custom.list_cluster_custom_object("networking.istio.io", "v1", "virtualservices", _request_timeout=5)
    assert e.value.status == 404


@needs_kubectl
def test_kubectl_strict_field_validation(crds, kubeconfig, tmp_path):
    """kubectl sends fieldValidation=Strict (the stand-in's /openapi/v3 says the server validates):
    a misspelled field is refused with the real strict decoding error on create (400) and on the
    apply patch (422); --validate=warn stores the object pruned and prints the server's warnings;
    --validate=false prunes silently."""
    api = crds
    bad = vs()
    bad["spec"]["http"][0]["route"][0]["weigth"] = 90
    bad["metadata"]["labelz"] = {"a": "b"}
    path = dump(tmp_path, "bad.yaml", bad)
    p = kubectl(kubeconfig, "apply", "-f", path, check=False)
    assert p.returncode == 1 and api.state("virtualservices") == {}
    assert ('Error from server (BadRequest): error when creating "%s": VirtualService in version "v1" cannot be handled '
            'as a VirtualService: strict decoding error: unknown field "metadata.labelz", unknown field '
            '"spec.http[0].route[0].weigth"' % path) in p.stderr, p.stderr
    assert any("fieldValidation=Strict" in r[1] and r[0] == "POST" for r in api.requests)
    p = kubectl(kubeconfig, "apply", "--validate=warn", "-f", path)
    assert 'Warning: unknown field "spec.http[0].route[0].weigth"' in p.stderr
    assert 'Warning: unknown field "metadata.labelz"' in p.stderr
    stored = api.get("virtualservices", "default", "reviews")
    assert "weigth" not in stored["spec"]["http"][0]["route"][0] and "labelz" not in stored["metadata"]
    # an update through kubectl apply is a merge patch: the strict error is on `patch`, 422
    bad["spec"]["http"][0]["timeout"] = "5s"
    p = kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "bad2.yaml", bad), check=False)
    assert p.returncode == 1 and p.stderr.startswith('The request is invalid: patch: Invalid value: "{'), p.stderr
    assert ('strict decoding error: unknown field "metadata.labelz", unknown field "spec.http[0].route[0].weigth"'
            in p.stderr)
    assert "timeout" not in api.get("virtualservices", "default", "reviews")["spec"]["http"][0]
    p = kubectl(kubeconfig, "apply", "--validate=false", "-f", dump(tmp_path, "bad2.yaml", bad))
    assert "Warning" not in p.stderr and "configured" in p.stdout
    assert api.get("virtualservices", "default", "reviews")["spec"]["http"][0]["timeout"] == "5s"
    # preserve-unknown-fields keeps what it is given
    se = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "ext"},
          "spec": {"hosts": ["x.example"], "anything": {"goes": True}}}
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "se.yaml", se))
    assert api.get("serviceentries", "default", "ext")["spec"]["anything"] == {"goes": True}


def test_field_validation_default_is_warn(crds, custom):
    """Without fieldValidation the server warns (Warning: 299 headers) and prunes; Ignore prunes
    silently; an unsupported directive is 422 on the options."""
    body = vs()
    body["spec"]["bogus"] = 1
    body["spec"]["http"][0]["extra"] = "x"
    resp = custom.create_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", body,
                                                  _request_timeout=5, _preload_content=False)
    assert resp.status == 201
    assert resp.headers.getlist("Warning") == ['299 - "unknown field \\"spec.bogus\\""',
                                               '299 - "unknown field \\"spec.http[0].extra\\""']
    assert "bogus" not in crds.get("virtualservices", "default", "reviews")["spec"]
    body["metadata"]["name"] = "quiet"
    resp = custom.create_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", body,
                                                  field_validation="Ignore", _request_timeout=5, _preload_content=False)
    assert resp.status == 201 and resp.headers.getlist("Warning") == []
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", body,
                                               field_validation="Loose", _request_timeout=5)
    status = json.loads(e.value.body)
    assert e.value.status == 422 and status["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loose": '
        'supported values: "", "Ignore", "Strict", "Warn"')


@needs_kubectl
def test_kubectl_schema_validation(crds, kubeconfig, custom, tmp_path):
    """Values against the schema: a type (422 with the real message, which kubectl renders from the
    Status's causes), an enum, a maximum; several errors aggregated in [...]."""
    p = kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "t.yaml", vs(weight="ninety")), check=False)
    assert p.returncode == 1
    assert p.stderr == ('The VirtualService "reviews" is invalid: spec.http[0].route[0].weight: Invalid value: '
                        '"string": spec.http[0].route[0].weight in body must be of type integer: "string"\n'), p.stderr
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices",
                                               vs(weight="ninety"), _request_timeout=5)
    status = json.loads(e.value.body)
    assert e.value.status == 422 and status["reason"] == "Invalid" and status["message"] == (
        'VirtualService.networking.istio.io "reviews" is invalid: spec.http[0].route[0].weight: Invalid value: '
        '"string": spec.http[0].route[0].weight in body must be of type integer: "string"')
    assert status["details"] == {"name": "reviews", "group": "networking.istio.io", "kind": "VirtualService",
                                 "causes": [{"reason": "FieldValueTypeInvalid", "field": "spec.http[0].route[0].weight",
                                             "message": 'Invalid value: "string": spec.http[0].route[0].weight in body '
                                                        'must be of type integer: "string"'}]}
    dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews"},
          "spec": {"host": "reviews", "trafficPolicy": {"tls": {"mode": "BOGUS"}}}}
    p = kubectl(kubeconfig, "create", "-f", dump(tmp_path, "dr.yaml", dr), check=False)
    assert ('The DestinationRule "reviews" is invalid: spec.trafficPolicy.tls.mode: Unsupported value: "BOGUS": '
            'supported values: "DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"') in p.stderr, p.stderr
    two = vs(weight=True)
    two["spec"]["http"][0]["route"][0]["destination"]["port"] = {"number": 70000}
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", two,
                                               _request_timeout=5)
    assert json.loads(e.value.body)["message"].endswith(
        'is invalid: [spec.http[0].route[0].destination.port.number: Invalid value: 70000: '
        'spec.http[0].route[0].destination.port.number in body should be less than or equal to 65535, '
        'spec.http[0].route[0].weight: Invalid value: "boolean": spec.http[0].route[0].weight in body must be of '
        'type integer: "boolean"]')
    assert crds.state("virtualservices") == {} and crds.state("destinationrules") == {}


def test_status_subresource_and_generation(crds, custom):
    """With a status subresource: create drops status; the main resource ignores status changes
    and counts a generation per spec change (not per metadata change); /status changes status
    only; an update without resourceVersion is refused for custom resources."""
    args = ("networking.istio.io", "v1", "default", "virtualservices")
    body = vs()
    body["status"] = {"observedGeneration": 7}
    made = custom.create_namespaced_custom_object(*args, body, _request_timeout=5)
    assert "status" not in made and made["metadata"]["generation"] == 1
    patched = custom.patch_namespaced_custom_object(*args, "reviews", {"status": {"x": 1}, "metadata": {
        "labels": {"a": "b"}}}, _request_timeout=5)
    assert "status" not in patched and patched["metadata"]["generation"] == 1
    patched = custom.patch_namespaced_custom_object(*args, "reviews", {"spec": {"hosts": ["reviews", "r2"]}},
                                                    _request_timeout=5)
    assert patched["metadata"]["generation"] == 2
    status = {"conditions": [{"type": "Reconciled", "status": "True"}], "observedGeneration": 2}
    after = custom.patch_namespaced_custom_object_status(*args, "reviews", {"status": status, "spec": {"hosts": []}},
                                                         _request_timeout=5)
    assert after["status"] == status and after["spec"]["hosts"] == ["reviews", "r2"]
    assert after["metadata"]["generation"] == 2
    after["spec"]["hosts"] = ["reviews"]
    after["status"] = {"observedGeneration": 99}
    replaced = custom.replace_namespaced_custom_object(*args, "reviews", after, _request_timeout=5)
    assert replaced["status"] == status and replaced["metadata"]["generation"] == 3
    replaced["metadata"].pop("resourceVersion")
    with pytest.raises(ApiException) as e:
        custom.replace_namespaced_custom_object(*args, "reviews", replaced, _request_timeout=5)
    assert e.value.status == 422 and json.loads(e.value.body)["message"] == (
        'VirtualService.networking.istio.io "reviews" is invalid: metadata.resourceVersion: Invalid value: 0x0: '
        'must be specified for an update')
    with pytest.raises(ApiException) as e:  # no status subresource on ServiceEntry: /status is not served
        custom.patch_namespaced_custom_object_status("networking.istio.io", "v1", "default", "serviceentries", "x",
                                                     {"status": {}}, _request_timeout=5)
    assert e.value.status == 404


def managers(obj):
    return [(e["manager"], e["operation"], e["apiVersion"], e.get("subresource", "")) for e in
            obj["metadata"].get("managedFields") or []]


@needs_kubectl
def test_managed_fields_managers(crds, kubeconfig, custom, tmp_path):
    """metadata.managedFields as the server records non-apply writes: kubectl apply is
    kubectl-client-side-apply, create kubectl-create, patch kubectl-patch, edit kubectl-edit, the
    python client its User-Agent's product (OpenAPI-Generator) or its fieldManager; one entry per
    manager/apiVersion/subresource, its time renewed when it changes something, fields moving to
    the newest writer, an entry left with no fields dropped; kubectl shows them with
    --show-managed-fields only."""
    api = crds
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "a.yaml", vs("applied")))
    kubectl(kubeconfig, "create", "-f", dump(tmp_path, "c.yaml", vs("created")))
    assert managers(api.get("virtualservices", "default", "applied")) == [
        ("kubectl-client-side-apply", "Update", "networking.istio.io/v1", "")]
    created = api.get("virtualservices", "default", "created")
    assert managers(created) == [("kubectl-create", "Update", "networking.istio.io/v1", "")]
    assert created["metadata"]["managedFields"][0]["fieldsType"] == "FieldsV1"
    assert created["metadata"]["managedFields"][0]["fieldsV1"] == {"f:spec": {".": {}, "f:hosts": {}, "f:http": {}}}
    kubectl(kubeconfig, "label", "vs", "created", "team=a")
    kubectl(kubeconfig, "patch", "vs", "created", "--type=merge", "-p", '{"spec":{"gateways":["mesh"]}}')
    env_editor = {"KUBE_EDITOR": "sed -i s/subset:\\ v1/subset:\\ v2/"}
    p = subprocess.run([KUBECTL, "--cache-dir", str(tmp_path / "kube-cache"), "edit", "vs", "created"],
                       env={**os.environ, "KUBECONFIG": kubeconfig, **env_editor}, capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 0, p.stderr
    custom.patch_namespaced_custom_object("networking.istio.io", "v1beta1", "default", "virtualservices", "created",
                                          {"metadata": {"annotations": {"owner": "py"}}}, _request_timeout=5)
    custom.patch_namespaced_custom_object_status("networking.istio.io", "v1", "default", "virtualservices", "created",
                                                 {"status": {"observedGeneration": 1}}, field_manager="meshd",
                                                 _request_timeout=5)
    obj = api.get("virtualservices", "default", "created")
    got = managers(obj)
    assert set(got) == {("kubectl-create", "Update", "networking.istio.io/v1", ""),
                        ("kubectl-label", "Update", "networking.istio.io/v1", ""),
                        ("kubectl-patch", "Update", "networking.istio.io/v1", ""),
                        ("kubectl-edit", "Update", "networking.istio.io/v1", ""),
                        ("OpenAPI-Generator", "Update", "networking.istio.io/v1beta1", ""),
                        ("meshd", "Update", "networking.istio.io/v1", "status")}, got
    by = {e["manager"]: e for e in obj["metadata"]["managedFields"]}
    assert by["kubectl-patch"]["fieldsV1"] == {"f:spec": {"f:gateways": {}}}
    assert by["kubectl-edit"]["fieldsV1"] == {"f:spec": {"f:http": {}}}  # a list is one atomic field
    assert by["kubectl-create"]["fieldsV1"] == {"f:spec": {".": {}, "f:hosts": {}}}  # http moved to the editor
    assert by["meshd"]["fieldsV1"] == {"f:status": {".": {}, "f:observedGeneration": {}}}
    times = [e["time"] for e in obj["metadata"]["managedFields"]]
    assert times == sorted(times) and all(t.endswith("Z") for t in times)
    # a changed label moves to its new writer (the labels map itself stays with kubectl-label); the
    # gateways' only owner loses them and its entry goes
    kubectl(kubeconfig, "label", "vs", "created", "team=b", "--overwrite", "--field-manager=relabeler")
    custom.patch_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", "created",
                                          {"spec": {"gateways": ["gw"]}}, field_manager="retargeter",
                                          _request_timeout=5)
    by = {e["manager"]: e for e in api.get("virtualservices", "default", "created")["metadata"]["managedFields"]}
    assert by["kubectl-label"]["fieldsV1"] == {"f:metadata": {"f:labels": {}}}
    assert by["relabeler"]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:team": {}}}}
    assert "kubectl-patch" not in by and by["retargeter"]["fieldsV1"] == {"f:spec": {"f:gateways": {}}}
    shown = yaml.safe_load(kubectl(kubeconfig, "get", "vs", "created", "-o", "yaml", "--show-managed-fields").stdout)
    assert {e["manager"] for e in shown["metadata"]["managedFields"]} >= {"relabeler", "meshd", "retargeter"}
    assert "managedFields" not in yaml.safe_load(kubectl(kubeconfig, "get", "vs", "created", "-o", "yaml").stdout)["metadata"]
    # strategic merge patch is refused for custom resources, as by the real server
    p = kubectl(kubeconfig, "patch", "vs", "created", "-p", '{"spec":{"gateways":["x"]}}', check=False)
    assert p.returncode == 1 and ("the body of the request was in an unknown format - accepted media types include: "
                                  "application/json-patch+json, application/merge-patch+json, "
                                  "application/apply-patch+yaml") in p.stderr, p.stderr


class WebhookServer:
    """A validating webhook over HTTPS with a certificate from its own CA (for
    istiod.istio-system.svc and 127.0.0.1): it denies a route weight of -1, warns on a mirror,
    waits `delay` seconds first, and keeps every AdmissionReview it gets."""

    def __init__(self, workdir, delay=0.0):
        os.makedirs(workdir, exist_ok=True)
        _, cert, key, ca_pem = make_tls_material(workdir, dns_names=("istiod.istio-system.svc",))
        self.ca_bundle = base64.b64encode(ca_pem).decode()
        self.reviews, self.delay = [], delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.reviews.append((self.path, review))
                time.sleep(outer.delay)
                req = review["request"]
                http = ((req.get("object") or {}).get("spec") or {}).get("http") or []
                answer = {"uid": req["uid"], "allowed": True}
                if any(r.get("weight") == -1 for h in http for r in h.get("route") or []):
                    answer = {"uid": req["uid"], "allowed": False, "status": {"message": "weight -1 is negative"}}
                if any("mirror" in h for h in http):
                    answer["warnings"] = ['spec.http[0].mirror: mirroring is "best effort"']
                data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                   "response": answer}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def webhook(tmp_path):
    server = WebhookServer(str(tmp_path / "webhook"))
    yield server
    server.stop()


def webhook_config(name="istiod-validator", hook="validation.istio.io", ca_bundle=None, service=("istio-system", "istiod"),
                   url=None, failure="Fail", versions=("*",), operations=("CREATE", "UPDATE", "DELETE"), **extra):
    cc = {"url": url} if url else {"service": {"namespace": service[0], "name": service[1], "path": "/validate"}}
    if ca_bundle:
        cc["caBundle"] = ca_bundle
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": name},
            "webhooks": [{"name": hook, "clientConfig": cc, "failurePolicy": failure, "sideEffects": "None",
                          "admissionReviewVersions": ["v1"],
                          "rules": [{"apiGroups": ["networking.istio.io"], "apiVersions": list(versions),
                                     "operations": list(operations), "resources": ["*"]}], **extra}]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_kubectl
def test_kubectl_webhook_denies_warns_and_sees_the_review(crds, kubeconfig, webhook, tmp_path):
    """A webhook behind a service reference: kubectl apply of a denied object prints the webhook's
    message and fails; an allowed one with warnings prints `Warning: ...`; the AdmissionReview is
    kube-apiserver's (kinds, resources, user, options, objects) for CREATE, UPDATE and DELETE; a
    server-side dry run calls it (dryRun true) and persists nothing."""
    api = crds
    api.add_webhook_service("istio-system", "istiod", webhook.address)
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "vwc.yaml", webhook_config(ca_bundle=webhook.ca_bundle)))
    assert api.get("validatingwebhookconfigurations", "", "istiod-validator")["webhooks"][0]["timeoutSeconds"] == 10
    p = kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "deny.yaml", vs(weight=-1)), check=False)
    assert p.returncode == 1 and api.state("virtualservices") == {}
    assert 'admission webhook "validation.istio.io" denied the request: weight -1 is negative' in p.stderr, p.stderr
    path, review = webhook.reviews[-1]
    assert path == "/validate?timeout=10s"
    req = review["request"]
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    assert list(req) == ["uid", "kind", "resource", "requestKind", "requestResource", "name", "namespace", "operation",
                         "userInfo", "object", "oldObject", "dryRun", "options"]
    assert req["kind"] == {"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"}
    assert req["resource"] == {"group": "networking.istio.io", "version": "v1", "resource": "virtualservices"}
    assert req["requestKind"] == req["kind"] and req["requestResource"] == req["resource"]
    assert (req["name"], req["namespace"], req["operation"], req["dryRun"]) == ("reviews", "default", "CREATE", False)
    assert req["userInfo"] == {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]}
    assert req["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                              "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"}
    assert req["oldObject"] is None and req["object"]["spec"]["http"][0]["route"][0]["weight"] == -1
    assert req["object"]["metadata"]["uid"] and req["object"]["metadata"]["managedFields"][0]["manager"] == \
        "kubectl-client-side-apply"
    p = kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "mirror.yaml", vs(mirror={"host": "shadow"})))
    assert 'Warning: spec.http[0].mirror: mirroring is "best effort"' in p.stderr and "created" in p.stdout
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "update.yaml", vs(weight=50)))
    req = webhook.reviews[-1][1]["request"]
    assert req["operation"] == "UPDATE" and req["options"]["kind"] == "UpdateOptions"
    assert req["oldObject"]["spec"]["http"][0]["mirror"] == {"host": "shadow"}
    assert req["object"]["spec"]["http"][0]["route"][0]["weight"] == 50
    p = kubectl(kubeconfig, "apply", "--dry-run=server", "-f", dump(tmp_path, "dry.yaml", vs("dry")))
    assert "created (server dry run)" in p.stdout and api.get("virtualservices", "default", "dry") is None
    assert webhook.reviews[-1][1]["request"]["dryRun"] is True
    kubectl(kubeconfig, "delete", "vs", "reviews")
    req = webhook.reviews[-1][1]["request"]
    assert req["operation"] == "DELETE" and req["object"] is None and req["oldObject"]["metadata"]["name"] == "reviews"
    assert req["options"]["kind"] == "DeleteOptions" and req["options"]["apiVersion"] == "meta.k8s.io/v1"
    assert [c["allowed"] for c in api.admission_calls] == [False, True, True, True, True]
    assert all(c["webhook"] == "validation.istio.io" and c["error"] is None for c in api.admission_calls)


def test_webhook_match_policy_equivalent(crds, custom, webhook, kubeconfig):
    """A rule naming v1 matches a v1alpha3 request (matchPolicy Equivalent, the default): the review
    carries v1 in kind/resource, v1alpha3 in requestKind/requestResource, the object converted;
    with matchPolicy Exact it is not called. An objectSelector leaves unlabelled objects alone."""
    api = crds
    api.add_webhook_service("istio-system", "istiod", webhook.address)
    adm = client.AdmissionregistrationV1Api(config.new_client_from_config(config_file=kubeconfig))
    adm.create_validating_webhook_configuration(webhook_config(ca_bundle=webhook.ca_bundle, versions=("v1",)),
                                                _request_timeout=5)
    args = ("networking.istio.io", "v1alpha3", "default", "virtualservices")
    with pytest.raises(ApiException) as e:
        custom.create_namespaced_custom_object(*args, vs(weight=-1, version="v1alpha3"), _request_timeout=5)
    status = json.loads(e.value.body)
    assert e.value.status == 400 and status["message"] == \
        'admission webhook "validation.istio.io" denied the request: weight -1 is negative'
    req = webhook.reviews[-1][1]["request"]
    assert req["kind"]["version"] == "v1" and req["resource"]["version"] == "v1"
    assert req["requestKind"] == {"group": "networking.istio.io", "version": "v1alpha3", "kind": "VirtualService"}
    assert req["requestResource"]["version"] == "v1alpha3"
    assert req["object"]["apiVersion"] == "networking.istio.io/v1"
    adm.patch_validating_webhook_configuration("istiod-validator", [
        {"op": "replace", "path": "/webhooks/0/matchPolicy", "value": "Exact"}], _request_timeout=5)
    custom.create_namespaced_custom_object(*args, vs(weight=-1, version="v1alpha3"), _request_timeout=5)
    assert len(webhook.reviews) == 1
    adm.patch_validating_webhook_configuration("istiod-validator", [
        {"op": "replace", "path": "/webhooks/0/matchPolicy", "value": "Equivalent"},
        {"op": "add", "path": "/webhooks/0/objectSelector", "value": {"matchLabels": {"validate": "yes"}}}],
        _request_timeout=5)
    custom.create_namespaced_custom_object(*args, vs("other", weight=-1, version="v1alpha3"), _request_timeout=5)
    assert len(webhook.reviews) == 1
    labelled = vs("labelled", weight=-1)
    labelled["metadata"]["labels"] = {"validate": "yes"}
    with pytest.raises(ApiException):
        custom.create_namespaced_custom_object("networking.istio.io", "v1", "default", "virtualservices", labelled,
                                               _request_timeout=5)
    assert len(webhook.reviews) == 2
    # a namespaceSelector: the namespace's labels decide; the caller is the token's user
    adm.patch_validating_webhook_configuration("istiod-validator", [
        {"op": "remove", "path": "/webhooks/0/objectSelector"},
        {"op": "add", "path": "/webhooks/0/namespaceSelector",
         "value": {"matchExpressions": [{"key": "skip-validation", "operator": "DoesNotExist"}]}}], _request_timeout=5)
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "free", "labels": {"skip-validation": ""}}})
    custom.create_namespaced_custom_object("networking.istio.io", "v1", "free", "virtualservices",
                                           vs(weight=-1, ns="free"), _request_timeout=5)
    assert len(webhook.reviews) == 2
    api.tokens.add("sa-token-reviews")
    sa = client.CustomObjectsApi(config.new_client_from_config(
        config_file=api.kubeconfig(kubeconfig + ".sa", "sa-token-reviews")))
    with pytest.raises(ApiException):
        sa.create_namespaced_custom_object(*args, vs("by-sa", weight=-1, version="v1alpha3"), _request_timeout=5)
    user = webhook.reviews[-1][1]["request"]["userInfo"]
    assert user["username"] == "system:serviceaccount:shop:reviews" and user["uid"]
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"]


def test_webhook_failures(crds, custom, webhook, kubeconfig, tmp_path):
    """A webhook that cannot be called: failurePolicy Fail refuses the request with 500 and the
    real `failed calling webhook` wording (connection refused, no caBundle, a certificate for
    another name, a timeout), Ignore lets it through; patching the caBundle in (as meshd does)
    heals it."""
    api = crds
    adm = client.AdmissionregistrationV1Api(config.new_client_from_config(config_file=kubeconfig))
    args = ("networking.istio.io", "v1", "default", "virtualservices")
    dead = free_port()
    adm.create_validating_webhook_configuration(webhook_config(url=f"https://127.0.0.1:{dead}/validate",
                                                               hook="dead.example.com"), _request_timeout=5)

    def refused():
        with pytest.raises(ApiException) as e:
            custom.create_namespaced_custom_object(*args, vs(), _request_timeout=15)
        status = json.loads(e.value.body)
        assert e.value.status == 500 and status["reason"] == "InternalError"
        return status["message"]
    assert refused() == (f'Internal error occurred: failed calling webhook "dead.example.com": failed to call webhook: '
                         f'Post "https://127.0.0.1:{dead}/validate?timeout=10s": dial tcp 127.0.0.1:{dead}: connect: '
                         f'connection refused')
    adm.patch_validating_webhook_configuration("istiod-validator", [
        {"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}], _request_timeout=5)
    custom.create_namespaced_custom_object(*args, vs("ignored"), _request_timeout=5)
    assert api.admission_calls[-1]["error"].startswith('failed calling webhook "dead.example.com"')
    adm.delete_validating_webhook_configuration("istiod-validator", _request_timeout=5)
    # a live webhook without a caBundle: the certificate is unknown
    api.add_webhook_service("istio-system", "istiod", webhook.address)
    api.add_webhook_service("istio-system", "other", webhook.address)
    adm.create_validating_webhook_configuration(webhook_config(), _request_timeout=5)
    assert refused().endswith('failed to call webhook: Post "https://istiod.istio-system.svc:443/validate?timeout=10s": '
                              'tls: failed to verify certificate: x509: certificate signed by unknown authority')
    adm.patch_validating_webhook_configuration("istiod-validator", [
        {"op": "add", "path": "/webhooks/0/clientConfig/caBundle", "value": webhook.ca_bundle}], _request_timeout=5)
    custom.create_namespaced_custom_object(*args, vs("healed"), _request_timeout=5)
    assert webhook.reviews[-1][1]["request"]["name"] == "healed"
    adm.patch_validating_webhook_configuration("istiod-validator", [
        {"op": "replace", "path": "/webhooks/0/clientConfig/service/name", "value": "other"}], _request_timeout=5)
    assert refused().endswith('tls: failed to verify certificate: x509: certificate is valid for '
                              'istiod.istio-system.svc, not other.istio-system.svc')
    adm.patch_validating_webhook_configuration("istiod-validator", [
        {"op": "replace", "path": "/webhooks/0/clientConfig/service/name", "value": "istiod"},
        {"op": "replace", "path": "/webhooks/0/timeoutSeconds", "value": 1}], _request_timeout=5)
    webhook.delay = 2.0
    t0 = time.monotonic()
    assert refused().endswith('Post "https://istiod.istio-system.svc:443/validate?timeout=1s": context deadline exceeded')
    assert time.monotonic() - t0 < 1.9
    webhook.delay = 0.0
    with pytest.raises(ApiException) as e:  # v1 webhooks must declare their side effects
        adm.create_validating_webhook_configuration(webhook_config(name="bad", sideEffects=None), _request_timeout=5)
    assert e.value.status == 422 and "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun" \
        in json.loads(e.value.body)["message"]


ISTIO_CRDS = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "kubernetes", "istio-crds.yaml")


@needs_kubectl
@pytest.mark.skipif(not os.path.exists(ISTIO_CRDS), reason="deploy/kubernetes/istio-crds.yaml not generated yet")
def test_istio_crds_file(api, kubeconfig, custom, tmp_path):
    """The project's Istio CRDs: kubectl applies them, every served version is discovered, an
    object is created under each version of VirtualService, a misspelled field is refused."""
    out = kubectl(kubeconfig, "apply", "-f", ISTIO_CRDS, timeout=20).stdout
    crds_in_file = [d for d in yaml.safe_load_all(open(ISTIO_CRDS)) if d and d.get("kind") == "CustomResourceDefinition"]
    assert out.count(" created") == len(crds_in_file)
    for crd in crds_in_file:
        stored = api.get("customresourcedefinitions", "", crd["metadata"]["name"])
        assert {c["type"] for c in stored["status"]["conditions"] if c["status"] == "True"} == \
            {"NamesAccepted", "Established"}
        for v in crd["spec"]["versions"]:
            if v.get("served"):
                assert (crd["spec"]["group"], v["name"], crd["spec"]["names"]["plural"]) in api.registry.by_gvp
    for v in ("v1", "v1beta1", "v1alpha3"):
        custom.create_namespaced_custom_object("networking.istio.io", v, "default", "virtualservices",
                                               vs(f"reviews-{v}", version=v), _request_timeout=5)
    assert sorted(api.state("virtualservices")) == [("default", "reviews-v1"), ("default", "reviews-v1alpha3"),
                                                    ("default", "reviews-v1beta1")]
    bad = vs("bad")
    bad["spec"]["http"][0]["route"][0]["weigth"] = 1
    p = kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "bad.yaml", bad), check=False)
    assert p.returncode == 1 and 'unknown field "spec.http[0].route[0].weigth"' in p.stderr, p.stderr
