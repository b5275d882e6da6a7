"""The routing table shared with the Swift traffic simulation (Tests/Shared/routing), run
against grpcio's real xDS client and real backends: for every row both honour, the backend that
answers must be the one the simulation says — so the simulation cannot quietly disagree with a
real data plane. Weighted rows check the split over many RPCs."""
from __future__ import annotations

import json
import math
from pathlib import Path

import scenarios
from client_runner import bootstrap

TABLE = Path(__file__).resolve().parent.parent / "Shared" / "routing"

# A weighted row's v1 share must be within SHARE_TOLERANCE of the weights'. Over n RPCs the share
# of a fair split has the binomial sigma sqrt(p(1-p)/n): n is chosen so that the tolerance is at
# least SHARE_SIGMAS of them (2500 RPCs at 50/50, 1600 at 20/80), so a correct split fails with
# p < 1e-6, while a split off by twice the tolerance fails almost always.
SHARE_TOLERANCE = 0.05
SHARE_SIGMAS = 5


def rpcs_for_share(p: float) -> int:
    return max(100, math.ceil(p * (1 - p) * (SHARE_SIGMAS / SHARE_TOLERANCE) ** 2))


def _rows():
    return [row for row in json.loads((TABLE / "cases.json").read_text())["cases"] if row.get("grpc", True)]


def test_grpcio_reaches_what_the_simulation_reaches(meshd, backends, xds_clients, node_id):
    applied = scenarios.serve_rules(meshd, backends, (TABLE / "rules.yaml").read_text())
    assert not [w for w in applied["warnings"] if "not yet honoured" in w], applied["warnings"]

    clients = {}

    def client_in(namespace: str):
        if namespace not in clients:
            node = node_id(f"table-{namespace}")
            boot = bootstrap(meshd.xds_address, node)
            boot["node"]["metadata"] = {"NAMESPACE": namespace}
            clients[namespace] = xds_clients(meshd.xds_address, node, bootstrap_json=json.dumps(boot))
            scenarios.warm_up(clients[namespace])
        return clients[namespace]

    mismatches = []
    for row in _rows():
        client = client_in(row.get("namespace", "default"))
        if "weights" in row:
            expected = row["weights"]["v1"] / sum(row["weights"].values())
            try:
                settled = scenarios.settle(client, [s for s, w in row["weights"].items() if w], row["route"],
                                           method=row["path"], metadata=row.get("headers"))
            except AssertionError as e:
                mismatches.append(f"{row}: {e}")
                continue
            n = rpcs_for_share(expected)
            window = client.run(n, name=row["route"], method=row["path"], metadata=row.get("headers"))
            share = window["counts"].get("v1", 0) / max(1, window["total"])
            if window["failures"] or abs(share - expected) > SHARE_TOLERANCE:
                mismatches.append(f"{row}: v1 share {share:.3f} of {n} (want {expected:.2f} ± {SHARE_TOLERANCE},"
                                  f" counted after {settled['rpcs']} settling RPCs): {window}")
        else:
            window = client.run(20, name=row["route"], method=row["path"], metadata=row.get("headers"))
            if window["failures"] or window["counts"] != {row["subset"]: 20}:
                mismatches.append(f"{row}: {window['counts']} failures={window['failure_codes']}")
    assert not mismatches, "\n".join(mismatches)
