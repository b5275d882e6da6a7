"""The Gateway API's HTTPRoute, GRPCRoute and ReferenceGrant with `--store kubernetes`: meshd
reads them from the stand-in API server (kube_apiserver.py) once their CRDs
(deploy/kubernetes/gateway-api-crds.yaml, Gateway API v1.6.1) are installed, and the elected
replica writes each route's `status.parents` there, as a Gateway API controller does.

- without the CRDs meshd starts ready, with no `kubernetes` degradation and no failing
  collection; the CRDs installed later, meshd picks the kinds up within its 30 s poll and serves
  a route kubectl applied;
- kubectl's HTTPRoute and GRPCRoute on the Service `reviews` get `status.parents[]` written by
  meshd (controllerName meshd.io/gateway-controller, Accepted and ResolvedRefs True, each
  condition's observedGeneration = metadata.generation); a proxyless node's route config for
  reviews carries the routes' weighted clusters reviews-v1 / reviews-v2;
- status transitions: BackendNotFound (lastTransitionTime moves), RefNotPermitted across
  namespaces (still False: lastTransitionTime kept), a ReferenceGrant resolves it; another
  controller's entry in status.parents is kept through meshd's writes;
- `meshctl apply -f` through meshd writes the route into the API server; `meshctl get` lists it.

The services are ServiceEntries applied with kubectl (test_gateway_api_mesh.services()); the
route and grant documents are test_gateway_api_mesh's. Each wait is bounded.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

import configs
from ads_client import weighted_clusters
from kube_fixtures import kubernetes_degradation, namespace, wait_until
from meshd_process import run_meshctl
from results import record_result
from test_gateway_api_mesh import CONTROLLER, GATEWAY_API, cluster_of, parent_ref, reference_grant, route, services
from test_kube_config import cluster, config_meshd, repo_file, wait_revision  # noqa: F401  (fixtures)

CRDS = ("deploy", "kubernetes", "gateway-api-crds.yaml")
OTHER_CONTROLLER = "example.com/other"
CRD_POLL = 30.0          # meshd asks for a missing optional CRD every 30 s
TRUE = {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("True", "ResolvedRefs")}
V1, V2 = cluster_of("reviews-v1"), cluster_of("reviews-v2")


@pytest.fixture
def gateway_cluster(cluster):  # noqa: F811  (the fixture imported above)
    """The stand-in with the Gateway API CRDs installed from the start and a namespace `prod`."""
    cluster.install_crds(repo_file(*CRDS))
    cluster.create(namespace("prod"))
    return cluster


def kubectl_object(cluster, kind: str, name: str, ns: str = configs.NAMESPACE) -> dict | None:
    """`kubectl get KIND NAME -o yaml`, parsed (None when not found)."""
    p = cluster.kubectl("get", kind, name, "-n", ns, "-o", "yaml", check=False)
    if p.returncode != 0:
        assert "NotFound" in p.stderr, p.stderr
        return None
    return yaml.safe_load(p.stdout)


def our_parents(obj: dict) -> list[dict]:
    return [p for p in ((obj or {}).get("status") or {}).get("parents") or [] if p.get("controllerName") == CONTROLLER]


def route_conditions(obj: dict) -> dict:
    """type -> condition of meshd's one status.parents entry, its shape checked: the parent
    Service reviews:9080, and every condition with a reason, a lastTransitionTime and
    observedGeneration = metadata.generation."""
    mine = our_parents(obj)
    assert len(mine) == 1, f"expected one status.parents entry of {CONTROLLER}: {obj.get('status')}"
    assert mine[0]["parentRef"] == parent_ref(), mine[0]
    generation = obj["metadata"]["generation"]
    by_type = {c["type"]: c for c in mine[0]["conditions"]}
    for c in by_type.values():
        assert c["status"] in ("True", "False") and c.get("reason") and c.get("lastTransitionTime"), c
        assert c.get("observedGeneration") == generation, (c, f"metadata.generation {generation}")
    return by_type


def wait_kube_status(cluster, meshd, kind: str, name: str, want: dict, timeout: float = 15.0,
                     generation: int | None = None) -> tuple[dict, dict]:
    """kubectl get until meshd's status.parents entry has `want` ({type: (status, reason)}) for the
    route's current generation (at least `generation`); returns (object, conditions by type)."""
    last = {}

    def matches():
        obj = last["obj"] = kubectl_object(cluster, kind, name)
        if not obj or not our_parents(obj) or obj["metadata"]["generation"] < (generation or 0):
            return False
        got = {c["type"]: (c["status"], c["reason"]) for c in our_parents(obj)[0]["conditions"]}
        if any(got.get(t) != v for t, v in want.items()):
            return False
        if any(c.get("observedGeneration") != obj["metadata"]["generation"] for c in our_parents(obj)[0]["conditions"]):
            return False
        return obj
    wait_until(matches, timeout, f"kubectl get {kind} {name}: status.parents of {CONTROLLER} {want}", interval=0.3,
               describe=lambda: f"last status: {json.dumps((last.get('obj') or {}).get('status'))}\n{meshd.tail(30)}")
    return last["obj"], route_conditions(last["obj"])


def weighted_splits(route_config) -> list[dict]:
    """Each weighted route of a RouteConfiguration as {cluster: weight}."""
    return [{c.name: c.weight.value for c in r.route.weighted_clusters.clusters}
            for vh in route_config.virtual_hosts for r in vh.routes
            if r.HasField("route") and r.route.HasField("weighted_clusters")]


def grpc_route(weights: dict, name: str = "reviews-grpc") -> str:
    """A GRPCRoute on reviews:9080 for the gRPC service echo.Echo (so that it and the HTTPRoute's
    PathPrefix "/" are both routes of reviews' VirtualService)."""
    doc = yaml.safe_load(route("GRPCRoute", weights, name=name))
    doc["spec"]["rules"][0]["matches"] = [{"method": {"type": "Exact", "service": "echo.Echo"}}]
    return yaml.safe_dump(doc, sort_keys=False)


# ------------------------------------------------------------------ 1. the CRDs installed late


@pytest.mark.slow   # waits out meshd's 30 s poll for the CRDs; bounded under 60 s
def test_ready_without_the_crds_then_serves_routes_once_installed(cluster, config_meshd):
    """No Gateway API CRDs: meshd is ready, healthy, serves the kinds empty and says it watches
    for them; installed, kubectl's HTTPRoute is served within the 30 s poll (bounded at 40 s)."""
    started = time.monotonic()
    meshd = config_meshd()        # Meshd.start waits for /ready 200
    record_result("kube-gateway-api", f"meshd ready without the Gateway API CRDs in {time.monotonic() - started:.1f}s")
    wait_until(lambda: "watching for it" in meshd.tail(200), 10, "meshd's notice about the missing CRDs",
               describe=lambda: meshd.tail(40))
    for collection in ("httproutes", "grpcroutes", "referencegrants"):
        assert f"collection={collection}.gateway.networking.k8s.io" in meshd.tail(400), (collection, meshd.tail(40))

    ready = meshd.request("GET", "/ready")
    assert ready.status == 200 and ready.json().get("ready") is True, ready
    assert kubernetes_degradation(meshd) is None, ready.json()
    health = meshd.request("GET", "/healthz")
    assert health.status == 200 and health.json().get("status") == "ok", health
    ledger = meshd.request("GET", "/debug/ledger").json()
    assert ledger["failing"] == {} and ledger["problems"] == [], ledger
    for kind in ("httproutes", "grpcroutes", "referencegrants"):
        assert meshd.get(kind) == {"items": []}, kind

    cluster.install_crds(repo_file(*CRDS))
    installed = time.monotonic()
    cluster.kubectl("apply", "-f", "-", stdin=services())
    out = cluster.kubectl("apply", "-f", "-", stdin=route("HTTPRoute", {"reviews-v1": 50, "reviews-v2": 50})).stdout
    assert "httproute.gateway.networking.k8s.io/reviews created" in out, out

    served = wait_revision(meshd, "httproutes", "reviews", lambda r: True, "kubectl's HTTPRoute served by meshd",
                           timeout=CRD_POLL + 10)
    took = time.monotonic() - installed
    record_result("kube-gateway-api", f"HTTPRoute served {took:.1f}s after the CRDs were installed (poll {CRD_POLL:g}s)")
    assert served["apiVersion"] == GATEWAY_API and served["kind"] == "HTTPRoute", served
    assert [b["name"] for b in served["spec"]["rules"][0]["backendRefs"]] == ["reviews-v1", "reviews-v2"], served
    # Each kind is polled on its own: the other two follow within moments.
    kinds = {f"{k}.gateway.networking.k8s.io" for k in ("httproutes", "grpcroutes", "referencegrants")}
    wait_until(lambda: kinds <= set(meshd.request("GET", "/debug/ledger").json()["synced"]), 5,
               f"{sorted(kinds)} synced in /debug/ledger", describe=lambda: meshd.request("GET", "/debug/ledger").text)
    assert kubernetes_degradation(meshd) is None
    assert time.monotonic() - started < 60, f"the test took {time.monotonic() - started:.1f}s"


# ------------------------------------------------------------------ 2. status and xDS


def test_kubectl_routes_get_status_and_reach_a_proxyless_node(gateway_cluster, config_meshd, ads_clients, node_id):
    cluster = gateway_cluster
    meshd = config_meshd()
    cluster.kubectl("apply", "-f", "-", stdin=services())
    out = cluster.kubectl("apply", "-f", "-", stdin=configs.join(
        route("HTTPRoute", {"reviews-v1": 80, "reviews-v2": 20}), grpc_route({"reviews-v1": 50, "reviews-v2": 50}))).stdout
    assert "httproute.gateway.networking.k8s.io/reviews created" in out, out
    assert "grpcroute.gateway.networking.k8s.io/reviews-grpc created" in out, out

    for kind, name in (("httproute", "reviews"), ("grpcroute", "reviews-grpc")):
        obj, conds = wait_kube_status(cluster, meshd, kind, name, TRUE)
        assert obj["metadata"]["generation"] == 1, obj["metadata"]
        assert (conds["Accepted"]["message"], conds["ResolvedRefs"]["message"]) == ("Route was valid", "All references resolved"), conds
        assert [p["controllerName"] for p in obj["status"]["parents"]] == [CONTROLLER], obj["status"]
        # The status is the API server's: the main resource's managedFields name meshd's status manager.
        stored = cluster.get(f"{kind}s", configs.NAMESPACE, name)
        assert any(e["manager"] == "meshd-status" and e.get("subresource") == "status"
                   for e in stored["metadata"].get("managedFields", [])), stored["metadata"].get("managedFields")

    client = ads_clients(meshd.xds_address, node_id("grpc"))
    want = [{V1: 80, V2: 20}, {V1: 50, V2: 50}]

    def routed(c):
        rc = c.state["RDS"].get(configs.LISTENER)
        return rc is not None and all(split in weighted_splits(rc.message) for split in want)
    client.wait_for(routed, 15, f"route config {configs.LISTENER} with the splits {want}")
    rc = client.state["RDS"][configs.LISTENER].message
    assert set(weighted_clusters(rc)) == {V1, V2}, weighted_clusters(rc)
    client.wait_for(lambda c: {V1, V2} <= set(c.state["CDS"]), 10, "the clusters of reviews-v1 and reviews-v2")
    record_result("kube-gateway-api", f"proxyless route config for {configs.LISTENER}: {weighted_splits(rc)}")


# ------------------------------------------------------------------ 3. status transitions


def other_controllers_entry(generation: int) -> dict:
    return {"parentRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "other-gateway"},
            "controllerName": OTHER_CONTROLLER,
            "conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted", "message": "mine",
                            "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": generation}]}


def test_status_transitions_and_other_controllers_entries(gateway_cluster, config_meshd):
    cluster = gateway_cluster
    meshd = config_meshd()
    cluster.kubectl("apply", "-f", "-", stdin=configs.join(services(), configs.namespaced_service("ratings", "prod", 9084)))

    def apply(weights: dict):
        cluster.kubectl("apply", "-f", "-", stdin=route("HTTPRoute", weights))
        return cluster.get("httproutes", configs.NAMESPACE, "reviews")["metadata"]["generation"]

    gen = apply({"reviews-v1": 50, "reviews-v2": 50})
    _, ok = wait_kube_status(cluster, meshd, "httproute", "reviews", TRUE, generation=gen)
    time.sleep(1.1)   # lastTransitionTime has a resolution of one second

    # A missing backend: ResolvedRefs False, its lastTransitionTime moves; Accepted's stays.
    gen = apply({"reviews-v1": 50, "reviews-v3": 50})
    _, missing = wait_kube_status(cluster, meshd, "httproute", "reviews",
                                  {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")}, generation=gen)
    assert missing["ResolvedRefs"]["message"] == "backend(reviews-v3.default.svc.cluster.local) not found", missing
    assert missing["ResolvedRefs"]["lastTransitionTime"] > ok["ResolvedRefs"]["lastTransitionTime"], (ok, missing)
    assert missing["Accepted"]["lastTransitionTime"] == ok["Accepted"]["lastTransitionTime"], (ok, missing)

    # Another controller's entry, written through the status subresource as that controller would.
    current = kubectl_object(cluster, "httproute", "reviews")
    parents = current["status"]["parents"] + [other_controllers_entry(current["metadata"]["generation"])]
    cluster.kubectl("patch", "httproute", "reviews", "-n", configs.NAMESPACE, "--subresource=status", "--type=merge",
                    "-p", json.dumps({"status": {"parents": parents}}))
    time.sleep(1.1)

    def others(obj: dict) -> list[dict]:
        return [p for p in obj["status"]["parents"] if p.get("controllerName") == OTHER_CONTROLLER]

    # A backend in prod without a grant: RefNotPermitted (still False: the time is kept); the
    # other controller's entry survives meshd's write.
    gen = apply({"reviews-v1": 50, "prod/ratings": 50})
    obj, refused = wait_kube_status(cluster, meshd, "httproute", "reviews", {"ResolvedRefs": ("False", "RefNotPermitted")},
                                    generation=gen)
    assert refused["ResolvedRefs"]["message"] == (
        'backendRef prod/ratings not accessible to a HTTPRoute in namespace "default" (missing a ReferenceGrant?)'), refused
    assert refused["ResolvedRefs"]["lastTransitionTime"] == missing["ResolvedRefs"]["lastTransitionTime"], (missing, refused)
    assert others(obj) == [other_controllers_entry(gen - 1)], obj["status"]

    # The grant in prod resolves it; the other entry is still there.
    out = cluster.kubectl("apply", "-f", "-", stdin=reference_grant("prod", configs.NAMESPACE, "ratings")).stdout
    assert "referencegrant.gateway.networking.k8s.io/allow-routes created" in out, out
    obj, granted = wait_kube_status(cluster, meshd, "httproute", "reviews", TRUE, generation=gen)
    assert granted["ResolvedRefs"]["lastTransitionTime"] > refused["ResolvedRefs"]["lastTransitionTime"], (refused, granted)
    assert others(obj) == [other_controllers_entry(gen - 1)], obj["status"]
    assert [p["controllerName"] for p in obj["status"]["parents"]].count(CONTROLLER) == 1, obj["status"]
    record_result("kube-gateway-api", "ResolvedRefs: " + " -> ".join(
        f"{c['ResolvedRefs']['reason']}@{c['ResolvedRefs']['lastTransitionTime']}" for c in (ok, missing, refused, granted)))


# ------------------------------------------------------------------ 4. writes through meshd


def test_meshctl_apply_writes_routes_into_the_api_server(gateway_cluster, config_meshd, tmp_path):
    cluster = gateway_cluster
    meshd = config_meshd()
    f = tmp_path / "routes.yaml"
    f.write_text(configs.join(services(), route("HTTPRoute", {"reviews-v1": 50, "reviews-v2": 50})))
    applied = run_meshctl(meshd.admin_url, "apply", "-f", str(f), check=False)
    assert applied.returncode == 0, f"meshctl apply -f exited {applied.returncode}: {applied.stdout}{applied.stderr}"
    assert "reviews" in applied.stdout, applied.stdout

    theirs = kubectl_object(cluster, "httproute", "reviews")
    assert theirs is not None, "kubectl get httproute reviews: not found after meshctl apply"
    assert theirs["apiVersion"] == GATEWAY_API and theirs["spec"]["parentRefs"] == [parent_ref()], theirs
    assert [b["name"] for b in theirs["spec"]["rules"][0]["backendRefs"]] == ["reviews-v1", "reviews-v2"], theirs
    managers = {e["manager"] for e in cluster.get("httproutes", configs.NAMESPACE, "reviews")["metadata"]["managedFields"]
                if e.get("subresource") != "status"}
    assert any(m.startswith("meshd:") for m in managers), managers

    lines = run_meshctl(meshd.admin_url, "get", "httproutes", "-n", configs.NAMESPACE).stdout.strip().splitlines()
    assert lines and lines[0].split()[0] == "NAME", lines
    assert [line.split()[0] for line in lines[1:]] == ["reviews"], lines
    wait_kube_status(cluster, meshd, "httproute", "reviews", TRUE)
