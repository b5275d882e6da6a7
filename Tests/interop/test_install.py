"""`meshctl manifest generate`, `install`, `uninstall` and `verify-install` (issue 27, docs/install.md).

- Every profile's objects validate against the Kubernetes 1.32 schemas (PyPI's
  kubernetes-validate, strict), and the values reach them; unknown values are refused.
- The gateway the install deploys renders a router bootstrap through the real proxy entrypoint.
- Against the stand-in API server (kube_apiserver.py: server-side apply, Deployments, webhooks):
  `install` creates exactly the generated objects and waits for the rollout (the test sets the
  Deployments' status as the deployment controller would); a second run changes no object;
  `uninstall` removes them (the CRDs only with --purge).
- End to end: after `install`, a real meshd on the stand-in patches both webhook configurations'
  caBundle and publishes the root ConfigMap; a pod applied with kubectl in a namespace labelled
  istio-injection=enabled is stored with its sidecar, one in an unlabelled namespace without;
  `verify-install` then passes.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from deploy_manifests import kv
from kube_apiserver import KubeApiServer
from kube_fixtures import attach, namespace, wait_until, webhook_address
from meshd_process import meshctl_bin

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "install-admin-token"
SYSTEM_NAMESPACE = "mesh-system"
PROFILES = ["default", "demo", "minimal"]


def meshctl(*args, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([meshctl_bin(), *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, f"meshctl {' '.join(args)} exited {p.returncode}: {p.stdout}{p.stderr}"
    return p


def generate(*args) -> list[dict]:
    return [d for d in yaml.safe_load_all(meshctl("manifest", "generate", *args).stdout) if d]


def named(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} objects"
    return matches[0]


# --- manifest generate -----------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_validates_against_the_kubernetes_schemas(profile):
    objects = generate("--profile", profile)
    for obj in objects:
        assert kv.validate(obj, "1.32.0", strict=True), f"{obj['kind']}/{obj['metadata']['name']}"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "meshctl"
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "Namespace" and kinds.count("CustomResourceDefinition") == 10
    # What a later object names comes first: CRDs before the webhook naming their kinds, the
    # ConfigMap and ServiceAccount before the Deployment mounting and running as them.
    assert kinds.index("ConfigMap") < kinds.index("Deployment") and kinds.index("ServiceAccount") < kinds.index("Deployment")
    assert max(i for i, k in enumerate(kinds) if k == "CustomResourceDefinition") < kinds.index("ValidatingWebhookConfiguration")
    meshd = named(objects, "Deployment", "meshd")
    assert meshd["spec"]["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    container = meshd["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 15014}
    assert "--injection-values" in container["args"]
    injector = named(objects, "MutatingWebhookConfiguration", "meshd-sidecar-injector")
    hooks = {h["name"]: h for h in injector["webhooks"]}
    assert set(hooks) == {"namespace.sidecar-injector.meshd.io", "rev.namespace.sidecar-injector.meshd.io",
                          "object.sidecar-injector.meshd.io"}
    for hook in hooks.values():
        assert hook["clientConfig"]["service"] == {"name": "meshd", "namespace": SYSTEM_NAMESPACE, "path": "/inject", "port": 443}
        assert hook["sideEffects"] == "None" and hook["failurePolicy"] == "Fail" and hook["reinvocationPolicy"] == "Never"
        assert hook["rules"] == [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                                  "scope": "*"}]
    assert hooks["namespace.sidecar-injector.meshd.io"]["namespaceSelector"] == {
        "matchExpressions": [{"key": "istio-injection", "operator": "In", "values": ["enabled"]}]}
    gateways = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"} - {"meshd"}
    assert gateways == {"default": {"istio-ingressgateway"}, "demo": {"istio-ingressgateway", "istio-egressgateway"},
                        "minimal": set()}[profile]


def test_values_reach_the_objects_and_unknown_ones_are_refused(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("hub: registry.example/mesh\nmeshd:\n  replicas: 3\ngateways:\n  ingress: {serviceType: NodePort}\n")
    objects = generate("-f", str(values), "--set", "namespace=mesh", "--set", "tag=1.2.3")
    meshd = named(objects, "Deployment", "meshd")
    assert meshd["spec"]["replicas"] == 3 and meshd["metadata"]["namespace"] == "mesh"
    assert meshd["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/mesh/meshd:1.2.3"
    assert named(objects, "Service", "istio-ingressgateway")["spec"]["type"] == "NodePort"
    injector_values = yaml.safe_load(named(objects, "ConfigMap", "meshd-sidecar-injector")["data"]["values.yaml"])
    assert injector_values["hub"] == "registry.example/mesh" and injector_values["systemNamespace"] == "mesh"
    gateway = named(objects, "Deployment", "istio-ingressgateway")["spec"]["template"]["spec"]["containers"][0]
    assert gateway["image"] == "registry.example/mesh/proxy:1.2.3"
    env = {e["name"]: e.get("value") for e in gateway["env"]}
    assert env["MESH_DISCOVERY_ADDRESS"] == "meshd.mesh.svc:15013" and env["MESH_PROXY_TYPE"] == "router"
    for bad, named_key in [(["--set", "meshd.replica=3"], "meshd.replica"), (["--set", "meshd.replicas=two"], "meshd.replicas"),
                           (["--set", "gateways.ingress.serviceType=Ingress"], "serviceType"),
                           (["--profile", "huge"], "huge")]:
        p = meshctl("manifest", "generate", *bad, check=False)
        assert p.returncode != 0 and named_key in p.stderr and p.stdout == "", (bad, p.stderr)


def test_the_installed_gateway_renders_a_router_bootstrap_through_the_proxy_entrypoint():
    """The gateway container's environment, with the downward API filled in, through the real
    mesh-proxy.sh: a router node labelled as Gateway resources select it."""
    gateway = named(generate(), "Deployment", "istio-ingressgateway")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in gateway["env"] if "value" in e}
    env.update(POD_NAME="istio-ingressgateway-5d9c7-abcde", POD_NAMESPACE=SYSTEM_NAMESPACE, INSTANCE_IP="10.1.2.3",
               SERVICE_ACCOUNT="istio-ingressgateway", MESHCTL_BIN=meshctl_bin(), PATH=os.environ["PATH"])
    p = subprocess.run(["bash", str(REPO / "deploy" / "proxy" / "mesh-proxy.sh"), "render"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    node = json.loads(p.stdout)["node"]
    assert node["id"] == "router~10.1.2.3~istio-ingressgateway-5d9c7-abcde.mesh-system~mesh-system.svc.cluster.local"
    assert node["metadata"]["LABELS"] == {"app": "istio-ingressgateway", "istio": "ingressgateway"}


# --- install against the stand-in ------------------------------------------------------------

@pytest.fixture
def cluster(request, tmp_path):
    work = tmp_path / "kube-apiserver"
    work.mkdir()
    api = KubeApiServer(tokens={ADMIN_TOKEN}, bookmark_interval=0.3, workdir=str(work))
    api.start()
    attach(request, "stand-in API server: last requests",
           lambda: "\n".join(f"{m} {p} -> {s}" for m, p, s in list(api.requests)[-80:]))
    try:
        api.kubeconfig_path = api.kubeconfig(str(tmp_path / "kubeconfig"), ADMIN_TOKEN)
        yield api
    finally:
        api.stop()


PLURALS = {"Namespace": "namespaces", "ServiceAccount": "serviceaccounts", "ConfigMap": "configmaps",
           "Service": "services", "CustomResourceDefinition": "customresourcedefinitions",
           "ClusterRole": "clusterroles", "ClusterRoleBinding": "clusterrolebindings", "Role": "roles",
           "RoleBinding": "rolebindings", "Deployment": "deployments", "PodDisruptionBudget": "poddisruptionbudgets",
           "ValidatingWebhookConfiguration": "validatingwebhookconfigurations",
           "MutatingWebhookConfiguration": "mutatingwebhookconfigurations"}


def stored(api, obj: dict) -> dict | None:
    meta = obj["metadata"]
    return api.get(PLURALS[obj["kind"]], meta.get("namespace", ""), meta["name"])


def contains(actual, expected) -> bool:
    """Whether everything `expected` sets is in `actual` (the server adds defaults and status)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(contains, actual, expected))
    return actual == expected


def install_in_background(api, *args) -> tuple[threading.Thread, dict]:
    """Runs `meshctl install` while the test plays the deployment controller."""
    result: dict = {}

    def run():
        result["p"] = meshctl("install", "--kubeconfig", api.kubeconfig_path, "--timeout", "60s", *args,
                              timeout=90, check=False)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def roll_out(api, names, thread) -> None:
    """As the deployment controller: once each Deployment exists, report it rolled out."""
    done: set = set()
    deadline = time.monotonic() + 60
    while thread.is_alive() and time.monotonic() < deadline:
        for name in names:
            if name not in done and api.get("deployments", SYSTEM_NAMESPACE, name) is not None:
                api.set_deployment_ready(SYSTEM_NAMESPACE, name)
                done.add(name)
        time.sleep(0.1)
    thread.join(timeout=30)


def versions(api, objects) -> dict:
    return {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): stored(api, o)["metadata"]["resourceVersion"]
            for o in objects}


def test_install_creates_the_generated_objects_twice_changes_nothing_and_uninstall_removes_them(cluster):
    objects = generate()
    thread, result = install_in_background(cluster)
    roll_out(cluster, ["meshd", "istio-ingressgateway"], thread)
    p = result["p"]
    assert p.returncode == 0, p.stderr
    assert f"applied {len(objects)} objects ({len(objects)} changed)" in p.stderr
    assert "deployment mesh-system/meshd is ready" in p.stderr
    for obj in objects:
        have = stored(cluster, obj)
        assert have is not None, f"{obj['kind']}/{obj['metadata']['name']} was not created"
        assert contains(have, obj), f"{obj['kind']}/{obj['metadata']['name']} differs from the generated object"
        managers = {m["manager"] for m in have["metadata"].get("managedFields", []) if m.get("operation") == "Apply"}
        assert managers == {"meshctl-install"}, (obj["kind"], managers)
    # Nothing else in the install's name.
    for plural in set(PLURALS.values()):
        for key, o in cluster.state(plural).items():
            if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/managed-by") == "meshctl":
                assert any(stored(cluster, g) == o for g in objects if PLURALS[g["kind"]] == plural), key

    before = versions(cluster, objects)
    again = meshctl("install", "--kubeconfig", cluster.kubeconfig_path, "--timeout", "30s", timeout=60)
    assert f"applied {len(objects)} objects (0 changed)" in again.stderr
    assert versions(cluster, objects) == before, "a second install changed objects"

    meshctl("uninstall", "--kubeconfig", cluster.kubeconfig_path)
    left = [o for o in objects if stored(cluster, o) is not None]
    assert {o["kind"] for o in left} <= {"CustomResourceDefinition"}, [f"{o['kind']}/{o['metadata']['name']}" for o in left]
    assert len(left) == 10, "uninstall without --purge keeps the CRDs"
    meshctl("uninstall", "--purge", "--kubeconfig", cluster.kubeconfig_path)
    assert all(stored(cluster, o) is None for o in objects)


def test_install_with_wait_false_returns_at_once_and_a_rollout_that_never_ends_times_out(cluster):
    p = meshctl("install", "--kubeconfig", cluster.kubeconfig_path, "--wait=false", timeout=60)
    assert "is ready" not in p.stderr
    assert cluster.get("deployments", SYSTEM_NAMESPACE, "meshd") is not None
    slow = meshctl("install", "--kubeconfig", cluster.kubeconfig_path, "--timeout", "2s", timeout=60, check=False)
    assert slow.returncode != 0 and "deployment mesh-system/meshd did not become ready within" in slow.stderr, slow.stderr


def test_after_install_meshd_makes_it_whole_and_pods_get_their_sidecar(cluster, meshd_factory, tmp_path):
    objects = generate()
    thread, result = install_in_background(cluster)
    roll_out(cluster, ["meshd", "istio-ingressgateway"], thread)
    assert result["p"].returncode == 0, result["p"].stderr
    # meshd as the Deployment runs it, with the injector's values from the installed ConfigMap.
    values = tmp_path / "values.yaml"
    values.write_text(cluster.get("configmaps", SYSTEM_NAMESPACE, "meshd-sidecar-injector")["data"]["values.yaml"])
    meshd = meshd_factory(extra_args=[
        "--store", "kubernetes", "--registry", "kubernetes", "--kubeconfig", cluster.kubeconfig_path,
        "--replica-name", "meshd-a", "--system-namespace", SYSTEM_NAMESPACE, "--webhook-port", "0",
        "--injection-values", str(values)], name="meshd-a")
    cluster.add_webhook_service(SYSTEM_NAMESPACE, "meshd", webhook_address(meshd))

    def trusted():
        for plural, name in [("validatingwebhookconfigurations", "meshd-validator"),
                             ("mutatingwebhookconfigurations", "meshd-sidecar-injector")]:
            hooks = cluster.get(plural, "", name)["webhooks"]
            if not all(h.get("clientConfig", {}).get("caBundle") for h in hooks):
                return False
        return cluster.get("configmaps", SYSTEM_NAMESPACE, "istio-ca-root-cert") is not None
    wait_until(trusted, 30, "caBundles patched and the root ConfigMap published", describe=lambda: meshd.tail(40))
    root = cluster.get("configmaps", SYSTEM_NAMESPACE, "istio-ca-root-cert")["data"]["root-cert.pem"]
    bundle = cluster.get("mutatingwebhookconfigurations", "", "meshd-sidecar-injector")["webhooks"][0]["clientConfig"]["caBundle"]
    assert base64.b64decode(bundle).decode() == root

    cluster.create(namespace("bookinfo", {"istio-injection": "enabled"}))
    cluster.create(namespace("plain"))
    wait_until(lambda: cluster.get("configmaps", "bookinfo", "istio-ca-root-cert") is not None, 30,
               "the root ConfigMap in a new namespace")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reviews-v1", "labels": {"app": "reviews", "version": "v1"}},
           "spec": {"containers": [{"name": "reviews", "image": "reviews:1"}]}}
    for ns in ("bookinfo", "plain"):
        p = subprocess.run(["kubectl", "--kubeconfig", cluster.kubeconfig_path, "-n", ns, "apply", "-f", "-"],
                           input=json.dumps(pod), capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
    injected = cluster.get("pods", "bookinfo", "reviews-v1")
    names = [c["name"] for c in injected["spec"]["containers"]]
    assert names == ["reviews", "istio-proxy"], names
    assert [c["name"] for c in injected["spec"]["initContainers"]] == ["istio-init"]
    assert injected["metadata"]["labels"]["security.istio.io/tlsMode"] == "istio"
    plain = cluster.get("pods", "plain", "reviews-v1")
    assert [c["name"] for c in plain["spec"]["containers"]] == ["reviews"]

    check = meshctl("verify-install", "--kubeconfig", cluster.kubeconfig_path, "--injection-namespace", "bookinfo",
                    timeout=60, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "meshd is installed and working" in check.stdout
    assert f"{len(objects)} of {len(objects)} objects present" in check.stdout
