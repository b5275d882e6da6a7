"""The canary story with a real proxyless gRPC client (grpcio's xDS resolver) and real backends.

50/50 splits ~evenly with no failures; shifting to 100% v2 under load fails no RPC and, once
/debug/syncz shows the client synced, every RPC lands on v2; rolling back to v1 likewise.
"""

from __future__ import annotations

import configs
import scenarios
from results import record_result


def test_canary_split_shift_and_rollback(meshd, backends, xds_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))
    actions = {(r["kind"], r["name"]): r["action"] for r in applied["results"]}
    assert len(applied["results"]) == 5 and set(actions.values()) == {"created"}, applied
    meshd.wait_pushed(applied["revision"])

    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)

    split = scenarios.even_split(client, 1000)
    record_result("canary", "50/50 " + scenarios.fmt(split))

    client.start_loop("load")

    def move(weights):
        state = {}

        def apply():
            state["before"] = meshd.acked_versions(meshd.proxy_status(proxy))
            result = meshd.apply(configs.virtual_service(weights))
            assert [r["action"] for r in result["results"]] == ["configured"], result

        def synced():
            meshd.wait_synced(proxy, changed_from=state["before"])

        return apply, synced

    to_v2 = scenarios.shift(client, *move({"v1": 0, "v2": 100}), expect="v2", label="to-v2")
    record_result("canary", "shift 0/100: " + scenarios.fmt(to_v2["during"])
                  + f" apply={to_v2['during']['apply_seconds']}s sync={to_v2['during']['sync_seconds']}s")
    record_result("canary", "shift 0/100: " + scenarios.fmt(to_v2["after"]))

    back = scenarios.shift(client, *move({"v1": 100, "v2": 0}), expect="v1", label="rollback")
    record_result("canary", "rollback 100/0: " + scenarios.fmt(back["during"])
                  + f" apply={back['during']['apply_seconds']}s sync={back['during']['sync_seconds']}s")
    record_result("canary", "rollback 100/0: " + scenarios.fmt(back["after"]))

    tail = client.stop_loop()
    scenarios.assert_no_failures(tail, "load after rollback")
