"""Dry run with impact (issue 14 item 2) against a real meshd, meshctl and a grpcio client.

On the 50/50 canary, `meshctl apply --dry-run` of 0/100 changes nothing — the client's traffic
stays about even, `meshctl get vs` shows the same spec and resourceVersion, the revision and the
client's acked versions stay put — and names the connected client among the proxies it would
touch, with its RouteConfiguration; `--proxy` prints a diff with the weight change. A dry run of
an invalid document, or of a stale resourceVersion, gets exactly the answer a real apply gets.
"""

from __future__ import annotations

import json

import configs
import scenarios
from meshd_process import run_meshctl
from results import record_result


def get_vs(meshd) -> dict:
    out = run_meshctl(meshd.admin_url, "get", "vs", "reviews", "-o", "json").stdout
    return json.loads(out)


def test_dry_run_of_a_weight_shift_changes_nothing_and_names_the_client(meshd, backends, xds_clients, node_id, tmp_path):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))
    revision = applied["revision"]
    meshd.wait_pushed(revision)
    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    acked = meshd.acked_versions(meshd.wait_synced(proxy))
    vs_before = get_vs(meshd)

    shift = tmp_path / "shift.yaml"
    shift.write_text(configs.virtual_service({"v1": 0, "v2": 100}))
    printed = run_meshctl(meshd.admin_url, "apply", "--dry-run", "-f", shift).stdout.splitlines()
    assert printed[0] == "virtualservice.networking.istio.io/reviews configured (dry run)", printed
    mine = [line for line in printed if line.startswith(proxy)]
    assert len(mine) == 1 and "RouteConfiguration " in mine[0], f"no impact line for {proxy}: {printed}"
    record_result("dry-run", "impact line: " + mine[0])

    answer = json.loads(run_meshctl(meshd.admin_url, "apply", "--dry-run", "-f", shift, "-o", "json").stdout)
    assert answer["dryRun"] is True and answer["revision"] == revision, answer
    assert [r["action"] for r in answer["results"]] == ["configured"], answer
    entry = [e for e in answer["impact"] if e["proxy"] == proxy]
    assert len(entry) == 1 and entry[0]["kind"] == "proxyless", answer["impact"]
    assert {"type": "RouteConfiguration", "name": "reviews.default.svc.cluster.local:9080", "change": "modified"} \
        in entry[0]["resources"], entry

    diff = run_meshctl(meshd.admin_url, "apply", "--dry-run", "--proxy", proxy, "-f", shift).stdout
    lines = diff.splitlines()
    assert "--- a/RouteConfiguration/reviews.default.svc.cluster.local:9080" in lines, diff
    assert any(l.startswith("-") and '"weight": 50' in l for l in lines), diff
    # 0/100 is sent as one cluster instead of a weighted split.
    assert any(l.startswith("+") and '"cluster": "outbound|9080|v2|reviews.default.svc.cluster.local"' in l for l in lines), diff

    # A stale resourceVersion is refused by the dry run as by the apply: 409, nothing changed.
    stale = configs.virtual_service({"v1": 0, "v2": 100}).replace(
        "  name: reviews\n", f"  name: reviews\n  resourceVersion: \"{revision + 5}\"\n", 1)
    dry = meshd.request("POST", "/api/v1/apply?dryRun=true", stale, "application/yaml")
    real = meshd.apply_raw(stale)
    assert dry.status == 409 and real.status == 409 and dry.json() == real.json(), (dry, real)
    assert dry.json()["error"]["field"] == "metadata.resourceVersion"

    # Nothing changed: the store, the push, the client's config and its traffic.
    assert get_vs(meshd) == vs_before
    assert meshd.push_status()["revision"] == revision
    split = scenarios.even_split(client, 1000)
    record_result("dry-run", "after dry run of 0/100: " + scenarios.fmt(split))
    assert meshd.acked_versions(meshd.proxy_status(proxy)) == acked, "the client was pushed something"
    assert get_vs(meshd) == vs_before and meshd.push_status()["revision"] == revision


def test_dry_run_of_an_invalid_document_gets_the_apply_answer(meshd, tmp_path):
    bad = configs.virtual_service({"v1": 110, "v2": -10})
    real = meshd.apply_raw(bad)
    dry = meshd.request("POST", "/api/v1/apply?dryRun=true", bad, "application/yaml")
    assert real.status == 422 and dry.status == 422, (real, dry)
    assert dry.json() == real.json()

    f = tmp_path / "bad.yaml"
    f.write_text(bad)
    p = run_meshctl(meshd.admin_url, "apply", "--dry-run", "-f", f, check=False)
    assert p.returncode != 0 and real.json()["error"]["detail"] in p.stderr, (p.stdout, p.stderr)

    missing = meshd.request("POST", "/api/v1/apply?dryRun=true&proxy=nobody-here",
                            configs.virtual_service({"v1": 50, "v2": 50}), "application/yaml")
    assert missing.status == 404 and "nobody-here" in missing.json()["error"]["message"], missing
    assert meshd.get_raw("vs", "default", "reviews").status == 404
