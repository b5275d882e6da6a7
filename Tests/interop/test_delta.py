"""Delta (incremental) ADS against a real meshd, with a client on the official protos.

Subscribe and unsubscribe mid-stream, wildcard, a named resource that does not exist until it
is created, removals (a DestinationRule or ServiceEntry deleted through the admin API arrives as
removed_resources), and a reconnect that declares what it holds (initial_resource_versions) and
is sent only the differences. Every resource must decode with the official protos.
"""

from __future__ import annotations

import configs
from ads_client import eds_names, route_names
from delta_client import DeltaClient

V1, V2, ALL = configs.cluster("v1"), configs.cluster("v2"), configs.cluster("")


def _apply(meshd, text: str) -> None:
    meshd.wait_pushed(meshd.apply(text)["revision"])


def _envoy_like(c: DeltaClient) -> None:
    """Wildcard CDS and LDS, then EDS and RDS by the names they reveal; waits until all arrived."""
    c.subscribe("CDS")
    c.subscribe("LDS")
    clusters = c.wait_response(0, "CDS").resources.values()
    listeners = c.wait_response(0, "LDS").resources.values()
    c.subscribe("EDS", eds_names(r.message for r in clusters))
    c.subscribe("RDS", route_names(r.message for r in listeners))
    c.wait_for(lambda c: c.state["EDS"] and c.state["RDS"], 10, "EDS and RDS")


def test_delta_wildcard_and_named_subscriptions(meshd, backends, node_id, delta_clients):
    _apply(meshd, configs.canary(backends["v1"].port, backends["v2"].port))
    proxy = node_id("delta")
    c = delta_clients(meshd.xds_address, proxy)
    _envoy_like(c)
    assert set(c.state["CDS"]) == {V1, V2, ALL}
    assert set(c.state["EDS"]) == {V1, V2, ALL}
    assert set(c.state["LDS"]) == {configs.LISTENER} and set(c.state["RDS"]) == {configs.LISTENER}
    assert all(r.version for t in c.state.values() for r in t.values()), "every resource carries its version"
    assert all(r.system_version and r.nonce for r in c.responses)
    assert len({r.nonce for r in c.responses}) == len(c.responses), "a fresh nonce per response"
    assert c.problems() == []
    entry = meshd.wait_synced(proxy)
    assert entry["protocol"] == "delta"
    assert set(entry["types"]) == {"CDS", "EDS", "LDS", "RDS"}
    # Nothing changed: nothing more is sent.
    assert c.quiet(0.3) == []


def test_delta_nonexistent_then_created_and_unsubscribe(meshd, backends, node_id, delta_clients):
    ports = (backends["v1"].port, backends["v2"].port)
    _apply(meshd, configs.canary(*ports, weights={"v1": 100}, subsets=("v1",)))
    c = delta_clients(meshd.xds_address, node_id("delta"))
    c.subscribe("EDS", [V1, V2])
    first = c.wait_response(0, "EDS")
    assert first.names == [V1] and first.removed == []
    assert c.quiet(0.3) == [], "a name that does not exist gets nothing"

    _apply(meshd, configs.join(configs.destination_rule(("v1", "v2")), configs.virtual_service({"v1": 50, "v2": 50})))
    created = c.wait_response(1, "EDS")
    assert created.names == [V2], created
    # An unsubscribe needs no response; v2's endpoints come only once.
    c.unsubscribe("EDS", [V1])
    assert c.quiet(0.4) == []
    assert [r.names for r in c.responses if r.type == "EDS"] == [[V1], [V2]]
    assert c.problems() == []


def test_delta_removals_after_deletes(meshd, backends, node_id, delta_clients):
    _apply(meshd, configs.canary(backends["v1"].port, backends["v2"].port, weights={"v1": 100}))
    c = delta_clients(meshd.xds_address, node_id("delta"))
    _envoy_like(c)
    n = len(c.responses)

    # The DestinationRule goes: its subset clusters (and their endpoints) are removed, after
    # the route stops naming them (make-before-break).
    assert meshd.delete_resource("DestinationRule", configs.NAMESPACE, "reviews").status == 200
    cds = c.wait_response(n, "CDS", lambda r: r.removed)
    assert sorted(cds.removed) == sorted([V1, V2]) and cds.resources == {}
    eds = c.wait_response(n, "EDS", lambda r: r.removed)
    assert sorted(eds.removed) == sorted([V1, V2])
    rds = c.wait_response(n, "RDS")
    assert rds.seq < cds.seq, c.describe()
    assert set(c.state["CDS"]) == {ALL}

    # The ServiceEntry goes: listener, route configuration and cluster are removed.
    n = len(c.responses)
    assert meshd.delete_resource("ServiceEntry", configs.NAMESPACE, "reviews").status == 200
    lds = c.wait_response(n, "LDS", lambda r: r.removed)
    assert lds.removed == [configs.LISTENER]
    c.wait_for(lambda c: not c.state["CDS"] and not c.state["RDS"] and not c.state["EDS"], 10, "everything removed")
    assert c.problems() == []


def test_delta_reconnect_sends_only_differences(meshd, backends, node_id, delta_clients):
    ports = (backends["v1"].port, backends["v2"].port)
    _apply(meshd, configs.canary(*ports, weights={"v1": 50, "v2": 50}))
    proxy = node_id("delta")
    before = delta_clients(meshd.xds_address, proxy)
    _envoy_like(before)
    held = {t: before.versions(t) for t in ("CDS", "EDS", "LDS", "RDS")}
    before.close()

    _apply(meshd, configs.virtual_service({"v1": 10, "v2": 90}))   # only the route changes
    gone = configs.cluster("v0")
    after = delta_clients(meshd.xds_address, proxy)
    after.subscribe("CDS", initial={**held["CDS"], gone: "0123456789abcdef"})
    after.subscribe("EDS", sorted(held["EDS"]), initial=held["EDS"])
    after.subscribe("LDS", initial=held["LDS"])
    after.subscribe("RDS", sorted(held["RDS"]), initial=held["RDS"])
    rds = after.wait_response(0, "RDS")
    assert rds.names == [configs.LISTENER] and rds.resources[configs.LISTENER].version != held["RDS"][configs.LISTENER]
    cds = after.wait_response(0, "CDS")
    assert cds.resources == {} and cds.removed == [gone], "CDS: only the cluster deleted while away"
    lds = after.wait_response(0, "LDS")
    assert lds.resources == {} and lds.removed == [], "LDS held everything: an empty answer"
    assert after.quiet(0.3) == []
    assert [r.type for r in after.responses if r.type == "EDS"] == [], "EDS held everything: nothing sent"
    assert after.problems() == []


def test_delta_unknown_type_is_answered_empty(meshd, node_id, delta_clients):
    c = delta_clients(meshd.xds_address, node_id("delta"))
    invented = "type.googleapis.com/example.Invented"
    c.subscribe(invented, ["a"])
    rec = c.wait_for(lambda c: c.responses and c.responses[0], 10, "an answer")
    assert rec.type == invented and rec.resources == {} and rec.removed == []
