"""Make-before-break as an Envoy-like ADS client sees it.

Adding a subset: the CDS with the new cluster and its EDS arrive before the RDS that routes to
it. Removing a subset: the RDS that stops routing to it arrives before the CDS that drops it.
"""

from __future__ import annotations

import configs
from results import record_result
from ads_client import weighted_clusters

V1, V2 = configs.cluster("v1"), configs.cluster("v2")


def first(responses, type_, pred):
    for r in responses:
        if r.type == type_ and pred(r):
            return r
    return None


def routes_to(rec) -> set:
    """Cluster names the route config in an RDS response routes to (None if it isn't there)."""
    rc = rec.resources.get(configs.LISTENER)
    return set(weighted_clusters(rc.message)) if rc else None


def test_make_before_break(meshd, backends, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 100}, subsets=("v1",)))
    meshd.wait_pushed(applied["revision"])

    c = ads_clients(meshd.xds_address, node_id("ads"))
    c.wait_quiet(0.3, timeout=10)
    assert V1 in c.state["CDS"] and V2 not in c.state["CDS"], sorted(c.state["CDS"])
    assert set(weighted_clusters(c.state["RDS"][configs.LISTENER].message)) == {V1}

    # ---- add subset v2 and route to it ----------------------------------------------------
    n0 = len(c.responses)
    meshd.apply(configs.join(configs.destination_rule(("v1", "v2")), configs.virtual_service({"v1": 50, "v2": 50})))
    c.wait_for(lambda c: first(c.responses[n0:], "RDS", lambda r: V2 in (routes_to(r) or ())), 10,
               "an RDS routing to v2")
    c.wait_complete()
    seq = c.responses[n0:]
    record_result("ordering", "add v2: " + "; ".join(f"{r.type} {r.names}" for r in seq))
    cds = first(seq, "CDS", lambda r: V2 in r.resources)
    eds = first(seq, "EDS", lambda r: V2 in r.resources)
    rds = first(seq, "RDS", lambda r: V2 in (routes_to(r) or ()))
    assert cds is not None, f"no CDS with {V2} before the RDS routing to it\n{c.describe()}"
    assert eds is not None, f"no EDS for {V2} arrived\n{c.describe()}"
    assert cds.seq < rds.seq, f"RDS routing to v2 (#{rds.seq}) came before the CDS adding it (#{cds.seq})\n{c.describe()}"
    assert eds.seq < rds.seq, f"RDS routing to v2 (#{rds.seq}) came before its EDS (#{eds.seq})\n{c.describe()}"

    # ---- drop subset v1 and stop routing to it ------------------------------------------
    n1 = len(c.responses)
    meshd.apply(configs.join(configs.destination_rule(("v2",)), configs.virtual_service({"v2": 100})))
    c.wait_for(lambda c: first(c.responses[n1:], "CDS", lambda r: V1 not in r.resources), 10,
               "a CDS without v1")
    seq = c.responses[n1:]
    record_result("ordering", "drop v1: " + "; ".join(f"{r.type} {r.names}" for r in seq))
    rds = first(seq, "RDS", lambda r: routes_to(r) is not None and V1 not in routes_to(r))
    cds = first(seq, "CDS", lambda r: V1 not in r.resources)
    assert rds is not None, f"the CDS dropping v1 (#{cds.seq}) came before any RDS that stops routing to it\n{c.describe()}"
    assert rds.seq < cds.seq, (
        f"the CDS dropping v1 (#{cds.seq}) came before the RDS that stops routing to it (#{rds.seq})\n{c.describe()}")
    assert configs.cluster("") in cds.resources and V2 in cds.resources, sorted(cds.resources)
    c.wait_complete()
    assert set(weighted_clusters(c.state["RDS"][configs.LISTENER].message)) == {V2}
