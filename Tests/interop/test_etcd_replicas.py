"""Two meshd replicas on one 3-member etcd are one mesh (issue 12).

Config applied through either replica reaches the other's grpcio clients; both serve identical
resources with identical version strings; they share one CA and one token-signing key (checked
with `openssl verify`); losing one etcd member changes nothing, losing two makes writes answer
503 `unavailable` while proxies keep routing; a replica killed with -9 comes back with the same
config and versions. The etcd cluster is started by the `etcd_cluster` fixture (etcd_cluster.py).
"""

from __future__ import annotations

import os
import time

import pytest

import configs
import scenarios
from ca_tools import CAClient, assert_verifies, chain_of, new_csr
from etcd_cluster import EtcdCluster, etcd_bin
from meshd_process import MeshdError
from results import record_result

pytestmark = pytest.mark.skipif(etcd_bin() is None, reason="etcd not installed (apt-get install etcd-server)")

TYPES = ("LDS", "RDS", "CDS", "EDS")


@pytest.fixture
def etcd_cluster(request):
    cluster = EtcdCluster(3)
    if not hasattr(request.node, "_interop_logs"):
        request.node._interop_logs = []
    request.node._interop_logs.append(("etcd logs", lambda: "\n".join(cluster.tail(i) for i in range(3))))
    try:
        yield cluster.start()
    finally:
        cluster.close()


@pytest.fixture
def kek_file(tmp_path):
    path = tmp_path / "kek"
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)
    return path


@pytest.fixture
def replicas(etcd_cluster, kek_file, meshd_factory):
    """A factory of meshd replicas on the cluster, each with its own data directory."""
    def make(name: str, start: bool = True, kek=None):
        return meshd_factory(["--store", etcd_cluster.store_url, "--kek-file", str(kek or kek_file)],
                             name=name, start=start)
    return make


def canary_on_two_replicas(replicas, backends, weights=None) -> tuple:
    """Replicas A and B; the canary (50/50 unless `weights`) applied through A and pushed by
    both. Returns (a, b, the apply answer)."""
    a = replicas("A")
    b = replicas("B")
    applied = a.apply(configs.canary(backends["v1"].port, backends["v2"].port, weights or {"v1": 50, "v2": 50}))
    assert {r["action"] for r in applied["results"]} == {"created"}, applied
    a.wait_pushed(applied["revision"])
    b.wait_pushed(applied["revision"], timeout=20)
    return a, b, applied


def ack_doc(i: int) -> str:
    return f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ack-{i}
  namespace: {configs.NAMESPACE}
spec:
  hosts: [ack-{i}.example.com]
  http:
  - route:
    - destination:
        host: ack-{i}.example.com
"""


def wait_for(what: str, condition, timeout: float = 20.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def same_view(ads_clients, a, b, node_id):
    """ADS clients of one kind and namespace on A and on B: byte-identical resources, same versions."""
    on_a = ads_clients(a.xds_address, node_id("ads-a"))
    on_b = ads_clients(b.xds_address, node_id("ads-b"))
    on_a.wait_quiet(0.3, timeout=10)
    on_b.wait_quiet(0.3, timeout=10)
    snap_a, snap_b = on_a.snapshot(), on_b.snapshot()
    for t in TYPES:
        assert snap_a[t]["version"] == snap_b[t]["version"], f"{t}: A {snap_a[t]['version']} != B {snap_b[t]['version']}"
        assert snap_a[t]["resources"] == snap_b[t]["resources"], f"{t}: resources differ between replicas"
    return snap_a


def test_two_replicas_are_one_mesh(replicas, backends, xds_clients, ads_clients, node_id, tmp_path):
    # The canary applied through A routes B's grpcio client 50/50.
    a, b, applied = canary_on_two_replicas(replicas, backends)
    proxy_b = node_id("grpc-b")
    client_b = xds_clients(b.xds_address, proxy_b)
    scenarios.warm_up(client_b)
    b.wait_synced(proxy_b)
    record_result("etcd replicas", "A->B 50/50 " + scenarios.fmt(scenarios.even_split(client_b, 1000)))

    # 0/100 applied through B reaches A's client.
    proxy_a = node_id("grpc-a")
    client_a = xds_clients(a.xds_address, proxy_a)
    scenarios.warm_up(client_a)
    a.wait_synced(proxy_a)
    before = a.acked_versions(a.proxy_status(proxy_a))
    t0 = time.monotonic()
    moved = b.apply(configs.virtual_service({"v1": 0, "v2": 100}))
    assert [r["action"] for r in moved["results"]] == ["configured"], moved
    a.wait_pushed(moved["revision"], timeout=20)
    pushed_on_a = time.monotonic() - t0
    a.wait_synced(proxy_a, changed_from=before)
    window = client_a.run(200, name="after-b-apply")
    scenarios.assert_no_failures(window, "A's client after 0/100 through B")
    assert window["counts"] == {"v2": 200}, window["counts"]
    record_result("etcd replicas", f"apply on B -> published on A in {pushed_on_a:.3f}s")

    # Both replicas serve byte-identical resources with identical version strings, and the
    # same config with the same (etcd) revisions.
    snap = same_view(ads_clients, a, b, node_id)
    assert a.get("VirtualService", configs.NAMESPACE, "reviews") == b.get("VirtualService", configs.NAMESPACE, "reviews")
    record_result("etcd replicas", "identical versions " + ", ".join(f"{t}={snap[t]['version']}" for t in TYPES))

    # One identity: the same root, a token minted on A accepted by B's CA, and certificates
    # from A and B verifying against that root; the admin token is in both data directories.
    root = a.ca_root()
    assert b.ca_root() == root
    assert a.admin_token() == b.admin_token()
    token = a.create_token("default", "reviews")
    chains = {}
    for name, replica in (("A", a), ("B", b)):
        _, csr = new_csr(tmp_path, f"leaf-{name}")
        with CAClient(replica.tls_address, root) as ca:
            chains[name] = chain_of(ca.create(csr, token, validity_seconds=3600))
        assert_verifies(root, chains[name], f"the leaf issued by replica {name}")

    # Singleton work (etcd compaction) runs on exactly one of them, elected through etcd.
    leaders = wait_for("a replica leading singleton work",
                       lambda: [m.name for m in (a, b) if "leading singleton work" in m.tail(400)])
    assert len(leaders) == 1, leaders


def test_etcd_member_loss(replicas, etcd_cluster, backends, xds_clients, node_id):
    a, b, applied = canary_on_two_replicas(replicas, backends)
    proxy = node_id("grpc-b")
    client = xds_clients(b.xds_address, proxy)
    scenarios.warm_up(client)
    b.wait_synced(proxy)
    acknowledged = []

    # One member down: applies still succeed (through both replicas).
    etcd_cluster.kill(0)
    for i, replica in enumerate((a, b, a)):
        result = wait_for(f"apply {i} with one member down", lambda: ok_apply(replica, ack_doc(i)))
        acknowledged.append(i)
        assert result["results"][0]["action"] == "created", result

    # Two down: no quorum. Applies answer 503 `unavailable` and change nothing; /ready stays 200
    # naming the degradation; the grpcio client keeps routing on the last config.
    etcd_cluster.kill(1)
    before = a.get("VirtualService", configs.NAMESPACE)
    for replica in (a, b):
        r = replica.apply_raw(ack_doc(99))
        assert r.status == 503, (r.status, r.text())
        error = r.json()["error"]
        assert error["code"] == "unavailable" and "etcd" in error["message"], error
        assert "nothing was changed" in error["message"], error
    for replica in (a, b):
        ready = wait_for("/ready naming etcd", lambda: degraded(replica), timeout=15)
        assert ready["ready"] is True and ready["status"] == "degraded", ready
    assert a.get("VirtualService", configs.NAMESPACE) == before
    window = client.run(400, name="no-quorum")
    scenarios.assert_no_failures(window, "grpcio client with etcd down to one member")
    assert set(window["counts"]) == {"v1", "v2"}, window["counts"]

    # Members back: applies succeed again, and every acknowledged apply is there, on both.
    etcd_cluster.start_member(0)
    etcd_cluster.start_member(1)
    etcd_cluster.wait_healthy()
    t0 = time.monotonic()
    result = wait_for("apply after quorum returned", lambda: ok_apply(b, ack_doc(3)), timeout=30)
    record_result("etcd replicas", f"writes accepted again {time.monotonic() - t0:.2f}s after quorum returned")
    acknowledged.append(3)
    for replica in (a, b):
        replica.wait_pushed(result["revision"], timeout=20)
        names = {vs["metadata"]["name"] for vs in replica.get("VirtualService", configs.NAMESPACE)["items"]}
        missing = [i for i in acknowledged if f"ack-{i}" not in names]
        assert not missing, f"{replica.name} lost acknowledged applies {missing}: {sorted(names)}"
        # ack-99 answered 503: etcd never confirmed it. If it reached the leader just before that
        # lost quorum, raft may still commit it once quorum returns (the message says so); its
        # presence is not checked — only that the outage changed nothing while it lasted.
        wait_for("/ready without the etcd degradation", lambda: not degraded(replica), timeout=15)


def ok_apply(replica, doc):
    r = replica.apply_raw(doc)
    if r.status == 200:
        return r.json()
    assert r.status == 503, (r.status, r.text())
    return None


def degraded(replica):
    r = replica.request("GET", "/ready")
    assert r.status == 200, (r.status, r.text())
    body = r.json()
    return body if any(d["id"] == "etcd" for d in body["degradations"]) else None


def test_replica_kill9_comes_back_with_the_same_config_and_versions(replicas, backends, ads_clients, node_id):
    a, b, applied = canary_on_two_replicas(replicas, backends, {"v1": 80, "v2": 20})
    before = same_view(ads_clients, a, b, node_id)
    config_before = a.get("VirtualService", configs.NAMESPACE)

    a.kill9()
    a.start()
    a.wait_pushed(applied["revision"])
    assert a.get("VirtualService", configs.NAMESPACE) == config_before
    after = same_view(ads_clients, a, b, node_id)
    for t in TYPES:
        assert after[t]["version"] == before[t]["version"], f"{t} version changed across kill -9 of a replica"
        assert after[t]["resources"] == before[t]["resources"]


def test_replicas_refuse_a_wrong_or_unsafe_key(replicas, etcd_cluster, tmp_path):
    replicas("A")
    wrong = tmp_path / "wrong-kek"
    wrong.write_bytes(os.urandom(32))
    wrong.chmod(0o600)
    with pytest.raises(MeshdError) as refused:
        replicas("wrong", kek=wrong)
    assert "--kek-file does not open the cluster identity" in str(refused.value)
    wrong.chmod(0o644)
    with pytest.raises(MeshdError) as unsafe:
        replicas("unsafe", kek=wrong)
    assert "group or others may access it" in str(unsafe.value)


def test_a_delta_proxy_moving_between_replicas_is_sent_nothing_it_holds(replicas, backends, node_id, delta_clients):
    from test_delta import _envoy_like

    a, b, applied = canary_on_two_replicas(replicas, backends)
    proxy = node_id("delta")
    on_a = delta_clients(a.xds_address, proxy)
    _envoy_like(on_a)
    held = {t: on_a.versions(t) for t in TYPES}
    on_a.close()

    on_b = delta_clients(b.xds_address, proxy)
    on_b.subscribe("CDS", initial=held["CDS"])
    on_b.subscribe("EDS", sorted(held["EDS"]), initial=held["EDS"])
    on_b.subscribe("LDS", initial=held["LDS"])
    on_b.subscribe("RDS", sorted(held["RDS"]), initial=held["RDS"])
    for t in ("CDS", "LDS"):
        answer = on_b.wait_response(0, t)
        assert answer.resources == {} and answer.removed == [], f"{t}: B sent what the proxy already held: {answer!r}"
    assert on_b.quiet(0.5) == []
    sent = [r.type for r in on_b.responses if r.type in ("EDS", "RDS")]
    assert sent == [], f"B re-sent {sent} the proxy already held from A"


def test_proxy_status_on_any_replica_lists_every_replicas_proxies(replicas, backends, ads_clients, node_id):
    from meshd_process import run_meshctl

    a, b, applied = canary_on_two_replicas(replicas, backends)
    proxy = node_id("ads-on-a")
    client = ads_clients(a.xds_address, proxy)
    client.wait_quiet(0.3, timeout=10)

    # B lists A's proxy (shared through etcd at most once a second), naming the replica.
    entry = wait_for("B's /debug/syncz listing A's proxy",
                     lambda: next((e for e in b.syncz() if e.get("proxyID") == proxy and e.get("synced")), None))
    own = next(e for e in a.syncz() if e.get("proxyID") == proxy)
    assert entry["replica"] == own["replica"] and entry["replica"] != "", (entry, own)
    assert entry["types"] == own["types"], "B shows A's proxy as A last shared it"
    listing = run_meshctl(f"http://{b.admin_address}", "proxy-status").stdout
    assert proxy in listing, listing

    # Gone from A: gone from B too.
    client.close()
    wait_for("B dropping A's disconnected proxy", lambda: all(e.get("proxyID") != proxy for e in b.syncz()))


def issue_leaf(workdir, name: str, ca, sans: str, usage: str):
    """A P-256 leaf signed by `ca` (cert, key) with `sans` and extendedKeyUsage `usage`."""
    from ca_tools import gen_ec_key, openssl

    key = gen_ec_key(workdir / f"{name}-key.pem")
    csr, cert, ext = workdir / f"{name}.csr", workdir / f"{name}.pem", workdir / f"{name}.cnf"
    ext.write_text(f"[v3]\nsubjectAltName = {sans}\nextendedKeyUsage = {usage}\n"
                   "keyUsage = critical,digitalSignature\n")
    openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial", "-days", 2,
            "-sha256", "-extfile", ext, "-extensions", "v3", "-out", cert)
    return cert, key


def test_a_replica_speaks_tls_to_etcd_with_a_client_certificate(tmp_path, kek_file, meshd_factory, request):
    from ca_tools import make_ca

    ca = make_ca(tmp_path, "etcd-ca")
    server = issue_leaf(tmp_path, "etcd-server", ca, "IP:127.0.0.1,DNS:localhost", "serverAuth,clientAuth")
    client = issue_leaf(tmp_path, "meshd-client", ca, "DNS:meshd", "clientAuth")
    cluster = EtcdCluster(1, tls={"ca": ca[0], "cert": server[0], "key": server[1]})
    request.node._interop_logs = [("etcd log", lambda: cluster.tail(0))]
    try:
        cluster.start()
        args = ["--store", cluster.store_url, "--kek-file", str(kek_file), "--etcd-ca", str(ca[0])]
        # Without a client certificate etcd refuses the connection: meshd cannot start.
        with pytest.raises(MeshdError) as refused:
            meshd_factory(args, name="no-client-cert")
        assert "etcd is unreachable" in str(refused.value), str(refused.value)[-2000:]
        m = meshd_factory(args + ["--etcd-cert", str(client[0]), "--etcd-key", str(client[1])], name="tls")
        result = m.apply(ack_doc(1))
        assert result["results"][0]["action"] == "created", result
        assert m.get("VirtualService", configs.NAMESPACE, "ack-1")["metadata"]["name"] == "ack-1"
    finally:
        cluster.close()


def test_sqlite_config_moves_to_etcd_with_meshctl(replicas, meshd_factory, backends, tmp_path):
    """docs/operations.md's migration: `meshctl get KIND -A -o yaml` from the SQLite meshd, then
    `meshctl apply -f` on a replica on etcd; the replica then holds the same resources."""
    from meshd_process import run_meshctl

    old = meshd_factory([], name="sqlite")
    old.apply(configs.canary(backends["v1"].port, backends["v2"].port, {"v1": 30, "v2": 70}))
    export = ("get", "-A", "-o", "yaml", "--no-resource-version")
    exported = "".join(run_meshctl(f"http://{old.admin_address}", export[0], kind, *export[1:]).stdout + "---\n"
                       for kind in ("se", "we", "dr", "vs", "sidecar"))
    (tmp_path / "mesh.yaml").write_text(exported)
    replica = replicas("A")
    # With resourceVersions (revisions of the old store), the new store refuses the export:
    # they name resources it does not have (optimistic concurrency, issue 14).
    versioned = tmp_path / "versioned.yaml"
    versioned.write_text(run_meshctl(f"http://{old.admin_address}", "get", "vs", "-A", "-o", "yaml").stdout)
    refused = run_meshctl(f"http://{replica.admin_address}", "apply", "-f", versioned, check=False)
    assert refused.returncode != 0 and "metadata.resourceVersion" in refused.stderr, refused.stderr
    run_meshctl(f"http://{replica.admin_address}", "apply", "-f", tmp_path / "mesh.yaml")
    for kind in ("ServiceEntry", "WorkloadEntry", "DestinationRule", "VirtualService"):
        moved = [(i["metadata"]["name"], i["spec"]) for i in replica.get(kind, configs.NAMESPACE)["items"]]
        original = [(i["metadata"]["name"], i["spec"]) for i in old.get(kind, configs.NAMESPACE)["items"]]
        assert moved == original and moved, (kind, moved, original)
