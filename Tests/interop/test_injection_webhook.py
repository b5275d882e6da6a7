"""Sidecar injection through meshd's admission webhook (`POST /inject` on the webhook port) against
docs/injection.md, with the manifests of Tests/interop/injection/ and the checks of
test_injection.py; meshd runs `--store kubernetes --registry kubernetes` on the stand-in API
server (kube_apiserver.py) with `--injection-values injection/values.yaml`.

- AdmissionReviews as kube-apiserver sends them (admission.k8s.io/v1: uid, kind/resource Pod,
  namespace, operation CREATE, userInfo, options, dryRun false) carrying the pods the controllers
  would create from each document (a Deployment's: generateName and no name, pod-template-hash,
  its ReplicaSet as owner; a StatefulSet's, DaemonSet's, Job's, CronJob's likewise), with what
  the API server does before mutating webhooks (defaults, the ServiceAccount admission plugin's
  kube-api-access volume, status Pending);
- the answer follows the admission API: apiVersion/kind, the uid echoed, `allowed`, patchType
  exactly "JSONPatch" only with a patch, the patch base64 of a JSON array of RFC 6902 operations
  that a strict applier accepts (so '/' in annotation keys is escaped `~1`);
- the patched pod is exactly kube-inject's output for the same pod, validates strictly with
  kubernetes-validate (1.32), and passes test_injection.check_injected; pods left alone get no
  patch, kube-system's included; malformed annotations: allowed false, code 400, a message naming
  the annotation; unhonoured ones: `warnings` naming them;
- the webhook's certificate is meshd's (verified against meshd's root for
  meshd.mesh-system.svc, as the API server does); meshd keeps ConfigMap istio-ca-root-cert in
  every namespace; `--registry kubernetes` alone serves /inject too; an unknown values key stops
  meshd at start;
- when the stand-in runs mutating webhooks: the MutatingWebhookConfiguration of docs/injection.md
  (patched by meshd's leader to trust its root), `kubectl apply` of pods: injected in a namespace
  labelled istio-injection=enabled (or istio.io/rev=default, or an object labelled
  sidecar.istio.io/inject=true), not in an unlabelled namespace.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import http.client
import json
import re
import socket
import ssl
import uuid

import pytest
import yaml

import test_injection as inj
from deploy_manifests import validate
from kube_apiserver import KubeApiServer
from kube_fixtures import attach, namespace, wait_until, webhook_address
from meshd_process import Meshd, MeshdError
from results import record_result

ADMIN_TOKEN = "meshd-inject-token"
SYSTEM_NAMESPACE = "mesh-system"
SERVER_NAME = f"meshd.{SYSTEM_NAMESPACE}.svc"
HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
NAMESPACES = ("shop", "reports", "logging", "monitoring", "istio-system", SYSTEM_NAMESPACE)
CONTROLLER_LABELS = ("pod-template-hash", "controller-revision-hash", "pod-template-generation",
                     "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
                     "batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid", "job-name")
WEBHOOK_TIMEOUT = 10.0


# ------------------------------------------------------------------------------ meshd on the stand-in


class Env:
    def __init__(self, api, meshd, webhook, kubeconfig, root):
        self.api, self.meshd, self.webhook, self.kubeconfig, self.root = api, meshd, webhook, kubeconfig, root


def kube_meshd(api, kubeconfig, extra=(), name="meshd-inject", store=True, values=inj.VALUES) -> Meshd:
    args = ["--registry", "kubernetes", "--kubeconfig", kubeconfig, "--system-namespace", SYSTEM_NAMESPACE,
            "--webhook-port", "0"]
    if store:
        args += ["--store", "kubernetes", "--replica-name", name]
    if values is not None:
        args += ["--injection-values", str(values)]
    return Meshd(extra_args=[*args, *extra], name=name)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work = tmp_path_factory.mktemp("inject-webhook")
    api = KubeApiServer(tokens={ADMIN_TOKEN}, bookmark_interval=0.3, history_size=5000, workdir=str(work))
    api.start()
    meshd = None
    try:
        api.install_crds(str(inj.ROOT / "deploy" / "kubernetes" / "istio-crds.yaml"))
        for ns in NAMESPACES:
            api.create(namespace(ns))
        kubeconfig = api.kubeconfig(str(work / "kubeconfig"), ADMIN_TOKEN)
        if stand_in_mutates(api):
            # as an install leaves it before meshd runs (meshd's leader patches it at start)
            api.create(injector_configuration())
        meshd = kube_meshd(api, kubeconfig).start()
        address = webhook_address(meshd)
        api.add_webhook_service(SYSTEM_NAMESPACE, "meshd", address)
        yield Env(api, meshd, address, kubeconfig, meshd.ca_root())
    finally:
        if meshd is not None:
            meshd.close()
        api.stop()


@pytest.fixture(autouse=True)
def _logs(request, env):
    attach(request, "meshd log", lambda: env.meshd.tail(200))
    attach(request, "stand-in API server: last requests",
           lambda: "\n".join(f"{m} {p} -> {s}" for m, p, s in list(env.api.requests)[-60:]))


class _Connection(http.client.HTTPSConnection):
    """HTTPS to host:port, verifying the certificate for `server_name` (what kube-apiserver
    checks when it calls service meshd in mesh-system)."""

    def __init__(self, address: str, server_name: str, context: ssl.SSLContext, timeout: float):
        host, port = address.rsplit(":", 1)
        super().__init__(host.strip("[]"), int(port), context=context, timeout=timeout)
        self._server_name = server_name
        self._ctx = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=self._server_name)


def post(env, path: str, body: bytes, address: str | None = None, root: str | None = None) -> tuple[int, bytes]:
    ctx = ssl.create_default_context(cadata=root or env.root)
    conn = _Connection(address or env.webhook, SERVER_NAME, ctx, WEBHOOK_TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", "Accept": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def call_inject(env, review: dict, address: str | None = None, root: str | None = None) -> dict:
    status, body = post(env, "/inject?timeout=10s", json.dumps(review).encode(), address, root)
    assert status == 200, f"POST /inject: {status} {body[:2000]!r}"
    try:
        return json.loads(body)
    except ValueError:
        raise AssertionError(f"POST /inject answered non-JSON: {body[:2000]!r}")


@contextlib.contextmanager
def another_cluster(tmp_path):
    """A stand-in of its own (so a second meshd, with a CA of its own, touches nothing of `env`'s)."""
    api = KubeApiServer(tokens={ADMIN_TOKEN}, bookmark_interval=0.3, workdir=str(tmp_path))
    api.start()
    try:
        api.create(namespace(SYSTEM_NAMESPACE))
        yield api, api.kubeconfig(str(tmp_path / "kubeconfig"), ADMIN_TOKEN)
    finally:
        api.stop()


# ------------------------------------------------------------------------------ pods as created


def fake_hash(seed: str, n: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(HASH_CHARS[b % len(HASH_CHARS)] for b in digest[:n])


def owner(api_version: str, kind: str, name: str) -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}/{name}")),
            "controller": True, "blockOwnerDeletion": True}


def _probe_defaults(probe: dict) -> None:
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        probe.setdefault(k, v)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")


def as_created(pod: dict, ns: str) -> dict:
    """The pod as a mutating webhook sees it on CREATE: the namespace set, the API's defaults,
    the ServiceAccount admission plugin's token volume, status Pending."""
    p = copy.deepcopy(pod)
    p.setdefault("apiVersion", "v1")
    p.setdefault("kind", "Pod")
    meta = p.setdefault("metadata", {})
    meta["namespace"] = ns
    spec = p["spec"]
    for k, v in (("restartPolicy", "Always"), ("dnsPolicy", "ClusterFirst"), ("terminationGracePeriodSeconds", 30),
                 ("schedulerName", "default-scheduler"), ("securityContext", {}), ("serviceAccountName", "default"),
                 ("enableServiceLinks", True), ("preemptionPolicy", "PreemptLowerPriority"), ("priority", 0)):
        spec.setdefault(k, v)
    spec["serviceAccount"] = spec["serviceAccountName"]
    spec.setdefault("tolerations", []).extend(
        {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        for t in ("not-ready", "unreachable"))
    token_volume = "kube-api-access-" + fake_hash(ns + (meta.get("name") or meta.get("generateName", "")), 5)
    qos = "BestEffort"
    for c in (spec.get("initContainers") or []) + spec["containers"]:
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("imagePullPolicy", "Always" if c["image"].endswith(":latest") or ":" not in c["image"].rsplit("/", 1)[-1] else "IfNotPresent")
        c.setdefault("resources", {})
        if c["resources"]:
            qos = "Burstable"
        for port in c.get("ports") or []:
            port.setdefault("protocol", "TCP")
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            if probe in c:
                _probe_defaults(c[probe])
        c.setdefault("volumeMounts", []).append(
            {"name": token_volume, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"})
    spec.setdefault("volumes", []).append({"name": token_volume, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})
    p["status"] = {"phase": "Pending", "qosClass": qos}
    return p


def pod_from(doc: dict) -> tuple[str, dict, str, str]:
    """(namespace, the pod its controller would create, as admission sees it, the workload's
    name, the controller's user) for a Pod or a document with a pod template."""
    kind, name = doc["kind"], doc["metadata"]["name"]
    ns = doc["metadata"].get("namespace", "default")
    user = "kubernetes-admin"
    if kind == "Pod":
        return ns, as_created(doc, ns), name, user
    tmpl = copy.deepcopy(inj.template_of(doc))
    tmeta = tmpl.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    meta: dict = {}
    h = fake_hash(f"{ns}/{name}", 10)
    if kind == "Deployment":
        rs = f"{name}-{h}"
        labels["pod-template-hash"] = h
        meta = {"generateName": f"{rs}-", "ownerReferences": [owner("apps/v1", "ReplicaSet", rs)]}
        user = "system:serviceaccount:kube-system:replicaset-controller"
    elif kind == "ReplicaSet":
        meta = {"generateName": f"{name}-", "ownerReferences": [owner("apps/v1", "ReplicaSet", name)]}
        user = "system:serviceaccount:kube-system:replicaset-controller"
    elif kind == "ReplicationController":
        meta = {"generateName": f"{name}-", "ownerReferences": [owner("v1", "ReplicationController", name)]}
        user = "system:serviceaccount:kube-system:replication-controller"
    elif kind == "StatefulSet":
        labels.update({"controller-revision-hash": f"{name}-{h}", "statefulset.kubernetes.io/pod-name": f"{name}-0",
                       "apps.kubernetes.io/pod-index": "0"})
        meta = {"name": f"{name}-0", "ownerReferences": [owner("apps/v1", "StatefulSet", name)]}
        tmpl["spec"].setdefault("hostname", f"{name}-0")
        tmpl["spec"].setdefault("subdomain", doc["spec"].get("serviceName", name))
        user = "system:serviceaccount:kube-system:statefulset-controller"
    elif kind == "DaemonSet":
        labels.update({"controller-revision-hash": h, "pod-template-generation": "1"})
        meta = {"generateName": f"{name}-", "ownerReferences": [owner("apps/v1", "DaemonSet", name)]}
        user = "system:serviceaccount:kube-system:daemon-set-controller"
    elif kind in ("Job", "CronJob"):
        job = name if kind == "Job" else f"{name}-28912345"
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"Job/{job}"))
        labels.update({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": job,
                       "controller-uid": uid, "job-name": job})
        meta = {"generateName": f"{job}-", "ownerReferences": [owner("batch/v1", "Job", job)]}
        user = "system:serviceaccount:kube-system:job-controller"
    else:
        raise AssertionError(f"no pod template in {kind}")
    meta["labels"] = labels
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": tmpl["spec"]}
    return ns, as_created(pod, ns), name, user


def review_for(ns: str, pod: dict, user: str = "kubernetes-admin", dry_run: bool = False, uid: str | None = None) -> dict:
    gvk = {"group": "", "version": "v1", "kind": "Pod"}
    gvr = {"group": "", "version": "v1", "resource": "pods"}
    request = {"uid": uid or str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr}
    if pod["metadata"].get("name"):
        request["name"] = pod["metadata"]["name"]
    request.update({"namespace": ns, "operation": "CREATE",
                    "userInfo": {"username": user, "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, user)),
                                 "groups": ["system:authenticated"] + (["system:serviceaccounts"] if user.startswith("system:serviceaccount:") else ["system:masters"])},
                    "object": pod, "oldObject": None, "dryRun": dry_run,
                    "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}})
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


# ------------------------------------------------------------------------------ the answer


def decoded_patch(response: dict) -> list | None:
    """The admission API's rules for a mutating answer; the RFC 6902 operations (None: no patch)."""
    patch = response.get("patch")
    if patch is None:
        assert response.get("patchType") is None, f"patchType without a patch: {response}"
        return None
    assert response.get("patchType") == "JSONPatch", f"patchType must be exactly \"JSONPatch\": {response.get('patchType')!r}"
    assert isinstance(patch, str) and patch, f"patch is base64 text: {patch!r}"
    try:
        raw = base64.b64decode(patch, validate=True)
    except ValueError as exc:
        raise AssertionError(f"patch is not standard base64: {exc}")
    ops = json.loads(raw)
    assert isinstance(ops, list) and ops, f"the patch is a non-empty JSON array: {raw[:500]!r}"
    for op in ops:
        assert isinstance(op, dict) and op.get("op") in ("add", "remove", "replace", "move", "copy", "test"), op
        assert isinstance(op.get("path"), str) and (op["path"] == "" or op["path"].startswith("/")), op
        assert not re.search(r"~(?![01])", op["path"]), f"bad JSON pointer escape: {op['path']}"
    return ops


def check_envelope(review: dict, answer: dict) -> dict:
    assert answer.get("apiVersion") == "admission.k8s.io/v1" and answer.get("kind") == "AdmissionReview", \
        f"answer apiVersion/kind: {answer.get('apiVersion')}/{answer.get('kind')}"
    response = answer.get("response")
    assert isinstance(response, dict), f"no response: {answer}"
    assert response.get("uid") == review["request"]["uid"], f"uid not echoed: {response.get('uid')} != {review['request']['uid']}"
    assert isinstance(response.get("allowed"), bool), response
    return response


# ------------------------------------------------------------------------------ cases


def case_documents() -> list[tuple[str, int, dict]]:
    out = []
    for name in inj.FILES:
        for i, doc in enumerate(inj.documents(name)):
            if inj.template_of(doc) is not None:
                out.append((name, i, doc))
    return out


CASES = [pytest.param(name, i, id=f"{name}#{i}:{d['kind']}/{d['metadata']['name']}") for name, i, d in case_documents()]


@functools.lru_cache(maxsize=None)
def kube_injected_pods() -> dict:
    """kube-inject of every created pod of CASES (one run): (file, index) -> the injected pod (JSON)."""
    keys, pods = [], []
    for name, i, doc in case_documents():
        keys.append((name, i))
        pods.append(pod_from(doc)[1])
    out, _ = inj.inject_ok(text=inj.dump(*pods))
    assert len(out) == len(pods)
    return {k: json.dumps(p) for k, p in zip(keys, out)}


def injected_parts(pod: dict) -> dict:
    """What injection adds, with the controllers' labels taken out (to compare a created pod's
    injection with its template's)."""
    meta, spec = pod["metadata"], pod["spec"]
    proxy = copy.deepcopy(spec["containers"][-1])
    for e in proxy.get("env") or []:
        if e["name"] == "MESH_POD_LABELS":
            e["value"] = ",".join(kv for kv in e["value"].split(",") if kv.split("=", 1)[0] not in CONTROLLER_LABELS)
    return {"init": spec["initContainers"][-1], "proxy": proxy,
            "volumes": [v for v in spec["volumes"] if v["name"] in inj.INJECTED_VOLUMES],
            "labels": {k: v for k, v in (meta.get("labels") or {}).items() if k not in CONTROLLER_LABELS},
            "annotations": meta.get("annotations")}


@pytest.mark.parametrize("name,index", CASES)
def test_inject(env, name, index):
    doc = inj.documents(name)[index]
    ns, pod, workload, user = pod_from(doc)
    where = f"{name}: {doc['kind']}/{doc['metadata']['name']} (pod in {ns})"
    review = review_for(ns, pod, user)
    response = check_envelope(review, call_inject(env, review))
    assert response["allowed"] is True, f"{where}: refused: {response}"
    ops = decoded_patch(response)
    kube_injected = json.loads(kube_injected_pods()[(name, index)])
    if inj.expected_outcome(doc) == "skipped":
        assert ops is None, f"{where} must be left alone ({inj.SKIPPED[(doc['kind'], doc['metadata']['name'])]}); patch {ops}"
        assert inj.meaning(kube_injected) == inj.meaning(pod), f"{where}: kube-inject left it alone too"
        return
    assert ops is not None, f"{where}: no patch"
    patched = inj.apply_json_patch(pod, ops)
    assert validate(patched) == "1.32", where
    inj.check_injected(pod, patched, workload, inj.TEST_VALUES, where)
    assert patched == kube_injected, f"{where}: the webhook's pod differs from kube-inject's:\n" + diff(patched, kube_injected)
    # the same injection as the template's through kube-inject (controllers' labels aside)
    if doc["kind"] != "Pod":
        out = [json.loads(d) for d in inj.injected_file(name)[0]][index]
        assert injected_parts(patched) == injected_parts(inj.template_of(out)), f"{where}: differs from kube-inject of the {doc['kind']}"
    unhonoured = inj.UNHONOURED.get(doc["metadata"]["name"]) if doc["kind"] == "Pod" else None
    warnings = response.get("warnings") or []
    if unhonoured:
        assert any(unhonoured in w for w in warnings), f"{where}: warnings must name {unhonoured}: {warnings}"
        record_result("injection", f"/inject warning for {doc['metadata']['name']}: {warnings}")
    else:
        assert not any(k in w for w in warnings for k in inj.WARNED_KEYS), f"{where}: unexpected warnings {warnings}"


def diff(a: dict, b: dict) -> str:
    import difflib
    return "\n".join(difflib.unified_diff(yaml.safe_dump(b, sort_keys=True).splitlines(),
                                          yaml.safe_dump(a, sort_keys=True).splitlines(), "kube-inject", "webhook", lineterm=""))


@pytest.mark.parametrize("pod_name", sorted(inj.MALFORMED))
def test_malformed_annotation_is_refused(env, pod_name):
    doc = next(d for d in inj.documents("malformed.yaml") if d["metadata"]["name"] == pod_name)
    ns, pod, _, user = pod_from(doc)
    review = review_for(ns, pod, user)
    response = check_envelope(review, call_inject(env, review))
    assert response["allowed"] is False, f"{pod_name}: must be refused: {response}"
    assert response.get("patch") is None and response.get("patchType") is None, response
    status = response.get("status") or {}
    assert status.get("code") == 400, f"{pod_name}: status.code 400: {status}"
    assert inj.MALFORMED[pod_name] in (status.get("message") or ""), f"{pod_name}: the message must name {inj.MALFORMED[pod_name]}: {status}"
    if pod_name == "port-not-a-number":
        record_result("injection", f"/inject refusal: {status}")


@pytest.mark.parametrize("ns", ["kube-system", "kube-public", "kube-node-lease", SYSTEM_NAMESPACE])
def test_system_namespaces_are_skipped(env, ns):
    """The same Bookinfo pod, injected in default, is left alone in these namespaces."""
    details = copy.deepcopy(next(d for d in inj.documents("bookinfo.yaml") if d["kind"] == "Deployment"))
    details["metadata"]["namespace"] = ns
    got_ns, pod, _, user = pod_from(details)
    assert got_ns == ns and pod["metadata"]["namespace"] == ns
    review = review_for(ns, pod, user)
    response = check_envelope(review, call_inject(env, review))
    assert response["allowed"] is True and decoded_patch(response) is None, f"a pod in {ns} must be left alone: {response}"


def test_an_injected_pod_is_not_patched_again(env):
    doc = inj.documents("init-containers.yaml")[0]
    ns, pod, _, user = pod_from(doc)
    review = review_for(ns, pod, user)
    patched = inj.apply_json_patch(pod, decoded_patch(check_envelope(review, call_inject(env, review))))
    again = review_for(ns, patched, user)
    response = check_envelope(again, call_inject(env, again))
    assert response["allowed"] is True and decoded_patch(response) is None, response


def test_dry_run_gets_the_same_answer(env):
    """sideEffects None: a dry-run review is answered as a real one."""
    doc = next(d for d in inj.documents("traffic-annotations.yaml") if d["metadata"]["name"] == "exclude-inbound")
    ns, pod, _, user = pod_from(doc)
    answers = []
    for dry in (False, True):
        review = review_for(ns, pod, user, dry_run=dry)
        response = check_envelope(review, call_inject(env, review))
        answers.append(inj.apply_json_patch(pod, decoded_patch(response)))
    assert answers[0] == answers[1]


def test_patch_paths_are_escaped(env):
    """A pod with annotations already: whatever ops the patch uses, keys with '/' are escaped."""
    doc = next(d for d in inj.documents("prometheus.yaml") if d["metadata"]["name"] == "port-only")
    ns, pod, _, user = pod_from(doc)
    review = review_for(ns, pod, user)
    ops = decoded_patch(check_envelope(review, call_inject(env, review)))
    record_result("injection", "/inject patch paths: " + ", ".join(f"{o['op']} {o['path']}" for o in ops))
    for op in ops:
        tokens = op["path"].split("/")[1:]
        if tokens[:2] in (["metadata", "annotations"], ["metadata", "labels"]) and len(tokens) > 2:
            assert len(tokens) == 3, f"an annotation/label key with an unescaped '/': {op['path']}"
    patched = inj.apply_json_patch(pod, ops)
    assert patched["metadata"]["annotations"]["team.example.com/owner"] == "payments"
    assert "sidecar.istio.io/status" in patched["metadata"]["annotations"]


def test_not_an_admission_review(env):
    status, body = post(env, "/inject", b"{\"kind\": \"Pod\"}")
    assert 400 <= status < 500, (status, body[:300])


def test_webhook_certificate_is_meshds(env):
    """The certificate verifies against meshd's root for meshd.mesh-system.svc; a stranger's root
    does not verify it."""
    host, port = env.webhook.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        with ssl.create_default_context(cadata=env.root).wrap_socket(s, server_hostname=SERVER_NAME) as tls:
            assert tls.getpeercert()
    with pytest.raises(ssl.SSLError):
        with socket.create_connection((host, int(port)), timeout=5) as s:
            ssl.create_default_context(cadata=env.api.ca_pem.decode()).wrap_socket(s, server_hostname=SERVER_NAME)


def test_istio_ca_root_cert_in_every_namespace(env):
    """ConfigMap istio-ca-root-cert (root-cert.pem = meshd's root), which istiod-ca-cert mounts,
    in existing namespaces and in one created later."""
    env.api.create(namespace("created-later"))

    def have(ns):
        cm = env.api.get("configmaps", ns, "istio-ca-root-cert")
        return cm is not None and (cm.get("data") or {}).get("root-cert.pem", "").strip() == env.root.strip()
    for ns in ("default", "shop", "created-later"):
        wait_until(lambda: have(ns), 20, f"ConfigMap istio-ca-root-cert with meshd's root in {ns}",
                   describe=lambda: json.dumps(env.api.get("configmaps", ns, "istio-ca-root-cert")))


def test_registry_kubernetes_alone_serves_inject(env, request, tmp_path):
    """`--registry kubernetes` without the Kubernetes store serves /inject too."""
    with another_cluster(tmp_path) as (api, kubeconfig):
        m = kube_meshd(api, kubeconfig, name="meshd-registry-only", store=False)
        attach(request, "registry-only meshd log", lambda: m.tail(200))
        try:
            m.start()
            doc = inj.documents("bookinfo.yaml")[2]
            ns, pod, workload, user = pod_from(doc)
            review = review_for(ns, pod, user)
            response = check_envelope(review, call_inject(env, review, address=webhook_address(m), root=m.ca_root()))
            patched = inj.apply_json_patch(pod, decoded_patch(response))
            inj.check_injected(pod, patched, workload, inj.TEST_VALUES, "registry-only meshd")
        finally:
            m.close()


def test_unknown_values_key_stops_meshd(tmp_path, request):
    bad = tmp_path / "values.yaml"
    bad.write_text("hub: registry.test/meshd\nsidecarImage: nope\n")
    with another_cluster(tmp_path) as (api, kubeconfig):
        m = kube_meshd(api, kubeconfig, name="meshd-bad-values", store=False, values=bad)
        attach(request, "bad-values meshd log", lambda: m.tail(200))
        try:
            with pytest.raises(MeshdError) as refused:
                m.start(timeout=20)
            code = m.proc.returncode if m.proc is not None else None
            record_result("injection", f"meshd with an unknown values key: exit {code}")
            assert code is not None and code > 0, (f"meshd must exit with an error, not {code} "
                                                   f"(a negative code is a signal: a crash):\n{m.tail(15)}")
            assert "sidecarImage" in m.tail(400), f"meshd's message must name the key:\n{m.tail(30)}"
        finally:
            m.close()


# ------------------------------------------------------------------------------ end to end


def injector_configuration(ca_bundle: str | None = None) -> dict:
    """The MutatingWebhookConfiguration meshd-sidecar-injector of docs/injection.md (as shipped:
    failurePolicy Ignore and no caBundle until meshd's leader patches them)."""
    def hook(name, ns_selector, obj_selector):
        client = {"service": {"name": "meshd", "namespace": SYSTEM_NAMESPACE, "path": "/inject", "port": 443}}
        if ca_bundle:
            client["caBundle"] = ca_bundle
        return {"name": name, "clientConfig": client, "namespaceSelector": ns_selector, "objectSelector": obj_selector,
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "failurePolicy": "Ignore", "reinvocationPolicy": "Never", "sideEffects": "None",
                "admissionReviewVersions": ["v1"], "timeoutSeconds": 10}
    not_false = {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn", "values": ["false"]}]}
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": "meshd-sidecar-injector"},
            "webhooks": [
                hook("namespace.sidecar-injector.meshd.io", {"matchLabels": {"istio-injection": "enabled"}}, not_false),
                hook("rev.namespace.sidecar-injector.meshd.io",
                     {"matchExpressions": [{"key": "istio.io/rev", "operator": "In", "values": ["default"]},
                                           {"key": "istio-injection", "operator": "DoesNotExist"}]}, not_false),
                hook("object.sidecar-injector.meshd.io",
                     {"matchExpressions": [{"key": "istio-injection", "operator": "DoesNotExist"},
                                           {"key": "istio.io/rev", "operator": "DoesNotExist"}]},
                     {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "In", "values": ["true"]}]})]}


def kubectl(env, *args, stdin: str | None = None, check: bool = True):
    import subprocess
    p = subprocess.run(["kubectl", "--kubeconfig", env.kubeconfig, *args], input=stdin, capture_output=True, text=True, timeout=30)
    if check:
        assert p.returncode == 0, f"kubectl {' '.join(args)} exited {p.returncode}: {p.stdout}{p.stderr}"
    return p


def stand_in_mutates(api) -> bool:
    try:
        api.resource("mutatingwebhookconfigurations")
        return True
    except KeyError:
        return False


def test_kubectl_apply_through_the_mutating_webhook(env):
    if not stand_in_mutates(env.api):
        pytest.skip("the stand-in API server has no mutating admission webhooks yet")
    api = env.api
    for name, labels in (("injected", {"istio-injection": "enabled"}), ("revisioned", {"istio.io/rev": "default"}),
                         ("plain", None)):
        api.create(namespace(name, labels))
    assert validate(injector_configuration()) == "1.32"
    inj.check_injector_configuration({**injector_configuration(), "webhooks": [
        {**h, "failurePolicy": "Fail"} for h in injector_configuration()["webhooks"]]})

    def patched():
        hooks = api.get("mutatingwebhookconfigurations", "", "meshd-sidecar-injector")["webhooks"]
        return all(h.get("failurePolicy") == "Fail" and h.get("clientConfig", {}).get("caBundle") for h in hooks)
    wait_until(patched, 20, "meshd's leader patching the injector's caBundle and failurePolicy: Fail",
               describe=lambda: json.dumps(api.get("mutatingwebhookconfigurations", "", "meshd-sidecar-injector"))[:2000])
    bundle = api.get("mutatingwebhookconfigurations", "", "meshd-sidecar-injector")["webhooks"][0]["clientConfig"]["caBundle"]
    assert base64.b64decode(bundle).decode().strip() == env.root.strip()

    base = next(d for d in inj.documents("init-containers.yaml"))

    def pod_yaml(name: str, ns: str, labels: dict | None = None, annotations: dict | None = None) -> str:
        p = copy.deepcopy(base)
        p["metadata"] = {"name": name, "namespace": ns, "labels": {**p["metadata"]["labels"], **(labels or {})}}
        if annotations:
            p["metadata"]["annotations"] = annotations
        return yaml.safe_dump(p, sort_keys=False)

    def stored(ns, name):
        return api.get("pods", ns, name)

    def containers(pod):
        return [c["name"] for c in pod["spec"]["containers"]]

    kubectl(env, "apply", "-f", "-", stdin=pod_yaml("orders", "injected"))
    pod = stored("injected", "orders")
    assert containers(pod) == ["orders", "log-shipper", "istio-proxy"], containers(pod)
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["wait-for-db", "migrate", "istio-init"]
    assert json.loads(pod["metadata"]["annotations"]["sidecar.istio.io/status"])["containers"] == ["istio-proxy"]
    assert pod["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"

    # the stored pod is kube-inject's output for the object the webhook was sent (server fields aside)
    calls = [c for c in api.admission_calls if c.get("webhook") == "namespace.sidecar-injector.meshd.io"
             and (c["review"]["request"].get("namespace"), c["review"]["request"].get("name")) == ("injected", "orders")]
    assert len(calls) == 1, [(c.get("webhook"), c["review"]["request"].get("name")) for c in api.admission_calls]
    sent = calls[0]["review"]["request"]["object"]
    expected = inj.inject_ok(text=inj.dump(sent))[0][0]
    server_fields = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")
    got = copy.deepcopy(pod)
    for k in server_fields:
        got["metadata"].pop(k, None)
        expected["metadata"].pop(k, None)
    got.pop("status", None)
    expected.pop("status", None)
    assert got == expected, "the stored pod differs from kube-inject's:\n" + diff(got, expected)

    kubectl(env, "apply", "-f", "-", stdin=pod_yaml("orders", "revisioned"))
    assert containers(stored("revisioned", "orders"))[-1] == "istio-proxy"
    kubectl(env, "apply", "-f", "-", stdin=pod_yaml("orders", "plain"))
    assert containers(stored("plain", "orders")) == ["orders", "log-shipper"], "an unlabelled namespace gets no sidecar"
    kubectl(env, "apply", "-f", "-", stdin=pod_yaml("opted-in", "plain", {"sidecar.istio.io/inject": "true"}))
    assert containers(stored("plain", "opted-in"))[-1] == "istio-proxy", "an object labelled inject=true does"
    kubectl(env, "apply", "-f", "-", stdin=pod_yaml("opted-out", "injected", {"sidecar.istio.io/inject": "false"}))
    assert containers(stored("injected", "opted-out")) == ["orders", "log-shipper"]

    warned = kubectl(env, "apply", "-f", "-", stdin=pod_yaml("warned", "injected", annotations={
        "traffic.sidecar.istio.io/includeOutboundPorts": "443"}))
    assert "Warning:" in warned.stderr and "traffic.sidecar.istio.io/includeOutboundPorts" in warned.stderr, warned.stderr
    refused = kubectl(env, "apply", "-f", "-", check=False, stdin=pod_yaml("refused", "injected", annotations={
        "traffic.sidecar.istio.io/excludeInboundPorts": "80,abc"}))
    record_result("injection", f"kubectl apply of a malformed annotation: {refused.stderr.strip()}")
    assert refused.returncode != 0
    assert 'admission webhook "namespace.sidecar-injector.meshd.io" denied the request' in refused.stderr, refused.stderr
    assert "traffic.sidecar.istio.io/excludeInboundPorts" in refused.stderr, refused.stderr
    assert stored("injected", "refused") is None
