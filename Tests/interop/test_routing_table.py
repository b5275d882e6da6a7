"""The routing table shared with the Swift traffic simulation (Tests/Shared/routing), run
against grpcio's real xDS client and real backends: for every row both honour, the backend that
answers must be the one the simulation says — so the simulation cannot quietly disagree with a
real data plane. Weighted rows check the split over many RPCs."""
from __future__ import annotations

import json
from pathlib import Path

import scenarios
from client_runner import bootstrap

TABLE = Path(__file__).resolve().parent.parent / "Shared" / "routing"


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
            window = client.run(1000, name=row["route"], method=row["path"], metadata=row.get("headers"))
            share = window["counts"].get("v1", 0) / max(1, window["total"])
            expected = row["weights"]["v1"] / sum(row["weights"].values())
            if window["failures"] or abs(share - expected) > 0.05:
                mismatches.append(f"{row}: v1 share {share:.3f} (want {expected:.2f} ± 0.05): {window}")
        else:
            window = client.run(20, name=row["route"], method=row["path"], metadata=row.get("headers"))
            if window["failures"] or window["counts"] != {row["subset"]: 20}:
                mismatches.append(f"{row}: {window['counts']} failures={window['failure_codes']}")
    assert not mismatches, "\n".join(mismatches)
