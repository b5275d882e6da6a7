"""meshd `--registry kubernetes` end to end (issue 25), against the stand-in Kubernetes API server
(kube_apiserver.py, HTTPS, in this process) with real clients: grpcio's proxyless xDS client,
an Envoy-like ADS client, real gRPC backends bound to loopback "pod IPs" (127.0.0.2, 127.0.0.3,
all on one port as a Deployment's pods), the Istio CA client and mesh-agent.

- canary on Services and pods alone (no ServiceEntry): DestinationRule subsets select pods by
  their labels, 50/50, shift to v2 under load with no failed RPC, roll back;
- a pod turning not ready (its EndpointSlice endpoint's `ready: false`): no RPC reaches it within
  2 s and only EDS is pushed; ready again, traffic returns, again EDS alone;
- a watch storm (server-ended watches, bookmark-only stretches, resets mid-event, 50 rapid
  patches of one pod, 410s mid-watch after compaction and as an ERROR event, a restart): meshd
  ends holding exactly the server's objects (key -> resourceVersion, all five resources),
  relisted only after 410s, and its registry shows the final pod labels;
- the API server unreachable: `/ready` names the `kubernetes` degradation (still 200), clients
  keep routing on the last known state; back, the degradation clears and a change made meanwhile
  arrives;
- the CA with service-account tokens reviewed by TokenReview (audience istio-ca): the identity is
  exactly the review's; a wrong audience, an unknown token and an unreachable API server are
  UNAUTHENTICATED with a message; meshd's own tokens still work; `mesh-agent --token-file`
  (re-read for each attempt: a rewritten file is picked up);
- a pod's label change moves its endpoint between DestinationRule subsets.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time

import grpc
import pytest
from cryptography import x509

import configs
import scenarios
from ca_tools import (CAClient, assert_verifies, b64url, cert_sans, chain_of, new_csr, spiffe_id, split_pem)
from kube_apiserver import KubeApiServer
from kube_fixtures import (RESOURCES, SERVICE_PORT, KubeView, attach, endpoint, endpoint_slice, host,
                           kubernetes_degradation, namespace, node, not_ready, pod, pod_backends,
                           reviews_objects, service, standin_items, wait_until)
from meshd_process import mesh_agent_bin, run_tool
from results import record_result

ADMIN_TOKEN = "meshd-registry-token"   # what meshd's kubeconfig carries
AUDIENCE = "istio-ca"
HOST = configs.HOST                    # reviews.default.svc.cluster.local
SLICE = "reviews-abcde"
POD_IPS = {"v1": "127.0.0.2", "v2": "127.0.0.3"}
OUTAGE = 3.0                           # seconds the API server stays away in the unreachable test


def sa_token(namespace_: str, sa: str, audience: str) -> str:
    """A JWT-shaped projected service-account token (the stand-in only looks it up; meshd must
    not take it for one of its own)."""
    header = {"alg": "RS256", "kid": "kube-sa-signing-key"}
    claims = {"iss": "https://kubernetes.default.svc.cluster.local", "aud": [audience],
              "sub": f"system:serviceaccount:{namespace_}:{sa}", "exp": int(time.time()) + 3600,
              "kubernetes.io": {"namespace": namespace_, "serviceaccount": {"name": sa}}}
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()),
                     b64url(os.urandom(256))])


TOKEN_REVIEWS = sa_token("shop", "reviews", AUDIENCE)
TOKEN_RATINGS = sa_token("shop", "ratings", AUDIENCE)
TOKEN_WRONG_AUDIENCE = sa_token("shop", "ratings", "https://kubernetes.default.svc.cluster.local")
TOKEN_UNKNOWN = sa_token("shop", "ghost", AUDIENCE)
SERVICE_ACCOUNTS = {
    TOKEN_REVIEWS: ("shop", "reviews", [AUDIENCE]),
    TOKEN_RATINGS: ("shop", "ratings", [AUDIENCE]),
    TOKEN_WRONG_AUDIENCE: ("shop", "ratings", ["https://kubernetes.default.svc.cluster.local"]),
}


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def kube_api(request, tmp_path):
    """The stand-in API server (HTTPS, bookmarks every 0.3 s), with the TokenReview bodies it got."""
    work = tmp_path / "kube-apiserver"
    work.mkdir()
    api = KubeApiServer(tokens={ADMIN_TOKEN}, service_accounts=dict(SERVICE_ACCOUNTS), bookmark_interval=0.3,
                        history_size=5000, workdir=str(work))
    api.reviews = []
    original = api.review

    def review(body):
        api.reviews.append(body)
        return original(body)
    api.review = review
    api.start()
    attach(request, "stand-in API server: last requests",
           lambda: "\n".join(f"{m} {p} -> {s}" for m, p, s in list(api.requests)[-80:]))
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def kube_meshd(kube_api, meshd_factory, tmp_path):
    """Factory: a meshd with `--registry kubernetes --kubeconfig` on the stand-in, every resource
    synced in /debug/kubernetes before it is returned."""
    def start(*extra):
        kc = kube_api.kubeconfig(str(tmp_path / "kubeconfig"), ADMIN_TOKEN)
        m = meshd_factory(extra_args=["--registry", "kubernetes", "--kubeconfig", kc, *extra], name="kube")
        KubeView(m).wait_synced()
        return m
    return start


@pytest.fixture
def pod_pair():
    """Backends v1 on 127.0.0.2 and v2 on 127.0.0.3, one port (the pods' container port)."""
    started = pod_backends(POD_IPS)
    try:
        yield started
    finally:
        for b in started.values():
            b.stop()


def create_all(api, objs) -> None:
    for o in objs:
        api.create(o)


def pushes_by_type(meshd) -> dict:
    """pilot_xds_pushes by its `type` label (cds, lds, rds, eds, ...)."""
    out: dict = {}
    for line in meshd.metrics().splitlines():
        m = re.match(r"^pilot_xds_pushes\{([^}]*)\}\s+(\S+)", line)
        if m:
            t = re.search(r'type="([^"]*)"', m.group(1))
            key = t.group(1) if t else m.group(1)
            out[key] = out.get(key, 0.0) + float(m.group(2))
    return out


def push_deltas(before: dict, after: dict) -> dict:
    return {t: after.get(t, 0.0) - before.get(t, 0.0) for t in set(before) | set(after)
            if after.get(t, 0.0) != before.get(t, 0.0)}


def eds_members(ads, cluster: str) -> dict | None:
    """address -> health_status (1 HEALTHY, 2 UNHEALTHY ...) in the client's current CLA of `cluster`."""
    with ads.cond:
        res = ads.state["EDS"].get(cluster)
        if res is None:
            return None
        return {lb.endpoint.address.socket_address.address: lb.health_status
                for group in res.message.endpoints for lb in group.lb_endpoints}


def responses_since(ads, n: int) -> list:
    with ads.cond:
        return list(ads.responses[n:])


def assert_only_eds(meshd, ads, n0: int, pushes_before: dict, what: str) -> None:
    """Since response #n0 the ADS client got EDS alone, and pilot_xds_pushes rose for eds alone."""
    ads.wait_quiet(1.0, timeout=15)
    got = responses_since(ads, n0)
    types = sorted({r.type for r in got})
    deltas = push_deltas(pushes_before, pushes_by_type(meshd))
    record_result("kube-registry", f"{what}: responses {[repr(r) for r in got]}; pilot_xds_pushes deltas {deltas}")
    assert got, f"{what}: the ADS client received nothing\n{ads.describe()}"
    assert types == ["EDS"], (
        f"{what} is an endpoint-only change: expected only EDS responses, got {[repr(r) for r in got]}"
        f"\npilot_xds_pushes deltas: {deltas}\n{meshd.tail(40)}")
    wrong = {t: d for t, d in deltas.items() if t != "eds"}
    assert not wrong and deltas.get("eds", 0) >= 1, (
        f"{what}: pilot_xds_pushes should rise for eds only, deltas {deltas}\n{meshd.tail(40)}")


def run_until(client, want: set, timeout: float, what: str, n: int = 40) -> dict:
    """Windows of n RPCs until one has no failure and answers exactly from `want`."""
    deadline = time.monotonic() + timeout
    while True:
        window = client.run(n, name=what, timeout=30)
        if window["failures"] == 0 and set(window["counts"]) == want:
            return window
        assert time.monotonic() < deadline, f"{what}: traffic never went to exactly {sorted(want)}: {window}"
        time.sleep(0.1)


def setup_reviews(api, kube_meshd, backends):
    """The reviews Service, pods v1/v2 on the backends' IPs and port, and their slice; meshd
    started and showing both endpoints healthy. Returns (meshd, view)."""
    port = backends["v1"].port
    create_all(api, reviews_objects(port, POD_IPS))
    meshd = kube_meshd()
    view = KubeView(meshd)
    view.wait_endpoints(HOST, lambda eps: sorted((e["address"], e["health"]) for e in eps)
                        == [("127.0.0.2", "HEALTHY"), ("127.0.0.3", "HEALTHY")],
                        what="reviews' two pods HEALTHY in /debug/registryz")
    return meshd, view


# ------------------------------------------------------------------------------ 1. canary


def test_canary_on_services_and_pods(kube_api, kube_meshd, pod_pair, xds_clients, node_id):
    """A Service and two pods (no ServiceEntry): the registry as Istio maps it, then the canary
    with grpcio's real xDS client: 50/50, shift to v2 under load without a failed RPC, roll back."""
    meshd, view = setup_reviews(kube_api, kube_meshd, pod_pair)
    port = pod_pair["v1"].port

    svc = view.service(HOST)
    assert svc["source"]["kind"] == "Service" and svc["source"]["name"] == "reviews" \
        and svc["source"]["namespace"] == "default", svc
    assert svc["namespace"] == "default", svc
    assert [(p["number"], p["name"], p["protocol"]) for p in svc["ports"]] == [(SERVICE_PORT, "grpc-echo", "GRPC")], svc
    by_ip = {e["address"]: e for e in svc["endpoints"]}
    for version, ip in POD_IPS.items():
        e = by_ip[ip]
        assert (e["port"], e["servicePort"], e["health"]) == (port, SERVICE_PORT, "HEALTHY"), e
        assert e["labels"] == {"app": "reviews", "version": version}, e
        assert e["serviceAccount"] in ("reviews", spiffe_id("default", "reviews")), e
        assert e["locality"].startswith("us-east1/us-east1-a"), e
        assert e["source"] == {"kind": "Pod", "namespace": "default", "name": f"reviews-{version}"}, e
    assert not [s for s in view.registryz()["services"] if s["source"]["kind"] == "ServiceEntry"]

    applied = meshd.apply(configs.join(configs.destination_rule(), configs.virtual_service({"v1": 50, "v2": 50})))
    meshd.wait_pushed(applied["revision"])

    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)

    split = scenarios.even_split(client, 1000)
    record_result("kube-canary", "50/50 " + scenarios.fmt(split))
    assert pod_pair["v1"].calls > 0 and pod_pair["v2"].calls > 0

    client.start_loop("load")

    def move(weights):
        state = {}

        def apply():
            state["before"] = meshd.acked_versions(meshd.proxy_status(proxy))
            result = meshd.apply(configs.virtual_service(weights))
            assert [r["action"] for r in result["results"]] == ["configured"], result

        def synced():
            meshd.wait_synced(proxy, changed_from=state["before"])

        return apply, synced

    to_v2 = scenarios.shift(client, *move({"v1": 0, "v2": 100}), expect="v2", label="to-v2")
    record_result("kube-canary", "shift 0/100: " + scenarios.fmt(to_v2["after"]))
    back = scenarios.shift(client, *move({"v1": 100, "v2": 0}), expect="v1", label="rollback")
    record_result("kube-canary", "rollback 100/0: " + scenarios.fmt(back["after"]))
    tail = client.stop_loop()
    scenarios.assert_no_failures(tail, "load after rollback")


# ------------------------------------------------------------------------------ 2. not ready


def test_pod_not_ready_is_an_eds_only_push(kube_api, kube_meshd, pod_pair, xds_clients, ads_clients, node_id):
    """The slice marks reviews-v2 not ready: within 2 s no RPC reaches it, no RPC fails, and
    only EDS is pushed (ADS client on CDS/LDS/RDS/EDS, pilot_xds_pushes). Ready again: traffic
    returns, again by EDS alone."""
    meshd, view = setup_reviews(kube_api, kube_meshd, pod_pair)
    client = xds_clients(meshd.xds_address, node_id("grpc"))
    scenarios.warm_up(client)
    run_until(client, {"v1", "v2"}, 20, "both-pods")

    ads = ads_clients(meshd.xds_address, node_id("ads"))
    ads.wait_quiet(1.0, timeout=15)
    assert set(ads.subs) == {"CDS", "LDS", "RDS", "EDS"} and all(ads.subs[t] is not None for t in ads.subs), ads.describe()
    cluster = configs.cluster()
    assert eds_members(ads, cluster) == {"127.0.0.2": 1, "127.0.0.3": 1}, ads.describe()

    slice_obj = kube_api.get("endpointslices", "default", SLICE)
    ep_v1, ep_v2 = slice_obj["endpoints"]
    assert ep_v2["addresses"] == ["127.0.0.3"]

    def flip(endpoints, label: str, want_members: dict):
        n0 = len(ads.responses)
        pushes = pushes_by_type(meshd)
        client.start_loop(label)
        time.sleep(0.3)
        v2 = pod_pair["v2"]
        calls, last_change = v2.calls, None
        t0 = time.monotonic()
        kube_api.patch("endpointslices", "default", SLICE, {"endpoints": endpoints})
        # Poll the not-ready pod's backend: when did it last get a call?
        while time.monotonic() - t0 < 3.0:
            if v2.calls != calls:
                calls, last_change = v2.calls, time.monotonic() - t0
            time.sleep(0.01)
        window = client.stop_loop()
        ads.wait_for(lambda c: eds_members(c, cluster) == want_members, 5, f"EDS {cluster} = {want_members}")
        assert_only_eds(meshd, ads, n0, pushes, label)
        return window, last_change

    # Not ready (and not terminating): UNHEALTHY, sent, no traffic.
    window, last = flip([ep_v1, not_ready(ep_v2)], "not-ready", {"127.0.0.2": 1, "127.0.0.3": 2})
    record_result("kube-not-ready", ("no RPC reached v2 after the patch" if last is None else
                                     f"last RPC at v2 {last:.3f}s after the patch") + "; " + scenarios.fmt(window))
    scenarios.assert_no_failures(window, "while reviews-v2 turned not ready")
    assert last is None or last <= 2.0, f"reviews-v2 still got RPCs {last:.2f}s after it turned not ready: {window}"
    calls = pod_pair["v2"].calls
    after = client.run(200, name="not-ready-after")
    assert after["failures"] == 0 and after["counts"] == {"v1": 200}, after
    assert pod_pair["v2"].calls == calls
    (e2,) = [e for e in view.endpoints(HOST) if e["address"] == "127.0.0.3"]
    assert e2["health"] == "UNHEALTHY", e2

    # Ready again: traffic returns, by EDS alone.
    n0 = len(ads.responses)
    pushes = pushes_by_type(meshd)
    kube_api.patch("endpointslices", "default", SLICE, {"endpoints": [ep_v1, ep_v2]})
    t0 = time.monotonic()
    ready = run_until(client, {"v1", "v2"}, 10, "ready-again")
    record_result("kube-not-ready", f"v2 answered again {time.monotonic() - t0:.2f}s after the patch: {scenarios.fmt(ready)}")
    ads.wait_for(lambda c: eds_members(c, cluster) == {"127.0.0.2": 1, "127.0.0.3": 1}, 5, "both endpoints HEALTHY in EDS")
    assert_only_eds(meshd, ads, n0, pushes, "ready-again")


# ------------------------------------------------------------------------------ 3. storm


def storm_objects() -> list[dict]:
    objs = [namespace("shop", {"team": "shop"}), namespace("temp"), node("node-a"), node("node-b", zone="us-east1-b")]
    for svc in ("reviews", "ratings"):
        objs.append(service(svc, "shop"))
        eps = []
        for i in range(3):
            name, ip = f"{svc}-{i}", f"10.1.{0 if svc == 'reviews' else 1}.{i + 10}"
            objs.append(pod(name, ip, {"app": svc, "version": f"v{i % 2 + 1}"}, ns="shop", service_account=svc,
                            node_name="node-a" if i % 2 == 0 else "node-b", container_port=8080))
            eps.append(endpoint(ip, name, ns="shop", node_name="node-a" if i % 2 == 0 else "node-b"))
        objs.append(endpoint_slice(f"{svc}-slice", svc, eps, 8080, ns="shop"))
    objs.append(pod("scratch", "10.1.9.9", {"app": "scratch"}, ns="temp"))
    return objs


def test_watch_storm_converges_to_the_servers_objects(kube_api, kube_meshd, request):
    """Server-ended watches, a bookmark-only stretch, a reset mid-event, 50 patches to one pod,
    410s mid-watch (compaction; an ERROR event), a restart: meshd ends with exactly the server's
    objects, lists == 1 + 410s for every resource, and /debug/registryz has the final labels."""
    api = kube_api
    create_all(api, storm_objects())
    meshd = kube_meshd()
    view = KubeView(meshd)
    attach(request, "/debug/kubernetes at failure", lambda: json.dumps(view.kubernetes(), indent=1))
    timeline = []

    def converged(what: str, timeout: float = 20.0) -> None:
        t0 = time.monotonic()
        wait_until(lambda: not view.mismatches(api), timeout, f"meshd's objects to equal the server's after {what}",
                   describe=lambda: json.dumps(view.mismatches(api), indent=1))
        timeline.append(f"{what}: {time.monotonic() - t0:.2f}s")

    def watches_open(what: str) -> None:
        wait_until(lambda: api.open_watches() >= len(RESOURCES), 20, f"meshd's {len(RESOURCES)} watches open before {what}",
                   describe=lambda: f"open watches: {api.open_watches()}\n{json.dumps(view.kubernetes(), indent=1)}")

    converged("the first lists")
    base = view.resources()
    assert all((base[r]["lists"], base[r]["gones"]) == (1, 0) for r in RESOURCES), base

    # 1. Watches ended by the server (a clean last chunk), then writes.
    watches_open("end_watches")
    api.end_watches()
    api.patch("services", "shop", "reviews", {"metadata": {"labels": {"tier": "backend"}}})
    api.create(pod("reviews-3", "10.1.0.13", {"app": "reviews", "version": "v2"}, ns="shop",
                   service_account="reviews", node_name="node-b"))
    converged("watches ended by the server")

    # 2. A stretch of bookmarks only, then one write.
    time.sleep(2.0)
    api.patch("nodes", "", "node-b", {"metadata": {"labels": {"topology.kubernetes.io/zone": "us-east1-c"}}})
    converged("a bookmark-only stretch")

    # 3. A reset in the middle of an event, then writes.
    watches_open("reset_watches")
    api.reset_watches()
    slice_obj = api.get("endpointslices", "shop", "reviews-slice")
    api.patch("endpointslices", "shop", "reviews-slice", {"endpoints": slice_obj["endpoints"] + [
        endpoint("10.1.0.13", "reviews-3", ns="shop", node_name="node-b")]})
    api.patch("namespaces", "", "shop", {"metadata": {"labels": {"team": "shop", "istio-injection": "enabled"}}})
    converged("a reset mid-event")

    # 4. Rapid updates to one object: 50 label patches to one pod.
    for i in range(50):
        api.patch("pods", "shop", "reviews-0", {"metadata": {"labels": {"rev": str(i)}}})
    converged("50 patches to one pod")

    # 5a. A 410 in the middle of a watch: events held, writes, history compacted -> ERROR 410 on
    # every open watch (their version is now older than the compaction), relist.
    watches_open("compaction")
    api.pause(30)
    api.patch("pods", "shop", "reviews-0", {"metadata": {"labels": {"version": "v3"}}})
    api.delete("pods", "shop", "ratings-2")
    api.patch("services", "shop", "ratings", {"metadata": {"labels": {"tier": "backend"}}})
    api.patch("nodes", "", "node-a", {"metadata": {"labels": {"storm": "yes"}}})
    api.delete("namespaces", "", "temp")  # and its pod
    api.compact()
    time.sleep(0.5)
    api.pause(0)
    converged("a compaction (410 mid-watch)")
    # 5b. A 410 as an ERROR event on every open watch.
    watches_open("fail_watches(410)")
    api.fail_watches(410)
    api.patch("pods", "shop", "ratings-0", {"metadata": {"labels": {"canary": "true"}}})
    converged("an ERROR 410 on every watch")

    # 6. The API server restarts (same port, same state): every connection cut.
    watches_open("restart")
    api.restart(keep_state=True)
    api.patch("pods", "shop", "reviews-1", {"metadata": {"labels": {"version": "v9"}}})
    api.create(namespace("late"))
    converged("an API server restart", timeout=30)

    # lists == 1 + 410s: relists only after a 410. (Wait a moment: a 410's relist may be counted
    # a step after its objects landed.)
    def relists_match():
        res = view.resources()
        return all(res[r]["lists"] == 1 + res[r]["gones"] for r in RESOURCES) and res
    res = wait_until(relists_match, 10, "lists == 1 + gones for every resource",
                     describe=lambda: json.dumps(view.kubernetes(), indent=1))
    record_result("kube-storm", "converged: " + "; ".join(timeline))
    record_result("kube-storm", "counters: " + ", ".join(
        f"{r}: lists={res[r]['lists']} gones={res[r]['gones']} failures={res[r]['failures']}" for r in RESOURCES))
    for r in RESOURCES:
        assert res[r]["synced"] is True, res[r]
        assert res[r]["gones"] >= 2, f"{r}: the compaction and the ERROR 410 were each a 410 on its open watch: {res[r]}"
        assert res[r]["failures"] >= 1, f"{r}: the reset and the restart cut its open watch (a failed request): {res[r]}"
        assert res[r]["objects"] == len(standin_items(api, r)), res[r]
    assert not view.mismatches(api)
    degraded = kubernetes_degradation(meshd)
    record_result("kube-storm", f"/ready's kubernetes degradation after convergence: {degraded and degraded['message']}")

    # The registry: every pod endpoint carries its pod's final labels.
    def labels_final():
        for svc in ("reviews", "ratings"):
            eps = view.endpoints(host(svc, "shop"))
            want = {}
            for (ns, name), p in api.state("pods").items():
                if ns == "shop" and p["metadata"]["labels"].get("app") == svc:
                    want[p["status"]["podIP"]] = p["metadata"]["labels"]
            # only pods a slice names are endpoints (reviews-3 was added; ratings-2 deleted)
            have = {e["address"]: e["labels"] for e in eps}
            expected = {ip: lab for ip, lab in want.items() if ip in {a for e in api.get(
                "endpointslices", "shop", f"{svc}-slice")["endpoints"] for a in e["addresses"]}}
            if have != expected:
                return False
        return True
    wait_until(labels_final, 10, "the final pod labels on the endpoints in /debug/registryz",
               describe=lambda: json.dumps({s: view.endpoints(host(s, "shop")) for s in ("reviews", "ratings")}, indent=1))
    eps = {e["address"]: e for e in view.endpoints(host("reviews", "shop"))}
    assert eps["10.1.0.10"]["labels"] == {"app": "reviews", "version": "v3", "rev": "49"}, eps["10.1.0.10"]
    assert eps["10.1.0.11"]["labels"]["version"] == "v9", eps["10.1.0.11"]
    assert eps["10.1.0.13"]["locality"].startswith("us-east1/us-east1-c"), eps["10.1.0.13"]
    assert "10.1.1.12" not in {e["address"] for e in view.endpoints(host("ratings", "shop"))}


# ------------------------------------------------------------------------------ 4. unreachable


def test_unreachable_api_server_keeps_the_last_state(kube_api, kube_meshd, pod_pair, xds_clients, node_id):
    """The API server goes away: /ready lists `kubernetes` (still 200), the client keeps routing
    to both pods. Changes made meanwhile (reviews-v2 not ready, labels on a pod, a Service, a
    node, a namespace) arrive once the server is back, and the degradation clears.

    How soon: meshd retries a failed request after 800 ms doubling (docs/kubernetes.md), so after
    an outage of D seconds every resource's next attempt comes at most about 2 D + 0.8 s after
    the server's return; the test allows max(10 s, 2 D + 3 s) for the objects and for /ready."""
    meshd, view = setup_reviews(kube_api, kube_meshd, pod_pair)
    client = xds_clients(meshd.xds_address, node_id("grpc"))
    scenarios.warm_up(client)
    run_until(client, {"v1", "v2"}, 20, "both-pods")
    assert kubernetes_degradation(meshd) is None

    down_at = time.monotonic()
    kube_api.unreachable()
    degraded = wait_until(lambda: kubernetes_degradation(meshd), 15, "the kubernetes degradation in /ready",
                          describe=lambda: meshd.request("GET", "/ready").text)
    record_result("kube-unreachable", f"degraded after {time.monotonic() - down_at:.2f}s: {degraded['message']}")
    assert isinstance(degraded.get("message"), str) and degraded["message"].strip(), degraded
    r = meshd.request("GET", "/ready")
    assert r.status == 200, f"/ready while the API server is unreachable: {r}"

    # Changes made while meshd cannot see them, one per resource.
    slice_obj = kube_api.get("endpointslices", "default", SLICE)
    ep_v1, ep_v2 = slice_obj["endpoints"]
    kube_api.patch("endpointslices", "default", SLICE, {"endpoints": [ep_v1, not_ready(ep_v2)]})
    kube_api.patch("pods", "default", "reviews-v1", {"metadata": {"labels": {"track": "stable"}}})
    kube_api.patch("services", "default", "reviews", {"metadata": {"labels": {"tier": "backend"}}})
    kube_api.patch("nodes", "", "node-a", {"metadata": {"labels": {"maintenance": "planned"}}})
    kube_api.patch("namespaces", "", "default", {"metadata": {"labels": {"istio-injection": "enabled"}}})

    window = client.run(200, name="unreachable")
    assert window["failures"] == 0 and set(window["counts"]) == {"v1", "v2"}, (
        f"the client must keep routing on the last known state: {window}")
    assert {e["address"]: e["health"] for e in view.endpoints(HOST)} == {"127.0.0.2": "HEALTHY", "127.0.0.3": "HEALTHY"}
    time.sleep(max(0.5, OUTAGE - (time.monotonic() - down_at)))  # an outage of a few seconds, as a restart
    assert kubernetes_degradation(meshd) is not None
    assert meshd.request("GET", "/ready").status == 200

    kube_api.reachable()
    back_at = time.monotonic()
    outage = back_at - down_at
    bound = max(10.0, 2 * outage + 3.0)

    def since_return() -> str:
        return f"{time.monotonic() - back_at:.1f}s after the API server came back (outage {outage:.1f}s)"

    # The changes made meanwhile arrive with the resumed watches: every object as the server has it ...
    wait_until(lambda: not view.mismatches(kube_api), bound, "meshd's objects to equal the server's",
               describe=lambda: since_return() + ", meshd still lacks: " + json.dumps(view.mismatches(kube_api), indent=1)
               + "\n/debug/kubernetes: " + json.dumps(view.kubernetes(), indent=1))
    objects_at = time.monotonic() - back_at
    # ... and in the registry (the slice and the pod come by different watches: wait for both).
    view.wait_endpoints(HOST, lambda eps: {(e["address"], e["health"], e["labels"].get("track")) for e in eps}
                        == {("127.0.0.2", "HEALTHY", "stable"), ("127.0.0.3", "UNHEALTHY", None)}, timeout=bound,
                        what="reviews-v2 UNHEALTHY and reviews-v1 labelled track=stable (changed while unreachable)")
    record_result("kube-unreachable", f"outage {outage:.1f}s; the changes made meanwhile were held {objects_at:.2f}s"
                  f" and in the registry {time.monotonic() - back_at:.2f}s after the server came back")
    run_until(client, {"v1"}, 10, "after-return")

    # The degradation clears once every resource is watching again.
    wait_until(lambda: kubernetes_degradation(meshd) is None, max(1.0, bound - (time.monotonic() - back_at)),
               "the kubernetes degradation to clear",
               describe=lambda: since_return() + ", /ready still says: " + meshd.request("GET", "/ready").text
               + "\n/debug/kubernetes: " + json.dumps(view.kubernetes(), indent=1))
    record_result("kube-unreachable", f"degradation cleared {time.monotonic() - back_at:.2f}s after the server came back")
    body = meshd.request("GET", "/ready")
    assert body.status == 200 and not [d for d in body.json()["degradations"] if d["id"] == "kubernetes"], body
    res = view.resources()
    assert all(res[r]["lastError"] is None and res[r]["synced"] for r in RESOURCES), res

    # A change made after the return arrives too (the watches are healthy again).
    kube_api.patch("pods", "default", "reviews-v1", {"metadata": {"labels": {"track": "stable-2"}}})
    view.wait_endpoints(HOST, lambda eps: any(e["labels"].get("track") == "stable-2" for e in eps), timeout=10,
                        what="a label changed after the server's return")


def watched_resource(path: str) -> str | None:
    """The resource a watch request of the stand-in's log is for (None for other requests)."""
    if "watch=1" not in path and "watch=true" not in path:
        return None
    return path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]


def test_repeated_outages_each_recover_within_the_backoff(kube_api, kube_meshd):
    """Three outages in a row (4.5 s, 3 s, 2 s, as an API server restarted a few times); during
    each, reviews-v2's endpoint flips health in the slice. After each return, every one of the
    five resources opens its watch again, the change is in the registry, and /ready's
    `kubernetes` degradation clears, within max(10 s, 2 D + 3 s): the bound meshd's own backoff
    (800 ms doubling) gives, so no resource may sit out the server's return."""
    create_all(kube_api, reviews_objects(8080, POD_IPS))
    meshd = kube_meshd()
    view = KubeView(meshd)
    timings = []
    for i, outage in enumerate((4.5, 3.0, 2.0)):
        wait_until(lambda: kube_api.open_watches() >= len(RESOURCES) and kubernetes_degradation(meshd) is None, 30,
                   f"every watch open and /ready clear before outage #{i + 1}",
                   describe=lambda: json.dumps(view.kubernetes(), indent=1))
        kube_api.unreachable()
        down_at = time.monotonic()
        wait_until(lambda: kubernetes_degradation(meshd), 10, f"the kubernetes degradation in outage #{i + 1}")
        ep_v1, ep_v2 = kube_api.get("endpointslices", "default", SLICE)["endpoints"]
        health = "UNHEALTHY" if i % 2 == 0 else "HEALTHY"
        ep_v2 = not_ready(ep_v2) if health == "UNHEALTHY" else {**ep_v2, "conditions": {"ready": True}}
        kube_api.patch("endpointslices", "default", SLICE, {"endpoints": [ep_v1, ep_v2]})
        time.sleep(max(0.0, outage - (time.monotonic() - down_at)))
        n_requests = len(kube_api.requests)
        kube_api.reachable()
        back_at = time.monotonic()
        bound = max(10.0, 2 * outage + 3.0)
        seen: dict = {}   # what came back, seconds after the return

        def recovered() -> bool:
            now = round(time.monotonic() - back_at, 2)
            for _, path, status in list(kube_api.requests)[n_requests:]:
                r = watched_resource(path)
                if r and status == 200:
                    seen.setdefault(f"watch {r}", now)
            if {e["address"]: e["health"] for e in view.endpoints(HOST)}.get("127.0.0.3") == health:
                seen.setdefault("registry", now)
            if kubernetes_degradation(meshd) is None:
                seen.setdefault("/ready", now)
            return all(f"watch {r}" in seen for r in RESOURCES) and "registry" in seen and "/ready" in seen

        wait_until(recovered, bound, f"every watch reopened, the slice change held and /ready clear after outage #{i + 1}"
                   f" ({outage}s)", interval=0.05,
                   describe=lambda: f"{time.monotonic() - back_at:.1f}s after the server came back: {seen}"
                   f"\n/ready: {meshd.request('GET', '/ready').text}\n/debug/kubernetes: {json.dumps(view.kubernetes(), indent=1)}"
                   f"\nstand-in connections open: {len(kube_api._conns)}, watches open: {kube_api.open_watches()}")
        timings.append(f"#{i + 1} {outage}s: {seen}")
    record_result("kube-outages", "; ".join(timings))


# ------------------------------------------------------------------------------ 5. TokenReview CA


def uri_sans_of(pem: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.UniformResourceIdentifier)


def test_ca_accepts_service_account_tokens_by_token_review(kube_api, kube_meshd, tmp_path):
    """A projected service-account token (audience istio-ca) gets exactly spiffe://…/ns/NS/sa/SA;
    wrong audience, unknown token, unreachable API server: UNAUTHENTICATED with a message; meshd's
    own tokens still work and are never reviewed."""
    meshd = kube_meshd()
    root = meshd.ca_root()
    reviews_id = spiffe_id("shop", "reviews")
    _, csr = new_csr(tmp_path, "workload", "ec", sans=["URI:spiffe://cluster.local/ns/kube-system/sa/admin"])

    with CAClient(meshd.tls_address, root) as ca:
        chain = chain_of(ca.create(csr, TOKEN_REVIEWS))
        assert_verifies(root, chain, "the service-account token's leaf")
        assert uri_sans_of(chain[0]) == [reviews_id], chain[0]
        assert cert_sans(chain[0]) == [f"URI:{reviews_id}"]
        assert kube_api.reviews, "meshd sent no TokenReview"
        spec = kube_api.reviews[-1].get("spec") or {}
        assert spec.get("token") == TOKEN_REVIEWS and spec.get("audiences") == [AUDIENCE], kube_api.reviews[-1]

        refusals = {}
        for label, token in (("wrong audience", TOKEN_WRONG_AUDIENCE), ("unknown token", TOKEN_UNKNOWN)):
            n = len(kube_api.reviews)
            code, details = ca.status_of(csr, token)
            refusals[label] = (code.name, details)
            assert code == grpc.StatusCode.UNAUTHENTICATED and details.strip(), (label, code, details)
            assert token not in details and token.split(".")[2] not in details, f"{label}: the token is in the message"
            assert len(kube_api.reviews) == n + 1, f"{label}: expected one TokenReview, got {len(kube_api.reviews) - n}"

        # meshd's own token: still accepted, never sent to the API server.
        n = len(kube_api.reviews)
        own = meshd.create_token("default", "reviews")
        chain = chain_of(ca.create(csr, own))
        assert uri_sans_of(chain[0]) == [spiffe_id("default", "reviews")]
        assert len(kube_api.reviews) == n, "meshd's own token was sent to the API server for review"

        # No API server: a refusal, not a fallback.
        kube_api.unreachable()
        try:
            code, details = ca.status_of(csr, TOKEN_REVIEWS, timeout=15)
            refusals["unreachable API server"] = (code.name, details)
            assert code == grpc.StatusCode.UNAUTHENTICATED and details.strip(), (code, details)
        finally:
            kube_api.reachable()
        chain = chain_of(ca.create(csr, TOKEN_REVIEWS, timeout=15))
        assert uri_sans_of(chain[0]) == [reviews_id]
    for label, (code, details) in refusals.items():
        record_result("kube-ca", f"{label}: {code}: {details}")


def test_mesh_agent_token_file_is_reread(kube_api, kube_meshd, tmp_path):
    """`mesh-agent --token-file`: --once with a service-account token gets its identity; a running
    agent whose file holds a refused token keeps retrying, and picks up the rewritten file."""
    meshd = kube_meshd()
    root_file = tmp_path / "root.pem"
    root_file.write_text(meshd.ca_root())
    token_file = tmp_path / "istio-token"
    token_file.write_text(TOKEN_REVIEWS + "\n")

    once = tmp_path / "once"
    run_tool(mesh_agent_bin(), "--ca-address", meshd.tls_address, "--renew-address", meshd.renew_address,
             "--root-cert", root_file, "--server-name", "localhost", "--output-dir", once, "--once",
             "--token-file", token_file, "--ttl", "1h", what="mesh-agent")
    leaf = split_pem((once / "cert-chain.pem").read_text())[0]
    assert uri_sans_of(leaf) == [spiffe_id("shop", "reviews")], leaf

    # A running agent: refused first (unknown token), then the file is rewritten.
    token_file.write_text(TOKEN_UNKNOWN + "\n")
    out = tmp_path / "running"
    agent = subprocess.Popen(
        [mesh_agent_bin(), "--ca-address", meshd.tls_address, "--renew-address", meshd.renew_address,
         "--root-cert", str(root_file), "--server-name", "localhost", "--output-dir", str(out),
         "--token-file", str(token_file), "--ttl", "1h"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: [lines.append(l.decode(errors="replace").rstrip())
                                              for l in iter(agent.stdout.readline, b"")], daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("UNAUTHENTICATED" in l or "issuance failed" in l for l in lines), 15,
                   "the agent's first attempt refused", describe=lambda: "\n".join(lines[-30:]))
        assert not (out / "cert-chain.pem").exists()
        tmp = tmp_path / "istio-token.new"
        tmp.write_text(TOKEN_RATINGS + "\n")
        os.replace(tmp, token_file)  # as the kubelet rotates a projected token
        wait_until(lambda: (out / "cert-chain.pem").exists(), 20, "a certificate after the token file was rewritten",
                   describe=lambda: "\n".join(lines[-30:]))
        leaf = split_pem((out / "cert-chain.pem").read_text())[0]
        assert uri_sans_of(leaf) == [spiffe_id("shop", "ratings")], leaf
        assert agent.poll() is None, "\n".join(lines)
    finally:
        agent.terminate()
        try:
            agent.wait(timeout=10)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(timeout=5)
    record_result("kube-ca", "mesh-agent --token-file: " + " | ".join(l for l in lines if "issu" in l)[:600])


# ------------------------------------------------------------------------------ 6. labels -> subsets


def subset_members(endpoints: list[dict], labels: dict) -> list[str]:
    return sorted(e["address"] for e in endpoints if all(e["labels"].get(k) == v for k, v in labels.items()))


def test_pod_label_change_moves_its_endpoint_between_subsets(kube_api, kube_meshd, ads_clients, node_id):
    """reviews-v1's label version v1 -> v2: in /debug/registryz its endpoint now carries v2 (the
    v1 subset is empty, v2 has both), EDS of the subset clusters follows, by EDS alone."""
    create_all(kube_api, reviews_objects(8080, POD_IPS))
    meshd = kube_meshd()
    view = KubeView(meshd)
    meshd.wait_pushed(meshd.apply(configs.destination_rule())["revision"])
    view.wait_endpoints(HOST, lambda eps: len(eps) == 2, what="reviews' two endpoints")
    eps = view.endpoints(HOST)
    assert subset_members(eps, {"version": "v1"}) == ["127.0.0.2"], eps
    assert subset_members(eps, {"version": "v2"}) == ["127.0.0.3"], eps

    ads = ads_clients(meshd.xds_address, node_id("ads"))
    ads.wait_quiet(1.0, timeout=15)
    c1, c2 = configs.cluster("v1"), configs.cluster("v2")
    assert eds_members(ads, c1) == {"127.0.0.2": 1} and eds_members(ads, c2) == {"127.0.0.3": 1}, ads.describe()

    n0 = len(ads.responses)
    pushes = pushes_by_type(meshd)
    kube_api.patch("pods", "default", "reviews-v1", {"metadata": {"labels": {"version": "v2"}}})
    eps = view.wait_endpoints(HOST, lambda eps: subset_members(eps, {"version": "v2"}) == ["127.0.0.2", "127.0.0.3"],
                              what="both endpoints in subset v2")
    assert subset_members(eps, {"version": "v1"}) == [], eps
    (e1,) = [e for e in eps if e["address"] == "127.0.0.2"]
    assert e1["labels"] == {"app": "reviews", "version": "v2"} and e1["source"]["name"] == "reviews-v1", e1
    ads.wait_for(lambda c: eds_members(c, c1) == {} and eds_members(c, c2) == {"127.0.0.2": 1, "127.0.0.3": 1}, 10,
                 "EDS: v1 empty, v2 with both endpoints")
    assert_only_eds(meshd, ads, n0, pushes, "a pod label change")

    kube_api.patch("pods", "default", "reviews-v1", {"metadata": {"labels": {"version": "v1"}}})
    view.wait_endpoints(HOST, lambda eps: subset_members(eps, {"version": "v1"}) == ["127.0.0.2"],
                        what="reviews-v1 back in subset v1")
    ads.wait_for(lambda c: eds_members(c, c1) == {"127.0.0.2": 1} and eds_members(c, c2) == {"127.0.0.3": 1}, 10,
                 "EDS back to one endpoint per subset")


# ------------------------------------------------------------------------------ 7. ExternalName


def test_external_name_service_is_an_alias_on_the_targets_routes(kube_api, kube_meshd, pod_pair, ads_clients):
    """An ExternalName Service pointing at reviews (through another alias) is what istiod makes
    of it: no cluster, listener or virtual host of its own; its names are domains of reviews'
    virtual host on an Envoy sidecar's routes. A chain that loops is dropped."""
    meshd, view = setup_reviews(kube_api, kube_meshd, pod_pair)

    def external_name(name: str, target: str) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                "spec": {"type": "ExternalName", "externalName": target, "ports": [{"name": "http", "port": 80}]}}

    create_all(kube_api, [
        external_name("reviews-legacy", "reviews-old.default.svc.cluster.local"),
        external_name("reviews-old", HOST + "."),
        external_name("loop-a", "loop-b.default.svc.cluster.local"),
        external_name("loop-b", "loop-a.default.svc.cluster.local"),
    ])
    aliases = ["reviews-legacy.default.svc.cluster.local", "reviews-old.default.svc.cluster.local"]
    wait_until(lambda: (view.service(HOST) or {}).get("aliases") == aliases, 10, "reviews' aliases in /debug/registryz",
               describe=lambda: json.dumps(view.service(HOST), indent=1))
    hosts = [s["host"] for s in view.registryz()["services"]]
    assert not [h for h in hosts if "legacy" in h or "loop" in h or "old" in h], hosts

    client = ads_clients(meshd.xds_address, configs.ENVOY_NODE, user_agent_name="envoy", client_features=[],
                         metadata={"LABELS": {"app": "web"}})
    client.wait_quiet(0.3)
    routes = {name: r.message for name, r in client.state["RDS"].items()}
    port = str(SERVICE_PORT)
    assert port in routes, f"the sidecar has no route configuration {port}: {sorted(routes)}"
    vhosts = {vh.name: list(vh.domains) for vh in routes[port].virtual_hosts}
    reviews = vhosts.get(f"{HOST}:{port}")
    assert reviews is not None, vhosts
    for name in ["reviews-legacy.default.svc.cluster.local", "reviews-legacy", f"reviews-legacy.default:{port}",
                 "reviews-old.default.svc"]:
        assert name in reviews, f"{name} missing from reviews' domains: {reviews}"
    others = [d for name, domains in vhosts.items() if name != f"{HOST}:{port}" for d in domains]
    assert not [d for d in others if "legacy" in d or "loop" in d], others
    clusters = sorted(client.state["CDS"])
    assert not [c for c in clusters if "legacy" in c or "loop" in c or "reviews-old" in c], clusters
    listeners = sorted(client.state["LDS"])
    assert not [name for name in listeners if "legacy" in name or "loop" in name], listeners
    record_result("kube-alias", f"reviews' virtual host domains: {len(reviews)} ({', '.join(d for d in reviews if 'legacy' in d)})")
