"""Rules that answer instead of forwarding (redirect, directResponse) with grpcio's real client:
gRPC follows neither, so the RPCs such a rule matches fail with UNAVAILABLE — they are not
handed to a later rule (a skipped route would widen what the rules after it catch)."""
from __future__ import annotations

import scenarios

RULES = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {x-answer: {exact: redirect}}}]
    redirect: {uri: /moved, redirectCode: 302}
  - match: [{headers: {x-answer: {exact: direct}}}]
    directResponse: {status: 503, body: {string: down for maintenance}}
  - route: [{destination: {host: reviews, subset: v1}}]
"""


def test_answering_rules_fail_grpc_rpcs_instead_of_falling_through(meshd, backends, xds_clients, node_id):
    applied = scenarios.serve_rules(meshd, backends, RULES)
    limits = [w for w in applied["warnings"] if "for proxyless gRPC clients" in w]
    assert len(limits) == 2, applied["warnings"]
    client = xds_clients(meshd.xds_address, node_id("answers"))
    scenarios.warm_up(client)
    calls = backends["v1"].calls
    for answer in ("redirect", "direct"):
        window = client.run(10, name=answer, metadata={"x-answer": answer})
        assert window["failure_codes"] == {"UNAVAILABLE": 10}, window
    assert backends["v1"].calls == calls, "an answering rule's RPCs must not reach the next rule's backend"
    window = client.run(10, name="rest")
    assert window["counts"] == {"v1": 10}, window
