"""A NACK must be visible: in /debug/syncz (STALE with the error), in meshctl proxy-status, in
pilot_total_xds_rejects{type}, and in meshd's log with the error detail. Nothing is resent until
the content changes; the next change that the proxy accepts makes it SYNCED again."""

from __future__ import annotations

import time

import configs
from meshd_process import run_meshctl

ERROR = "route configuration rejected by the test proxy"


def _entry(meshd, proxy):
    for item in meshd.syncz():
        if item["proxyID"] == proxy:
            return item
    return None


def _wait(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_nack_is_visible_everywhere_and_clears_on_the_next_accepted_push(meshd, backends, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))
    meshd.wait_pushed(applied["revision"])
    rejects_before = meshd.metric_sum("pilot_total_xds_rejects")

    proxy = node_id("nacker")
    client = ads_clients(meshd.xds_address, proxy, reject={"RDS": ERROR})
    entry = _wait(lambda: (e := _entry(meshd, proxy)) and e["types"].get("RDS", {}).get("error") and e,
                  what="syncz to show the RDS NACK")
    assert entry["types"]["RDS"]["status"] == "STALE", entry
    assert entry["types"]["RDS"]["error"] == ERROR, entry
    assert entry["synced"] is False
    for t in ("LDS", "CDS", "EDS"):
        assert entry["types"][t]["status"] == "SYNCED", entry

    assert _wait(lambda: meshd.metric_sum("pilot_total_xds_rejects") >= rejects_before + 1,
                 what="pilot_total_xds_rejects to count the NACK")
    assert 'type="rds"' in "".join(l for l in meshd.metrics().splitlines() if l.startswith("pilot_total_xds_rejects"))
    assert _wait(lambda: ERROR in meshd.tail(200), what="the NACK's error in meshd's log")

    status = run_meshctl(meshd.admin_url, "proxy-status")
    line = next(l for l in status.stdout.splitlines() if proxy in l)
    assert "STALE" in line and ERROR in status.stdout, status.stdout

    # Nothing is resent while the content is unchanged.
    rds_responses = sum(1 for r in client.responses if r.type == "RDS")
    time.sleep(0.5)
    assert sum(1 for r in client.responses if r.type == "RDS") == rds_responses

    # The proxy starts accepting; the next change clears the error.
    client.reject.clear()
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 0, "v2": 100}))
    meshd.wait_pushed(applied["revision"])
    entry = _wait(lambda: (e := _entry(meshd, proxy)) and e["synced"] and e, what="the proxy to be SYNCED again")
    assert "error" not in entry["types"]["RDS"], entry
