"""Retries and timeouts with grpcio's real xDS client, counted at the backend: a rule's
`retries` makes grpcio try `attempts + 1` times on the listed gRPC statuses, and its `timeout`
ends a slow RPC with DEADLINE_EXCEEDED (grpcio fires service-config timeouts about 1.5 s early,
so the timeout here is several seconds: see DESIGN.md)."""
from __future__ import annotations

import time

import grpc

import scenarios

RULES = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-test: {exact: retry}}}]
    retries: {attempts: 2, retryOn: unavailable}
    route: [{destination: {host: reviews, subset: v1}}]
  - match: [{headers: {x-test: {exact: slow}}}]
    timeout: 4s
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v2}}]
"""


def test_retries_reach_the_backend_attempts_plus_one_times(meshd, backends, xds_clients, node_id):
    applied = scenarios.serve_rules(meshd, backends, RULES)
    client = xds_clients(meshd.xds_address, node_id("retries"), deadline=10.0)
    scenarios.warm_up(client)  # the default rule: v2

    backends["v1"].fail = True
    backends["v1"].fail_code = grpc.StatusCode.UNAVAILABLE
    before = backends["v1"].calls
    window = client.run(5, name="retry", metadata={"x-test": "retry"})
    assert window["failure_codes"] == {"UNAVAILABLE": 5}, window
    assert backends["v1"].calls - before == 15, f"5 RPCs × (2 attempts + 1) expected, the backend saw {backends['v1'].calls - before}"

    backends["v2"].delay = 8.0
    started = time.monotonic()
    window = client.run(1, name="slow", metadata={"x-test": "slow"})
    elapsed = time.monotonic() - started
    assert window["failure_codes"] == {"DEADLINE_EXCEEDED": 1}, window
    assert elapsed < 6.0, f"the 4 s route timeout should end the RPC before the backend's 8 s delay ({elapsed:.1f} s)"
    backends["v2"].delay = 0.0
