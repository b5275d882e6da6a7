"""SIGTERM is a graceful shutdown even with proxies connected: ADS streams never end on their own,
so meshd must close them (the proxies reconnect elsewhere) rather than wait for them forever."""

from __future__ import annotations

import time

import configs


def test_sigterm_with_connected_proxy_exits_cleanly(meshd, backends, ads_clients, node_id):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))
    meshd.wait_pushed(applied["revision"])
    client = ads_clients(meshd.xds_address, node_id("shutdown"))
    client.wait_quiet(0.3, timeout=10)
    assert any(p.get("synced") for p in meshd.syncz()), meshd.syncz()

    started = time.monotonic()
    code = meshd.stop(timeout=8)
    elapsed = time.monotonic() - started
    assert code == 0, f"meshd exited {code} after SIGTERM (a SIGKILL means it hung)\n{meshd.tail(30)}"
    assert elapsed < 8, f"meshd took {elapsed:.1f}s to stop"
    assert "xDS stream closed" in meshd.tail(40), meshd.tail(40)
