"""Fault injection with grpcio's real xDS client: a VirtualService rule's `fault` aborts or
delays that share of RPCs, with the gRPC status or HTTP status Istio's YAML names."""
from __future__ import annotations

import scenarios

FAULTS = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-fault: {exact: all}}}]
    fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {x-fault: {exact: none}}}]
    fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 0}}}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {x-fault: {exact: half}}}]
    fault: {abort: {grpcStatus: ABORTED, percentage: {value: 50}}}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {x-fault: {exact: http}}}]
    fault: {abort: {httpStatus: 503}}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {x-fault: {exact: slow}}}]
    fault: {delay: {fixedDelay: 1s, percentage: {value: 100}}}
    route: [{destination: {host: reviews, subset: v1}}]
  - route: [{destination: {host: reviews, subset: v1}}]
"""


def test_grpcio_honours_abort_and_delay(meshd, backends, xds_clients, node_id):
    applied = scenarios.serve_rules(meshd, backends, FAULTS)
    assert not [w for w in applied["warnings"] if "honoured" in w], applied["warnings"]
    client = xds_clients(meshd.xds_address, node_id("faults"))
    scenarios.warm_up(client)

    every = client.run(20, name="all", metadata={"x-fault": "all"})
    assert every["failure_codes"] == {"RESOURCE_EXHAUSTED": 20}, every
    assert backends["v1"].calls == 1, "aborted RPCs must not reach the backend (1 = the warm-up)"

    none = client.run(20, name="none", metadata={"x-fault": "none"})
    assert none["failures"] == 0 and none["counts"] == {"v1": 20}, none

    half = client.run(400, name="half", metadata={"x-fault": "half"})
    assert set(half["failure_codes"]) == {"ABORTED"} and 120 <= half["failures"] <= 280, half

    http = client.run(10, name="http", metadata={"x-fault": "http"})
    assert http["failure_codes"] == {"UNAVAILABLE": 10}, http  # gRPC maps HTTP 503 to UNAVAILABLE

    slow = client.run(3, name="slow", metadata={"x-fault": "slow"})
    assert slow["failures"] == 0 and slow["counts"] == {"v1": 3}, slow
    assert slow["seconds"] >= 2.9, f"three RPCs delayed 1 s each took {slow['seconds']} s"
