"""Self-test of the stand-in Kubernetes API server's server-side apply, built-in workload and RBAC
kinds and mutating admission webhooks (kube_apiserver.py, kube_fields.py, kube_admission.py)
against kubectl 1.32 and raw HTTP, as `meshctl install` and `kubectl apply --server-side` use them.
Needs no meshd.

Bounded like test_kube_apiserver.py: every kubectl run has a subprocess timeout, every HTTP call
a socket timeout, every webhook a timeoutSeconds.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

import kube_apiserver
from kube_apiserver import make_tls_material
from test_kube_apiserver import (ADMIN, KUBECTL, VS_CRD, api, crds, free_port, kubeconfig,  # noqa: F401
                                 kubectl, needs_kubectl, vs)

pytestmark = needs_kubectl


# ------------------------------------------------------------------------------------------
# helpers


def raw(api, method, path, body=None, ctype="application/apply-patch+yaml", timeout=15):
    """(status, decoded body, Warning headers) of one request with the admin token."""
    ctx = ssl.create_default_context(cadata=api.ca_pem.decode())
    conn = http.client.HTTPSConnection("127.0.0.1", api.port, context=ctx, timeout=timeout)
    try:
        data = body if isinstance(body, (bytes, type(None))) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        headers = {"Authorization": f"Bearer {ADMIN}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = ctype
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        text = resp.read()
        return resp.status, json.loads(text) if text else None, resp.headers.get_all("Warning") or []
    finally:
        conn.close()


def apply_path(kind_path, name, manager="installer", **params):
    q = "&".join([f"fieldManager={manager}"] * bool(manager) + [f"{k}={v}" for k, v in params.items()])
    return f"{kind_path}/{name}?{q}"


def dump(tmp_path, name, *docs):
    path = tmp_path / name
    path.write_text("---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs))
    return str(path)


def entries(obj):
    return {(e["manager"], e["operation"], e.get("subresource", "")): e for e in obj["metadata"].get("managedFields") or []}


def wait_for(cond, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def deployment(name="web", ns="default", replicas=2, image="app:1", env=("A", "B"), containers=None, **spec):
    app = {"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}],
           "env": [{"name": e, "value": e.lower()} for e in env]}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": containers if containers is not None else [app]}}, **spec}}


def configmap(name="cfg", ns="default", data=None, labels=None):
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


# ------------------------------------------------------------------------------------------
# server-side apply with kubectl


def test_kubectl_server_side_apply_creates_then_changes_nothing(crds, kubeconfig, tmp_path):
    """kubectl apply --server-side creates every kind (201 per object) with an Apply entry of the
    applied fields (containers, ports and env by their keys); applied again it changes nothing: no
    object gets a new resourceVersion, no watch event follows."""
    api = crds
    objs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}},
        configmap("cfg", "shop", {"a": "1"}),
        deployment(ns="shop"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "shop"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "web"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "web"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "web"},
         "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "web", "namespace": "shop"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "web", "namespace": "shop"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "web"},
         "subjects": [{"kind": "ServiceAccount", "name": "web", "namespace": "shop"}]},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "injector"},
         "webhooks": [{"name": "inject.mesh.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                       "clientConfig": {"service": {"namespace": "mesh-system", "name": "injector", "path": "/inject"}},
                       "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}},
                       "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                  "resources": ["pods"], "scope": "*"}]}]},
        vs("reviews", ns="shop"),
    ]
    path = dump(tmp_path, "all.yaml", *objs)
    first = kubectl(kubeconfig, "apply", "--server-side", "-f", path, timeout=20)
    assert first.stdout.count("serverside-applied") == len(objs), first.stdout
    applies = [(p, s) for m, p, s in api.requests if m == "PATCH"]
    assert len(applies) == len(objs) and all(s == 201 for _, s in applies), applies
    assert all("fieldManager=kubectl" in p and "force=false" in p for p, _ in applies), applies
    dep = api.get("deployments", "shop", "web")
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (dep["spec"]["revisionHistoryLimit"], dep["spec"]["progressDeadlineSeconds"], dep["metadata"]["generation"]) == (10, 600, 1)
    mine = entries(dep)[("kubectl", "Apply", "")]
    assert mine["apiVersion"] == "apps/v1" and mine["time"].endswith("Z")
    app = mine["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert app["f:ports"] == {'k:{"containerPort":8080,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:name": {}}}
    assert set(app["f:env"]) == {'k:{"name":"A"}', 'k:{"name":"B"}'} and app["."] == {}
    assert mine["fieldsV1"]["f:spec"]["f:selector"] == {}, "a LabelSelector is atomic"
    assert "f:strategy" not in mine["fieldsV1"]["f:spec"], "defaults belong to no one"
    vs_mine = entries(api.get("virtualservices", "shop", "reviews"))[("kubectl", "Apply", "")]
    assert vs_mine["fieldsV1"]["f:spec"] == {"f:hosts": {}, "f:http": {}}  # atomic lists, no "." on maps
    svc = entries(api.get("services", "shop", "web"))[("kubectl", "Apply", "")]
    assert 'k:{"port":80,"protocol":"TCP"}' in svc["fieldsV1"]["f:spec"]["f:ports"]

    rv = api.resource_version
    versions = {(p, k): o["metadata"]["resourceVersion"] for p in ("deployments", "configmaps", "services",
                                                                    "clusterroles", "mutatingwebhookconfigurations",
                                                                    "virtualservices") for k, o in api.state(p).items()}
    time.sleep(max(0.0, 1.05 - (time.time() % 1)))  # into the next second: a renewed time would show
    again = kubectl(kubeconfig, "apply", "--server-side", "-f", path, timeout=20)
    assert again.stdout.count("serverside-applied") == len(objs)
    assert api.resource_version == rv, [(e.res.plural, e.key) for e in api.store.history if e.rv > rv]
    assert versions == {(p, k): o["metadata"]["resourceVersion"] for p, k in versions for o in [api.state(p)[k]]}
    status, events, _ = raw(api, "GET", f"/api/v1/namespaces/shop/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1")
    assert status == 200 and events is None  # the watch ended after a second without an event


def test_server_side_apply_removes_what_the_applier_dropped(api, kubeconfig, tmp_path):
    """Fields the applier owned and no longer applies go (a data key, a label, an env entry, a whole
    container), fields another manager set stay (a label from kubectl label, a data key from a
    patch, a container another applier added), list items keep their order."""
    def applied(*docs, manager="installer"):
        kubectl(kubeconfig, "apply", "--server-side", f"--field-manager={manager}", "-f", dump(tmp_path, "a.yaml", *docs))
    helper = {"name": "helper", "image": "helper:1"}
    applied(configmap(data={"a": "1", "b": "2"}, labels={"x": "1"}),
            deployment(containers=[{"name": "app", "image": "app:1", "env": [{"name": "A", "value": "a"},
                                                                           {"name": "B", "value": "b"}]}, helper]))
    kubectl(kubeconfig, "label", "cm", "cfg", "team=blue")
    kubectl(kubeconfig, "patch", "cm", "cfg", "--type=merge", "-p", '{"data":{"c":"3"}}')
    applied(deployment(containers=[{"name": "sidecar", "image": "side:1"}]), manager="other-applier")
    dep = api.get("deployments", "default", "web")
    assert [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]] == ["app", "helper", "sidecar"]

    applied(configmap(data={"a": "1"}), deployment(containers=[{"name": "app", "image": "app:1",
                                                                 "env": [{"name": "A", "value": "a"}]}]))
    cm = api.get("configmaps", "default", "cfg")
    assert cm["data"] == {"a": "1", "c": "3"} and cm["metadata"]["labels"] == {"team": "blue"}
    assert entries(cm)[("installer", "Apply", "")]["fieldsV1"] == {"f:data": {"f:a": {}}}
    spec = api.get("deployments", "default", "web")["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["app", "sidecar"]
    assert spec["containers"][0]["env"] == [{"name": "A", "value": "a"}]
    # an Update manager's field is not the applier's to remove: kubectl label keeps its label even
    # when the applier stops sending every label
    assert api.get("configmaps", "default", "cfg")["metadata"]["labels"] == {"team": "blue"}


def test_server_side_apply_conflicts_and_force(api, kubeconfig, tmp_path):
    """A field another manager set to another value: 409 Conflict with a FieldManagerConflict cause
    (kubectl prints the real advice); the same value is shared ownership; --force-conflicts takes
    the field from every other manager."""
    path = dump(tmp_path, "d.yaml", deployment(replicas=2))
    kubectl(kubeconfig, "apply", "--server-side", "-f", path)
    kubectl(kubeconfig, "patch", "deploy", "web", "--type=merge", "-p", '{"spec":{"replicas":5}}')
    p = kubectl(kubeconfig, "apply", "--server-side", "-f", path, check=False)
    assert p.returncode == 1 and 'Apply failed with 1 conflict: conflict with "kubectl-patch" using apps/v1: ' \
        ".spec.replicas" in p.stderr and "--force-conflicts" in p.stderr, p.stderr
    assert api.get("deployments", "default", "web")["spec"]["replicas"] == 5

    dpath = "/apis/apps/v1/namespaces/default/deployments"
    status, body, _ = raw(api, "PATCH", apply_path(dpath, "web", "kubectl"), deployment(replicas=2))
    assert status == 409 and body["reason"] == "Conflict" and body["code"] == 409
    assert body["details"] == {"causes": [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-patch" using apps/v1',
                                           "field": ".spec.replicas"}]}
    status, body, _ = raw(api, "PATCH", apply_path(dpath, "web", "second"), deployment(replicas=7, image="app:2"))
    assert status == 409 and body["message"] == (
        'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .spec.template.spec.containers[name="app"].image\n'
        'conflicts with "kubectl-patch" using apps/v1:\n- .spec.replicas')
    status, body, _ = raw(api, "PATCH", apply_path(dpath, "web", "second"), deployment(replicas=5))
    assert status == 200, body  # the same values: shared
    owners = {m for (m, _, _), e in entries(body).items() if "f:replicas" in e["fieldsV1"].get("f:spec", {})}
    assert owners == {"kubectl-patch", "second"}

    p = kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", path)
    assert "serverside-applied" in p.stdout
    dep = api.get("deployments", "default", "web")
    assert dep["spec"]["replicas"] == 2 and dep["metadata"]["generation"] == 3
    owners = {m for (m, _, _), e in entries(dep).items() if "f:replicas" in e["fieldsV1"].get("f:spec", {})}
    assert owners == {"kubectl"} and ("kubectl-patch", "Update", "") not in entries(dep)


def test_kubectl_client_side_then_server_side_apply(api, kubeconfig, tmp_path):
    """The upgrade path kubectl documents: an object applied client-side, then applied server-side
    with a changed value, does not conflict with kubectl-client-side-apply (its
    last-applied-configuration shows the fields were kubectl's); the annotation follows the
    server-side apply."""
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "d.yaml", deployment(replicas=2)))
    p = kubectl(kubeconfig, "apply", "--server-side", "-f", dump(tmp_path, "d2.yaml", deployment(replicas=3)))
    assert "serverside-applied" in p.stdout
    dep = api.get("deployments", "default", "web")
    assert dep["spec"]["replicas"] == 3
    last = json.loads(dep["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last["spec"]["replicas"] == 3
    assert ("kubectl", "Apply", "") in entries(dep)


def test_apply_over_http(crds):
    """What kube-apiserver answers to apply requests: fieldManager required and force only for
    apply (422 PatchOptions), the version, managedFields and name checks (400), YAML bodies with
    duplicate keys under Strict (400) and Warn (a warning), a keyed list item without its key and
    a field a custom resource's schema lacks (500, no reason), dryRun, /status applies."""
    api = crds
    cms = "/api/v1/namespaces/default/configmaps"
    status, body, _ = raw(api, "PATCH", apply_path(cms, "cfg", manager=""), configmap())
    assert status == 422 and body["message"] == 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: ' \
        "is required for apply patch" and body["details"]["causes"][0]["field"] == "fieldManager"
    status, body, _ = raw(api, "PATCH", f"{cms}/cfg?force=true", {"data": {}}, ctype="application/merge-patch+json")
    assert status == 422 and body["message"].endswith("force: Forbidden: may not be specified for non-apply patch")
    yaml_body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  when: 2024-01-01\n  n: '1'\n"
    status, created, _ = raw(api, "PATCH", apply_path(cms, "cfg"), yaml_body)
    assert status == 201 and created["data"] == {"when": "2024-01-01", "n": "1"}  # dates stay strings
    status, same, _ = raw(api, "PATCH", apply_path(cms, "cfg"), yaml_body)
    assert status == 200 and same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    status, body, _ = raw(api, "PATCH", apply_path(cms, "cfg"), {**configmap(), "apiVersion": "v2"})
    assert status == 400 and body["message"] == "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1"
    with_mf = configmap()
    with_mf["metadata"]["managedFields"] = []
    status, body, _ = raw(api, "PATCH", apply_path(cms, "cfg"), with_mf)
    assert status == 400 and body["message"] == "metadata.managedFields must be nil"
    status, body, _ = raw(api, "PATCH", apply_path(cms, "cfg"), configmap("other"))
    assert status == 400 and body["message"] == "the name of the object (other) does not match the name on the URL (cfg)"
    dup = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  n: '1'\n  n: '2'\n"
    status, body, _ = raw(api, "PATCH", apply_path(cms, "cfg", fieldValidation="Strict"), dup)
    assert status == 400 and body["message"] == ('error strict decoding YAML: error converting YAML to JSON: yaml: '
                                                 'unmarshal errors:\n  line 7: key "n" already set in map')
    status, body, warnings = raw(api, "PATCH", apply_path(cms, "cfg"), dup)
    assert status == 200 and body["data"]["n"] == "2" and 'key \\"n\\" already set in map' in warnings[0]
    status, body, _ = raw(api, "PATCH", apply_path(cms, "dry", dryRun="All"), configmap("dry"))
    assert status == 201 and body["metadata"]["name"] == "dry" and api.get("configmaps", "default", "dry") is None

    deps = "/apis/apps/v1/namespaces/default/deployments"
    nameless = deployment(containers=[{"image": "app:1"}])
    status, body, _ = raw(api, "PATCH", apply_path(deps, "web"), nameless)
    assert status == 500 and "reason" not in body and body["message"] == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.template.spec.containers: "
        'element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)')
    with_status = {**deployment(), "status": {"replicas": 9}}
    status, body, _ = raw(api, "PATCH", apply_path(deps, "web"), with_status)
    assert status == 201 and "status" not in body  # create cannot set status
    assert "f:status" not in entries(body)[("installer", "Apply", "")]["fieldsV1"]
    status, body, _ = raw(api, "PATCH", apply_path(deps, "web/status", "controller"),
                          {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                           "status": {"replicas": 2, "observedGeneration": 1}})
    assert status == 200 and body["status"] == {"replicas": 2, "observedGeneration": 1}
    e = entries(body)[("controller", "Apply", "status")]
    assert e["fieldsV1"] == {"f:status": {"f:observedGeneration": {}, "f:replicas": {}}}
    status, body, _ = raw(api, "PATCH", apply_path(deps, "web"), with_status)
    assert status == 200 and body["status"] == {"replicas": 2, "observedGeneration": 1}, "the main resource keeps status"
    status, body, _ = raw(api, "PATCH", apply_path(deps, "missing/status"), with_status)
    assert status == 404

    vss = "/apis/networking.istio.io/v1/namespaces/default/virtualservices"
    bad = vs()
    bad["spec"]["http"][0]["route"][0]["weigth"] = 1
    status, body, _ = raw(api, "PATCH", apply_path(vss, "reviews"), bad)
    assert status == 500 and body["message"] == ("failed to create typed patch object (default/reviews; networking.istio.io/v1, "
                                                 "Kind=VirtualService): .spec.http[0].route[0].weigth: field not declared in schema")
    status, body, _ = raw(api, "PATCH", apply_path(vss, "reviews"), vs())
    assert status == 201 and body["spec"]["http"][0]["route"][0]["weight"] == 100
    status, body, _ = raw(api, "PATCH", apply_path("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                                                   "virtualservices.networking.istio.io"), VS_CRD)
    assert status == 200 and entries(body)[("installer", "Apply", "")]["fieldsV1"]["f:spec"]["f:versions"] == {}


def test_defaults_inside_atomic_lists_renew_the_appliers_time(api, monkeypatch):
    """As kube-apiserver (kubernetes#121404): a webhook rule without `scope` merges as a change of
    the atomic rules list (the stored one was defaulted to "*"), so an identical apply in a later
    second renews the applier's time and writes the object again; with the default spelled out it
    changes nothing."""
    clock = ["2025-01-01T00:00:00Z"]
    monkeypatch.setattr(kube_apiserver, "now_rfc3339", lambda: clock[0])

    def config(scope):
        rule = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}
        if scope:
            rule["scope"] = scope
        return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": f"check-{bool(scope)}"},
                "webhooks": [{"name": "check.mesh.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                              "clientConfig": {"url": "https://127.0.0.1:1/check"}, "rules": [rule]}]}
    base = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    for scope, rewritten in ((None, True), ("*", False)):
        obj = config(scope)
        status, first, _ = raw(api, "PATCH", apply_path(base, obj["metadata"]["name"]), obj)
        assert status == 201 and first["webhooks"][0]["rules"][0]["scope"] == "*"
        status, same, _ = raw(api, "PATCH", apply_path(base, obj["metadata"]["name"]), obj)
        assert same["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"], "the same second: no write"
        clock[0] = "2025-01-01T00:00:01Z"
        status, later, _ = raw(api, "PATCH", apply_path(base, obj["metadata"]["name"]), obj)
        assert (later["metadata"]["resourceVersion"] != first["metadata"]["resourceVersion"]) == rewritten
        assert entries(later)[("installer", "Apply", "")]["time"] == (clock[0] if rewritten else "2025-01-01T00:00:00Z")
        clock[0] = "2025-01-01T00:00:00Z"


# ------------------------------------------------------------------------------------------
# Deployments, status and the other built-in kinds


def test_deployment_status_rollout_and_generation(api, kubeconfig, tmp_path):
    """A Deployment's status as set_deployment_ready writes it ends `kubectl rollout status`
    (watching); a spec or annotation change bumps generation and rollout status waits for it to be
    observed; labels do not; status is the controller's (an Update on /status)."""
    kubectl(kubeconfig, "apply", "--server-side", "-f", dump(tmp_path, "d.yaml", deployment(replicas=3)))
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    watcher = subprocess.Popen([KUBECTL, "--cache-dir", str(tmp_path / "kube-cache"), "rollout", "status", "deploy/web",
                                "--timeout=20s"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: api.open_watches() > 0, 10, "kubectl rollout status to watch")
        api.set_deployment_ready("default", "web")
        out, err = watcher.communicate(timeout=15)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate(timeout=5)
    assert watcher.returncode == 0 and 'deployment "web" successfully rolled out' in out, (out, err)
    got = kubectl(kubeconfig, "get", "deploy", "web", "-o",
                  "jsonpath={.status.readyReplicas}/{.status.availableReplicas}/{.status.observedGeneration}").stdout
    assert got == "3/3/1"
    dep = api.get("deployments", "default", "web")
    assert [(c["type"], c["status"], c["reason"]) for c in dep["status"]["conditions"]] == [
        ("Available", "True", "MinimumReplicasAvailable"), ("Progressing", "True", "NewReplicaSetAvailable")]
    assert ("kube-controller-manager", "Update", "status") in entries(dep)
    rv = api.resource_version
    api.set_deployment_ready("default", "web")
    assert api.resource_version == rv, "the same status again writes nothing"

    kubectl(kubeconfig, "apply", "--server-side", "-f", dump(tmp_path, "d2.yaml", deployment(replicas=3, image="app:2")))
    assert api.get("deployments", "default", "web")["metadata"]["generation"] == 2
    assert "Waiting for deployment spec update to be observed" in \
        kubectl(kubeconfig, "rollout", "status", "deploy/web", "--watch=false").stdout
    api.set_deployment_ready("default", "web", replicas=1)
    assert "1 out of 3 new replicas have been updated" in kubectl(kubeconfig, "rollout", "status", "deploy/web",
                                                                  "--watch=false").stdout
    api.set_deployment_ready("default", "web")
    assert "successfully rolled out" in kubectl(kubeconfig, "rollout", "status", "deploy/web", "--watch=false").stdout
    kubectl(kubeconfig, "label", "deploy", "web", "tier=front")
    assert api.get("deployments", "default", "web")["metadata"]["generation"] == 2
    kubectl(kubeconfig, "annotate", "deploy", "web", "note=x")
    assert api.get("deployments", "default", "web")["metadata"]["generation"] == 3


def test_builtin_kinds_in_discovery_and_openapi(api, kubeconfig):
    """The new kinds are discovered (short names, scope) and have OpenAPI documents whose PATCH
    takes apply-patch+yaml."""
    out = kubectl(kubeconfig, "api-resources", "--no-headers").stdout.split("\n")
    rows = {line.split()[0]: line.split()[1:] for line in out if line.strip()}
    assert rows["deployments"] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["poddisruptionbudgets"] == ["pdb", "policy/v1", "true", "PodDisruptionBudget"]
    assert rows["clusterroles"] == ["rbac.authorization.k8s.io/v1", "false", "ClusterRole"]
    assert rows["rolebindings"] == ["rbac.authorization.k8s.io/v1", "true", "RoleBinding"]
    assert rows["mutatingwebhookconfigurations"] == ["admissionregistration.k8s.io/v1", "false", "MutatingWebhookConfiguration"]
    doc = api.openapi_document("apis/apps/v1")
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "application/apply-patch+yaml" in patch["requestBody"]["content"]
    assert "apis/rbac.authorization.k8s.io/v1" in api.openapi_root()["paths"]
    assert "deployments/status" in kubectl(kubeconfig, "get", "--raw", "/apis/apps/v1").stdout


# ------------------------------------------------------------------------------------------
# mutating admission webhooks


class Injector:
    """A mutating (and validating) webhook over HTTPS for injector.mesh-system.svc: by default it
    adds the label injected=true and a container istio-proxy with a JSONPatch and a warning, and
    refuses pods labelled deny=yes (403); `answer` replaces that; every review is kept."""

    def __init__(self, workdir):
        os.makedirs(workdir, exist_ok=True)
        _, cert, key, ca_pem = make_tls_material(workdir, dns_names=("injector.mesh-system.svc",))
        self.ca_bundle = base64.b64encode(ca_pem).decode()
        self.reviews: list = []
        self.answer = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.reviews.append((self.path, review))
                req = review["request"]
                answer = (outer.answer or outer.default)(self.path, req)
                data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                   "response": {"uid": req["uid"], **answer}}).encode()
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
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @staticmethod
    def patch(ops):
        return {"allowed": True, "patchType": "JSONPatch", "patch": base64.b64encode(json.dumps(ops).encode()).decode()}

    def default(self, path, req):
        if not path.startswith("/inject"):
            return {"allowed": True}
        labels = (req["object"].get("metadata") or {}).get("labels")
        if (labels or {}).get("deny") == "yes":
            return {"allowed": False, "status": {"code": 403, "message": "pods labelled deny are refused"}}
        ops = [{"op": "add", "path": "/metadata/labels/injected", "value": "true"} if labels is not None else
               {"op": "add", "path": "/metadata/labels", "value": {"injected": "true"}},
               {"op": "add", "path": "/spec/containers/-", "value": {"name": "istio-proxy", "image": "proxy:1"}}]
        return {**self.patch(ops), "warnings": ["sidecar injected"]}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def injector(api, tmp_path):
    server = Injector(str(tmp_path / "injector"))
    api.add_webhook_service("mesh-system", "injector", server.address)
    yield server
    server.stop()


def mutating_config(ca_bundle=None, failure="Fail", operations=("CREATE",), selector=None, name="injector"):
    cc = {"service": {"namespace": "mesh-system", "name": "injector", "path": "/inject"}}
    if ca_bundle:
        cc["caBundle"] = ca_bundle
    hook = {"name": "inject.mesh.example.com", "clientConfig": cc, "failurePolicy": failure, "sideEffects": "None",
            "admissionReviewVersions": ["v1"], "timeoutSeconds": 5,
            "rules": [{"operations": list(operations), "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                       "scope": "*"}]}
    if selector is not None:
        hook["namespaceSelector"] = selector
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name}, "webhooks": [hook]}


def bare_pod(name="web", ns="default", labels=None, generate=False):
    meta = {"namespace": ns, "labels": labels or {"app": "web"}}
    meta["generateName" if generate else "name"] = name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "app:1"}]}}


def names(pod):
    return [c["name"] for c in pod["spec"]["containers"]]


def test_kubectl_pods_through_the_mutating_webhook(api, kubeconfig, injector, tmp_path):
    """A MutatingWebhookConfiguration selecting namespaces labelled istio-injection=enabled: a pod
    created there is stored as the webhook's JSONPatch left it (label and container added, neither
    tracked in managedFields), before the validating webhooks see it; the webhook sees the object
    before the store fills in uid and (generateName) name; a pod elsewhere is left alone until its
    namespace is labelled; allowed=false refuses with the webhook's code and message; warnings
    reach kubectl; a re-apply keeps the injected container."""
    validating = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
                  "metadata": {"name": "pod-check"},
                  "webhooks": [{"name": "check.mesh.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
                                "clientConfig": {"service": {"namespace": "mesh-system", "name": "injector",
                                                             "path": "/validate"}, "caBundle": injector.ca_bundle},
                                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                           "resources": ["pods"]}]}]}
    config = mutating_config(injector.ca_bundle, selector={"matchLabels": {"istio-injection": "enabled"}})
    kubectl(kubeconfig, "apply", "--server-side", "-f", dump(tmp_path, "hooks.yaml", config, validating))
    assert api.get("mutatingwebhookconfigurations", "", "injector")["webhooks"][0]["reinvocationPolicy"] == "Never"
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "ns.yaml",
                                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {
                                                "name": "shop", "labels": {"istio-injection": "enabled"}}},
                                            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "plain"}}))
    api.admission_calls.clear()
    kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "plain.yaml", bare_pod(ns="plain")))
    assert names(api.get("pods", "plain", "web")) == ["app"]
    assert [c["type"] for c in api.admission_calls] == ["validating"]

    api.admission_calls.clear()
    p = kubectl(kubeconfig, "apply", "-f", dump(tmp_path, "shop.yaml", bare_pod(ns="shop")))
    assert "Warning: sidecar injected" in p.stderr and "pod/web created" in p.stdout, p.stderr
    pod = api.get("pods", "shop", "web")
    assert names(pod) == ["app", "istio-proxy"] and pod["metadata"]["labels"] == {"app": "web", "injected": "true"}
    assert [(c["type"], c["allowed"]) for c in api.admission_calls] == [("mutating", True), ("validating", True)]
    assert api.admission_calls[0]["patch"][1]["value"]["name"] == "istio-proxy"
    req = injector.reviews[-2][1]["request"]
    assert injector.reviews[-2][0] == "/inject?timeout=5s" and req["operation"] == "CREATE" and req["name"] == "web"
    assert "uid" not in req["object"]["metadata"] and "creationTimestamp" not in req["object"]["metadata"]
    assert req["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                              "fieldManager": "kubectl-client-side-apply", "fieldValidation": "Strict"}
    assert names(injector.reviews[-1][1]["request"]["object"]) == ["app", "istio-proxy"], "validation sees the mutation"
    owned = entries(pod)[("kubectl-client-side-apply", "Update", "")]["fieldsV1"]["f:spec"]["f:containers"]
    assert set(owned) - {"."} == {'k:{"name":"app"}'}, "what a webhook adds belongs to no manager"

    kubectl(kubeconfig, "create", "-f", dump(tmp_path, "gen.yaml", bare_pod("worker-", ns="shop", generate=True)))
    req = injector.reviews[-2][1]["request"]
    assert "name" not in req and req["object"]["metadata"]["generateName"] == "worker-"
    generated = [o for (ns, n), o in api.state("pods").items() if n.startswith("worker-")]
    assert len(generated) == 1 and names(generated[0]) == ["app", "istio-proxy"]

    p = kubectl(kubeconfig, "create", "-f", dump(tmp_path, "deny.yaml", bare_pod("bad", ns="shop", labels={"deny": "yes"})),
                check=False)
    assert p.returncode == 1 and 'admission webhook "inject.mesh.example.com" denied the request: pods labelled deny ' \
        "are refused" in p.stderr, p.stderr
    assert api.requests[-1][2] == 403 and api.get("pods", "shop", "bad") is None

    kubectl(kubeconfig, "label", "ns", "plain", "istio-injection=enabled")
    kubectl(kubeconfig, "apply", "--server-side", "-f", dump(tmp_path, "ssa.yaml", bare_pod("ssa", ns="plain")))
    pod = api.get("pods", "plain", "ssa")
    assert names(pod) == ["app", "istio-proxy"]
    assert injector.reviews[-2][1]["request"]["options"]["fieldManager"] == "kubectl"
    rv, calls = pod["metadata"]["resourceVersion"], len(injector.reviews)
    kubectl(kubeconfig, "apply", "--server-side", "-f", dump(tmp_path, "ssa.yaml", bare_pod("ssa", ns="plain")))
    assert api.get("pods", "plain", "ssa")["metadata"]["resourceVersion"] == rv and len(injector.reviews) == calls, \
        "the re-apply keeps the injected container and calls no CREATE webhook"
    kubectl(kubeconfig, "label", "pod", "web", "-n", "plain", "x=y")
    assert len(injector.reviews) == calls, "UPDATE is not in the rules"


def test_mutating_webhook_on_update_and_failures(api, kubeconfig, injector):
    """A webhook whose rules include UPDATE mutates updates too (its patch on the object as
    written); one that cannot be called fails closed (500, the real wording) or open per
    failurePolicy; an invalid answer is a call failure; a patch that does not apply is a 500 even
    under Ignore."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    c = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(c)
    adm = client.AdmissionregistrationV1Api(c)
    adm.create_mutating_webhook_configuration(mutating_config(injector.ca_bundle, operations=("CREATE", "UPDATE")),
                                              _request_timeout=5)

    def annotate(path, req):
        if req["operation"] != "UPDATE":
            return {"allowed": True}
        return Injector.patch([{"op": "add", "path": "/metadata/annotations", "value": {"mutated": "on-update"}}])
    injector.answer = annotate
    core.create_namespaced_pod("default", bare_pod("a"), _request_timeout=5)
    core.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"v": "2"}}}, _request_timeout=5)
    pod = api.get("pods", "default", "a")
    assert pod["metadata"]["annotations"] == {"mutated": "on-update"} and pod["metadata"]["labels"]["v"] == "2"
    req = injector.reviews[-1][1]["request"]
    assert req["operation"] == "UPDATE" and req["oldObject"]["metadata"]["labels"] == {"app": "web"}

    def refused(name):
        with pytest.raises(ApiException) as e:
            core.create_namespaced_pod("default", bare_pod(name), _request_timeout=15)
        body = json.loads(e.value.body)
        assert e.value.status == 500 and body["reason"] == "InternalError", body
        return body["message"]
    injector.answer = lambda path, req: {"allowed": True, "patch": base64.b64encode(b"[]").decode()}
    assert refused("b") == ('Internal error occurred: failed calling webhook "inject.mesh.example.com": received invalid '
                            "webhook response: webhook returned response.patch but not response.patchType")
    injector.answer = lambda path, req: Injector.patch([{"op": "remove", "path": "/metadata/labels/missing"}])
    adm.patch_mutating_webhook_configuration("injector", [
        {"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Ignore"}], _request_timeout=5)
    assert refused("c").startswith("Internal error occurred: ")
    injector.answer = None

    dead = free_port()
    api.add_webhook_service("mesh-system", "injector", f"127.0.0.1:{dead}")
    core.create_namespaced_pod("default", bare_pod("open"), _request_timeout=15)
    assert names(api.get("pods", "default", "open")) == ["app"], "Ignore: created as sent"
    assert api.admission_calls[-1]["type"] == "mutating" and "connection refused" in api.admission_calls[-1]["error"]
    adm.patch_mutating_webhook_configuration("injector", [
        {"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Fail"}], _request_timeout=5)
    assert refused("closed") == (
        'Internal error occurred: failed calling webhook "inject.mesh.example.com": failed to call webhook: Post '
        f'"https://injector.mesh-system.svc:443/inject?timeout=5s": dial tcp 127.0.0.1:{dead}: connect: connection refused')
    assert api.get("pods", "default", "closed") is None
    c.close()
