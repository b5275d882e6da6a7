"""Hostile input never crashes, stalls or bloats meshd (docs/input-bounds.md).

Each test here failed on the meshd before the hardening work: the process trapped, stored config
that trapped it on every restart, spun on an alias bomb, or grew a metric label per request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2

import configs
from meshd_process import run_meshctl


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def workload(name: str, weight: int) -> str:
    return f"""\
apiVersion: {configs.API_VERSION}
kind: WorkloadEntry
metadata: {{name: {name}, namespace: default, labels: {{app: reviews}}}}
spec: {{address: 127.0.0.9, ports: {{grpc: 9089}}, labels: {{app: reviews, version: v9}}, weight: {weight}}}
"""


def vs_with_weight(weight) -> str:
    return f"""\
apiVersion: {configs.API_VERSION}
kind: VirtualService
metadata: {{name: reviews, namespace: default}}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {{host: reviews}}
      weight: {weight}
"""


def test_base60_integer_overflow_is_refused_and_meshd_lives(meshd):
    r = meshd.apply_raw("a: 153722867280912931:0\n")
    assert r.status in (400, 422), r.text
    r = meshd.apply_raw(workload("w", "153722867280912931:0"))
    assert r.status == 422, r.text
    assert r.json()["error"]["field"] == "spec.weight"
    assert meshd.running
    assert meshd.request("GET", "/ready").status == 200


def test_overflowing_weights_are_refused_before_anything_is_stored(meshd):
    meshd.apply(configs.join(configs.service_entry(), configs.workload_entry("v1", 9081)))
    revision = meshd.push_status()["revision"]
    r = meshd.apply_raw(vs_with_weight(4294967296))
    assert r.status == 422, r.text
    assert r.json()["error"]["field"] == "spec.http[0].route[0].weight"
    # One WorkloadEntry at uint32's maximum fits; a second selected by the same service does not.
    meshd.apply(workload("heavy-1", 4294967294))  # plus reviews-v1, weight 1
    r = meshd.apply_raw(workload("heavy-2", 1))
    assert r.status == 422, r.text
    err = r.json()["error"]
    assert err["resource"] == "WorkloadEntry default/heavy-2" and err["field"] == "spec.weight", err
    assert meshd.get_raw("we", "default", "heavy-2").status == 404
    assert meshd.running
    assert meshd.push_status()["revision"] >= revision


def test_an_alias_bomb_is_refused_fast_with_memory_flat(meshd):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    bomb = "\n".join(lines) + "\n"
    assert len(bomb) < 1024
    big = "s: &s " + "x" * 65536 + "\nt: [" + ", ".join(["*s"] * 64) + "]\n"
    before = rss_kib(meshd.proc.pid)
    started = time.monotonic()
    for body in (bomb, big):
        r = meshd.apply_raw(body)
        assert r.status == 400, r.text
        assert "once aliases are expanded" in r.text, r.text
    elapsed = time.monotonic() - started
    grown = rss_kib(meshd.proc.pid) - before
    assert elapsed < 5, f"refusing two alias bombs took {elapsed:.1f}s"
    assert grown < 64 * 1024, f"meshd grew by {grown} KiB refusing alias bombs"


def test_deep_nesting_and_invalid_regex_are_refused(meshd):
    r = meshd.apply_raw("a: " + "[" * 300 + "]" * 300)
    assert r.status == 400 and "nesting deeper than" in r.text, r.text
    r = meshd.apply_raw("a: " + "[" * 100000)
    assert r.status == 400, r.text
    r = meshd.apply_raw("[" * 100000 + "]" * 100000, content_type="application/json")
    assert r.status == 400 and "nesting deeper than" in r.text, r.text
    vs = vs_with_weight(100).replace("  - route:", '  - match: [{uri: {regex: "(a)\\\\1"}}]\n    route:')
    r = meshd.apply_raw(vs)
    assert r.status == 422, r.text
    assert r.json()["error"]["field"] == "spec.http[0].match[0].uri.regex"
    assert meshd.running


def test_unknown_type_urls_are_answered_and_counted_under_one_label(meshd):
    channel = grpc.insecure_channel(meshd.xds_address)
    stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
    count = 200

    def requests():
        for i in range(count):
            yield discovery_pb2.DiscoveryRequest(type_url=f"type.googleapis.com/made.up.Type{i}",
                                                 resource_names=["x"])

    answered = set()
    call = stub.StreamAggregatedResources(requests(), timeout=20)
    for response in call:
        answered.add(response.type_url)
        assert len(response.resources) == 0
        if len(answered) == count:
            call.cancel()
            break
    assert len(answered) == count
    metrics = meshd.metrics()
    assert "made.up" not in metrics
    assert meshd.metric_sum("meshd_xds_unknown_type_requests") == count
    channel.close()


def test_too_many_resource_names_end_only_that_stream(meshd):
    channel = grpc.insecure_channel(meshd.xds_address)
    stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
    big = discovery_pb2.DiscoveryRequest(type_url="type.googleapis.com/envoy.config.cluster.v3.Cluster",
                                         resource_names=[f"c{i}" for i in range(100001)])
    try:
        for _ in stub.StreamAggregatedResources(iter([big]), timeout=20):
            pass
        raise AssertionError("the stream was not ended")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc
        assert "100000" in exc.details()
    channel.close()
    assert meshd.request("GET", "/ready").status == 200


def test_the_stream_limit_refuses_extra_streams(meshd_factory):
    m = meshd_factory(extra_args=["--xds-max-streams", "1"])
    # Two proxies: two connections (grpcio would otherwise share one subchannel between channels).
    own_connection = [("grpc.use_local_subchannel_pool", 1)]
    channel = grpc.insecure_channel(m.xds_address, options=own_connection)
    other = grpc.insecure_channel(m.xds_address, options=own_connection)
    stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
    hold = threading.Event()

    def first_requests():  # keeps the stream open (no half-close) until the test is done
        yield discovery_pb2.DiscoveryRequest(type_url="x")
        hold.wait(20)

    first = stub.StreamAggregatedResources(first_requests(), timeout=20)
    next(first)  # the first stream is open and answered
    second = ads_pb2_grpc.AggregatedDiscoveryServiceStub(other).StreamAggregatedResources(
        iter([discovery_pb2.DiscoveryRequest(type_url="x")]), timeout=20)
    try:
        next(second)
        raise AssertionError("a second stream was served past --xds-max-streams 1")
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc
    assert m.metric_sum("meshd_xds_refused_streams") == 1
    hold.set()
    first.cancel()
    channel.close()
    other.close()


def test_stored_config_that_fails_validation_is_left_out_and_reported_after_restart(meshd, node_id, ads_clients):
    meshd.apply(configs.join(configs.service_entry(), configs.workload_entry("v1", 9081)))
    meshd.apply(vs_with_weight(100))
    meshd.stop()
    # What an older meshd (looser rules) could have stored: a weight past int32.
    db = sqlite3.connect(Path(meshd.data_dir) / "config.db")
    spec = json.loads(db.execute("SELECT spec FROM config WHERE kind='VirtualService'").fetchone()[0])
    spec["http"][0]["route"][0]["weight"] = 4294967296
    db.execute("UPDATE config SET spec=? WHERE kind='VirtualService'", (json.dumps(spec),))
    db.commit()
    db.close()

    meshd.start()
    client = ads_clients(meshd.xds_address, node_id())
    client.wait_complete(timeout=20)  # the rest of the mesh is still served
    assert meshd.running
    assert any("VirtualService default/reviews" in line and "spec.http[0].route[0].weight" in line
               for line in meshd.lines), meshd.tail(40)
    assert meshd.metric_value("meshd_config_invalid_resources") == 1
    invalid = meshd.push_status()["invalid"]
    assert [(i["kind"], i["name"], i["field"]) for i in invalid] == [("VirtualService", "reviews", "spec.http[0].route[0].weight")]
    ready = meshd.request("GET", "/ready")
    assert ready.status == 200 and "invalid-config" in ready.text, ready.text
    listing = run_meshctl(meshd.admin_url, "get", "vs").stdout
    assert "INVALID, not pushed: spec.http[0].route[0].weight" in listing, listing
    # Fixing it is an ordinary apply.
    meshd.apply(vs_with_weight(100))
    deadline = time.monotonic() + 10
    while meshd.metric_value("meshd_config_invalid_resources") != 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert meshd.metric_value("meshd_config_invalid_resources") == 0


def test_invalid_utf8_is_refused_not_repaired(meshd):
    r = meshd.apply_raw(b"apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: w}\nspec: {address: \"\xff\xfe\"}\n")
    assert r.status == 400, r.text
    assert "UTF-8" in r.json()["error"]["message"]
    assert meshd.get_raw("we", "default", "w").status == 404
