"""Self-tests of the interop harness, against fake_ads.py instead of meshd (no binary needed).

They prove that a real grpcio xDS client in a subprocess, the Envoy-like ADS client and the
unknown-field walk work, so a failure in the meshd tests points at meshd.
"""

from __future__ import annotations

import time

import pytest
from envoy.config.listener.v3 import listener_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm_pb2
from google.protobuf import any_pb2

import configs
import proto_check
import scenarios
from ads_client import route_names, weighted_clusters
from backend import call_direct
from fake_ads import FakeAds, canary_resources


@pytest.fixture
def fake(backends):
    f = FakeAds().start()
    ports = {n: b.port for n, b in backends.items()}
    f.set_resources(canary_resources(ports, {"v1": 50, "v2": 50}))
    f.ports = ports
    try:
        yield f
    finally:
        f.stop()


def wait_until(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_backends_answer_their_name(backends):
    assert call_direct(backends["v1"].address) == "v1"
    assert call_direct(backends["v2"].address) == "v2"


def test_proto_walk_finds_unknown_field_inside_packed_any(backends):
    res = canary_resources({"v1": 1, "v2": 2}, {"v1": 50, "v2": 50})
    for by_name in res.values():
        for msg in by_name.values():
            assert proto_check.find_problems(msg) == []
    listener = res["LDS"][configs.LISTENER]
    # Append field 999 (varint) to the HttpConnectionManager packed in the api_listener.
    hcm_bytes = listener.api_listener.api_listener.value + bytes([0xB8, 0x3E, 0x01])
    tampered = listener_pb2.Listener()
    tampered.CopyFrom(listener)
    tampered.api_listener.api_listener.value = hcm_bytes
    problems = proto_check.find_problems(tampered)
    assert len(problems) == 1 and "HttpConnectionManager" in problems[0] and "[999]" in problems[0], problems
    # An Any of a type the official protos don't have is reported.
    bogus = any_pb2.Any(type_url="type.googleapis.com/meshd.Bogus", value=b"")
    tampered.api_listener.api_listener.CopyFrom(bogus)
    assert "not a type in the official protos" in proto_check.find_problems(tampered)[0]
    # An enum value the proto does not define is reported (by the walk, and by the PGV rule defined_only).
    hcm = hcm_pb2.HttpConnectionManager(codec_type=77, stat_prefix="x", rds=hcm_pb2.Rds(route_config_name="r"))
    problems = proto_check.find_problems(hcm)
    assert len(problems) == 2 and all(".codec_type: " in p for p in problems), problems


def test_ads_client_follows_and_goes_quiet(fake, ads_clients):
    c = ads_clients(fake.address, "harness-ads")
    c.wait_quiet(1.0, timeout=10)
    assert route_names(r.message for r in c.state["LDS"].values()) == {configs.LISTENER}
    assert set(c.state["EDS"]) == {configs.cluster(""), configs.cluster("v1"), configs.cluster("v2")}
    assert weighted_clusters(c.state["RDS"][configs.LISTENER].message) == {
        configs.cluster("v1"): 50, configs.cluster("v2"): 50}
    for rec in c.responses:
        assert proto_check.find_problems(rec.raw) == []
    n = len(c.responses)
    fake.set_resources(canary_resources(fake.ports, {"v1": 0, "v2": 100}))
    c.wait_for(lambda c: len(c.responses) > n, 5, "the RDS push")
    assert [r.type for r in c.responses[n:]] == ["RDS"]
    assert weighted_clusters(c.state["RDS"][configs.LISTENER].message)[configs.cluster("v2")] == 100


def test_grpcio_xds_client_canary_against_fake(fake, xds_clients):
    client = xds_clients(fake.address, "harness-grpc")
    scenarios.warm_up(client)
    wait_until(lambda: fake.synced("harness-grpc"), what="fake sync")
    split = scenarios.even_split(client, 1000)
    client.start_loop("load")

    def move(weights):
        def apply():
            fake.set_resources(canary_resources(fake.ports, weights))

        before = fake.acked("harness-grpc")

        def synced():
            wait_until(lambda: fake.synced("harness-grpc") and fake.acked("harness-grpc") != before, what="sync")
        return apply, synced

    to_v2 = scenarios.shift(client, *move({"v1": 0, "v2": 100}), expect="v2", label="to-v2")
    back = scenarios.shift(client, *move({"v1": 100, "v2": 0}), expect="v1", label="rollback")
    client.stop_loop()
    print(scenarios.fmt(split), scenarios.fmt(to_v2["after"]), scenarios.fmt(back["after"]))
