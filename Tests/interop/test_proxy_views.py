"""Per-proxy views against a real meshd: a Sidecar limits what a namespace's proxies receive,
exportTo hides a service from other namespaces, and a change outside a proxy's view sends it no
response at all while the proxies that see it converge."""
from __future__ import annotations

import time

import configs


def _apply(meshd, text: str) -> None:
    meshd.wait_pushed(meshd.apply(text)["revision"])


def _listener(name: str, namespace: str) -> str:
    return f"{name}.{namespace}.svc.cluster.local:{configs.PORT}"


def test_a_sidecar_limits_the_view_and_changes_outside_it_send_nothing(meshd, node_id, ads_clients, delta_clients):
    _apply(meshd, configs.join(
        configs.namespaced_service("reviews", "a", 9101),
        configs.namespaced_service("ratings", "b", 9102),
        configs.sidecar("a", ["./*"]),
    ))
    in_a = ads_clients(meshd.xds_address, node_id("in-a"), metadata={"NAMESPACE": "a"})
    in_b = ads_clients(meshd.xds_address, node_id("in-b"), metadata={"NAMESPACE": "b"})
    delta_a = delta_clients(meshd.xds_address, node_id("delta-a"), metadata={"NAMESPACE": "a"})
    for c in (in_a, in_b):
        c.wait_quiet(0.5)
    delta_a.subscribe("CDS")
    delta_a.subscribe("LDS")
    delta_a.wait_for(lambda c: c.state["CDS"] and c.state["LDS"], 10, "CDS and LDS")
    assert set(in_a.state["LDS"]) == {_listener("reviews", "a")}
    assert set(in_a.state["CDS"]) == {f"outbound|{configs.PORT}||reviews.a.svc.cluster.local"}
    assert set(delta_a.state["LDS"]) == {_listener("reviews", "a")}
    assert set(in_b.state["LDS"]) == {_listener("reviews", "a"), _listener("ratings", "b")}

    seen_a, seen_delta = len(in_a.responses), len(delta_a.responses)
    # Changes in b only: an endpoint moves, then a new service appears.
    _apply(meshd, configs.namespaced_service("ratings", "b", 9103))
    _apply(meshd, configs.namespaced_service("details", "b", 9104))
    in_b.wait_for(lambda c: _listener("details", "b") in c.state["LDS"], 10, "the new service in b")
    in_b.wait_quiet(0.5)
    time.sleep(1.0)
    assert len(in_a.responses) == seen_a, in_a.describe()
    assert len(delta_a.responses) == seen_delta, delta_a.describe()
    syncz = {e["proxyID"]: e for e in meshd.syncz()}
    assert syncz[in_a.node_id]["viewKey"] == "proxyless-grpc/a sidecar=a/default"
    assert syncz[in_b.node_id]["viewKey"] == "proxyless-grpc/b sidecar=none"

    # A change inside a's view still reaches it.
    _apply(meshd, configs.namespaced_service("reviews", "a", 9105))
    in_a.wait_for(lambda c: len(c.responses) > seen_a, 10, "the change in a")


def test_export_to_dot_hides_a_service_from_other_namespaces(meshd, node_id, ads_clients):
    _apply(meshd, configs.join(
        configs.namespaced_service("private", "a", 9111, export_to=["."]),
        configs.namespaced_service("public", "a", 9112),
    ))
    in_a = ads_clients(meshd.xds_address, node_id("export-a"), metadata={"NAMESPACE": "a"})
    in_b = ads_clients(meshd.xds_address, node_id("export-b"), metadata={"NAMESPACE": "b"})
    for c in (in_a, in_b):
        c.wait_quiet(0.5)
    assert set(in_a.state["LDS"]) == {_listener("private", "a"), _listener("public", "a")}
    assert set(in_b.state["LDS"]) == {_listener("public", "a")}


def test_a_bad_sidecar_host_is_422_naming_the_field_and_ingress_is_warned_about(meshd):
    from test_admin_errors import error_of
    bad = configs.sidecar("a", ["./*", "reviews"])
    err = error_of(meshd.apply_raw(bad), 422, "invalid")
    assert err.get("field") == "spec.egress[0].hosts[1]", err
    assert err.get("resource") == "Sidecar a/default", err
    assert meshd.get_raw("sidecars", "a", "default").status == 404

    answer = meshd.apply(configs.sidecar("a", ["./*"]) + "  ingress:\n  - port: {number: 9080, protocol: GRPC, name: grpc}\n")
    # Envoy sidecars honour ingress listeners; proxyless gRPC clients have no sidecar in front.
    assert any("spec.ingress" in w and "not honoured by proxyless gRPC clients" in w for w in answer["warnings"]), answer
    assert not any("not yet honoured by meshd" in w for w in answer["warnings"]), answer
