"""VirtualService `timeout` and `retries` reach grpcio as max_stream_duration and a retry policy:
grpcio accepts them (no NACK), RPCs keep working, and the bytes decode with the official protos."""

from __future__ import annotations

import configs
import proto_check
import scenarios

POLICY_VS = f"""\
apiVersion: {configs.API_VERSION}
kind: VirtualService
metadata:
  name: reviews
  namespace: {configs.NAMESPACE}
spec:
  hosts: [reviews]
  http:
  - timeout: 3s
    retries: {{attempts: 2, perTryTimeout: 1s, retryOn: "unavailable,cancelled"}}
    route:
    - destination: {{host: reviews, subset: v1}}
"""


def test_timeout_and_retries_are_accepted_by_grpcio(meshd, backends, xds_clients, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.join(configs.service_entry(), configs.workload_entry("v1", ports["v1"]),
                                       configs.workload_entry("v2", ports["v2"]), configs.destination_rule(), POLICY_VS))
    meshd.wait_pushed(applied["revision"])

    proxy = node_id("policy")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    window = client.run(50, name="policy")
    assert window["failures"] == 0 and window["counts"] == {"v1": 50}, window
    entry = next(e for e in meshd.syncz() if e["proxyID"] == proxy)
    assert entry["synced"], entry  # a NACK would leave RDS STALE with the error

    envoy = ads_clients(meshd.xds_address, node_id("policy-envoy"))
    envoy.wait_quiet(0.3, timeout=10)
    route = next(iter(envoy.state["RDS"].values())).message.virtual_hosts[0].routes[0].route
    assert route.max_stream_duration.max_stream_duration.seconds == 3
    assert route.retry_policy.num_retries.value == 2
    assert route.retry_policy.retry_on == "unavailable,cancelled"
    for kind in ("LDS", "RDS", "CDS", "EDS"):
        for name, resource in envoy.state[kind].items():
            problems = proto_check.find_problems(resource.message)
            assert not problems, f"{kind} {name}: {problems}"
