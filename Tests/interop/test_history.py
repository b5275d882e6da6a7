"""Config history and rollback with a real proxyless gRPC client (issue 14).

canary 50/50 -> 0/100 -> `meshctl rollback --to` the 50/50 revision: the grpcio client is back
at 50/50; `meshctl history` lists the three revisions and `meshctl diff` shows the weight
change; a stale resourceVersion gets 409 and changes nothing; history survives a restart; on
etcd, a rollback through replica B of a change made through replica A works and both replicas
read the same history.
"""

from __future__ import annotations

import re

import pytest
import yaml

import configs
import scenarios
from etcd_cluster import etcd_bin
from meshd_process import run_meshctl
from results import record_result
from test_etcd_replicas import canary_on_two_replicas, etcd_cluster, kek_file, replicas  # noqa: F401 (fixtures)


def weights(meshd) -> list:
    vs = meshd.get("VirtualService", configs.NAMESPACE, "reviews")
    return [r["weight"] for r in vs["spec"]["http"][0]["route"]]


def history_rows(meshd) -> list[list[str]]:
    """`meshctl history` as rows of (REVISION, TIME, ACTOR..., OPERATION..., CHANGES...) split on 3+ spaces."""
    out = run_meshctl(meshd.admin_url, "history").stdout
    lines = out.strip().splitlines()
    assert lines and lines[0].split()[:5] == ["REVISION", "TIME", "ACTOR", "OPERATION", "CHANGES"], out
    return [re.split(r"\s{3,}", line) for line in lines[1:]]


def test_canary_rollback_history_and_diff(meshd, backends, xds_clients, node_id, tmp_path):
    ports = {n: b.port for n, b in backends.items()}
    half = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))["revision"]
    meshd.wait_pushed(half)
    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)
    scenarios.even_split(client, 1000)

    before = meshd.acked_versions(meshd.proxy_status(proxy))
    shifted = meshd.apply(configs.virtual_service({"v1": 0, "v2": 100}))["revision"]
    meshd.wait_synced(proxy, changed_from=before)
    window = client.run(200, name="all-v2")
    scenarios.assert_no_failures(window, "0/100")
    assert window["counts"] == {"v2": 200}, window["counts"]

    # A dry run of the rollback first: what it would do and whom it would reach, nothing written.
    dry = run_meshctl(meshd.admin_url, "rollback", "--to", half, "--dry-run").stdout
    assert dry.startswith("virtualservice.networking.istio.io/reviews configured (dry run)\n"), dry
    assert any(line.startswith(proxy + " ") and "RouteConfiguration" in line for line in dry.splitlines()), dry
    assert meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]["revision"] == shifted
    assert weights(meshd) == [0, 100]
    diff = run_meshctl(meshd.admin_url, "rollback", "--to", half, "--dry-run", "--proxy", proxy).stdout
    assert "RouteConfiguration" in diff and re.search(r'^[-+]\s+"weight": 50', diff, re.M), diff

    # Roll back to the 50/50 revision: printed like an apply, one new revision, pushed.
    before = meshd.acked_versions(meshd.proxy_status(proxy))
    out = run_meshctl(meshd.admin_url, "rollback", "--to", half).stdout
    assert out == "virtualservice.networking.istio.io/reviews configured\n", out
    rolled = meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]
    assert rolled["revision"] == shifted + 1 and rolled["operation"] == "rollback" and rolled["rolledBackTo"] == half, rolled
    assert weights(meshd) == [50, 50]
    meshd.wait_synced(proxy, changed_from=before)
    split = scenarios.even_split(client, 1000)
    record_result("history", "after rollback " + scenarios.fmt(split))

    # meshctl history: the three revisions, newest first, with actors and operations.
    rows = history_rows(meshd)
    assert [r[0] for r in rows] == [str(shifted + 1), str(shifted), str(half)], rows
    assert rows[0][3] == f"rollback to {half}" and rows[1][3] == "apply" and rows[2][3] == "apply", rows
    assert rows[1][2] == rows[2][2] == "loopback 127.0.0.1", rows
    assert "VirtualService default/reviews configured" in rows[1][4], rows
    assert "(+2 more)" in rows[2][4], rows  # five resources created at once
    only_vs = run_meshctl(meshd.admin_url, "history", "vs", "reviews").stdout
    assert len(only_vs.strip().splitlines()) == 4, only_vs

    # meshctl diff: the weight change, as a unified YAML diff of the VirtualService only.
    diff = run_meshctl(meshd.admin_url, "diff", half, shifted).stdout
    assert diff.startswith("--- a/VirtualService/default/reviews.yaml\n+++ b/VirtualService/default/reviews.yaml\n@@ "), diff
    assert re.search(r"^-\s+weight: 50$", diff, re.M) and re.search(r"^\+\s+weight: 100$", diff, re.M), diff
    assert re.search(r"^\+\s+weight: 0$", diff, re.M), diff
    assert "resourceVersion" not in diff and "ServiceEntry" not in diff, diff
    now = run_meshctl(meshd.admin_url, "diff", half)
    assert now.stdout == "" and "No differences" in now.stderr, (now.stdout, now.stderr)

    # A stale resourceVersion: 409 naming the field, through meshctl and the API; nothing changes.
    stale = tmp_path / "stale.yaml"
    stale.write_text(run_meshctl(meshd.admin_url, "get", "vs", "reviews", "-o", "yaml").stdout)
    moved = meshd.apply(configs.virtual_service({"v1": 20, "v2": 80}))["revision"]
    doc = yaml.safe_load(stale.read_text())
    doc["spec"]["http"][0]["route"][0]["weight"] = 90
    doc["spec"]["http"][0]["route"][1]["weight"] = 10
    stale.write_text(yaml.safe_dump(doc))
    p = run_meshctl(meshd.admin_url, "apply", "-f", stale, check=False)
    assert p.returncode != 0 and "metadata.resourceVersion" in p.stderr and "stale" in p.stderr, (p.stdout, p.stderr)
    r = meshd.apply_raw(stale.read_text())
    assert r.status == 409, (r.status, r.text())
    error = r.json()["error"]
    assert error["code"] == "conflict" and error["field"] == "metadata.resourceVersion", error
    assert error["resource"] == "VirtualService default/reviews", error
    assert weights(meshd) == [20, 80]
    assert meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]["revision"] == moved
    # The current resourceVersion is accepted.
    doc["metadata"]["resourceVersion"] = str(moved)
    assert meshd.apply(yaml.safe_dump(doc))["results"][0]["action"] == "configured"

    # History survives a restart.
    recorded = meshd.request("GET", "/api/v1/history").json()
    meshd.restart()
    assert meshd.request("GET", "/api/v1/history").json() == recorded
    assert [r[0] for r in history_rows(meshd)][2:5] == [str(shifted + 1), str(shifted), str(half)]


def test_rollback_errors_and_the_admin_actor(meshd):
    token = {"Authorization": "Bearer " + meshd.admin_token()}
    r = meshd.request("POST", "/api/v1/apply", configs.virtual_service({"v1": 50, "v2": 50}), "application/yaml", headers=token)
    first = r.json()["revision"]
    assert meshd.request("GET", "/api/v1/history").json()["items"][0]["actor"] == "admin"
    r = meshd.request("POST", "/api/v1/rollback", '{"toRevision": %d}' % first, "application/json", headers=token)
    assert r.status == 200 and r.json()["revision"] == first and r.json()["rolledBackTo"] == first, r.text()
    r = meshd.request("POST", "/api/v1/rollback", '{"toRevision": %d}' % (first + 100), "application/json")
    assert r.status == 404 and r.json()["error"]["code"] == "notFound", r.text()
    r = meshd.request("POST", "/api/v1/rollback", '{"toRevision": "x"}', "application/json")
    assert r.status == 422 and r.json()["error"]["field"] == "toRevision", r.text()
    p = run_meshctl(meshd.admin_url, "rollback", "--to", first + 100, check=False)
    assert p.returncode != 0 and "future" in p.stderr, p.stderr


def test_history_retention_prunes_and_refuses_older_rollbacks(meshd_factory):
    meshd = meshd_factory(["--history-retention", "2"])
    revisions = [meshd.apply(configs.virtual_service({"v1": w, "v2": 100 - w}))["revision"] for w in (10, 20, 30, 40)]
    page = meshd.request("GET", "/api/v1/history").json()
    assert [i["revision"] for i in page["items"]] == revisions[:1:-1] and page["oldestRevision"] == revisions[1], page
    r = meshd.request("POST", "/api/v1/rollback", '{"toRevision": %d}' % revisions[0], "application/json")
    assert r.status == 410 and r.json()["error"]["code"] == "historyPruned", r.text()
    assert meshd.request("POST", "/api/v1/rollback", '{"toRevision": %d}' % revisions[1], "application/json").status == 200
    assert weights(meshd) == [20, 80]


@pytest.mark.skipif(etcd_bin() is None, reason="etcd not installed (apt-get install etcd-server)")
def test_rollback_on_one_etcd_replica_of_a_change_made_on_another(replicas, backends, xds_clients, node_id):
    a, b, applied = canary_on_two_replicas(replicas, backends)
    half = applied["revision"]
    proxy = node_id("grpc-a")
    client = xds_clients(a.xds_address, proxy)
    scenarios.warm_up(client)
    a.wait_synced(proxy)
    shifted = a.apply(configs.virtual_service({"v1": 0, "v2": 100}))["revision"]
    b.wait_pushed(shifted, timeout=20)

    before = a.acked_versions(a.proxy_status(proxy))
    out = run_meshctl(b.admin_url, "rollback", "--to", half).stdout
    assert out == "virtualservice.networking.istio.io/reviews configured\n", out
    a.wait_synced(proxy, changed_from=before)
    record_result("history", "etcd: rollback on B, A's client " + scenarios.fmt(scenarios.even_split(client, 1000)))
    seen = [r.request("GET", "/api/v1/history").json() for r in (a, b)]
    assert seen[0] == seen[1], seen
    items = seen[0]["items"]
    assert items[0]["operation"] == "rollback" and items[0]["rolledBackTo"] == half, items
    assert [i["revision"] for i in items[1:3]] == [shifted, half], items
    assert weights(a) == weights(b) == [50, 50]
