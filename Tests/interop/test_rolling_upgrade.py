"""A rolling restart of two meshd replicas under a running canary drops no request (issue 27).

Replica A listens on 127.0.0.1 and replica B on 127.0.0.2 (one etcd store, fixed xDS ports),
and N real grpcio proxyless clients (xds_client.py) have one xDS server in their bootstrap,
`ipv4:127.0.0.1:PA,127.0.0.2:PB` (gRPC's multi-address target, pick_first), while they send
RPCs continuously through the reviews canary. Then: SIGTERM A, start a new A on the same
address and port (waiting for /ready 200), apply 0/100 through the new A in the middle of the
rollout, SIGTERM B, start a new B. No RPC may fail over the whole run; each move lands every
client on the other replica synced, never NACKing, holding the same resources at the same
versions; every client ends on a new replica (`/debug/syncz`, and `meshctl proxy-status -o json`
through the new B, which lists the new A's proxies) with the versions a fresh client of the new
B gets; after the weight change each client's RPCs land on v2 only.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

import configs
import scenarios
from etcd_cluster import etcd_bin
from meshd_process import run_meshctl
from results import record_result
from test_etcd_replicas import etcd_cluster, kek_file, wait_for  # noqa: F401  (fixtures)

pytestmark = pytest.mark.skipif(etcd_bin() is None, reason="etcd not installed (apt-get install etcd-server)")

N_CLIENTS = 3
ADDRESS_A = "127.0.0.1"
ADDRESS_B = "127.0.0.2"
TYPES = ("LDS", "RDS", "CDS", "EDS")
# Per-client RPCs counted in a window before the test moves on.
MIN_WINDOW_RPCS = 150
RECONNECT_TIMEOUT = 20.0
STOP_TIMEOUT = 12.0
# How often the helpers read /debug/syncz. Not faster: on an etcd replica each read is an etcd
# range on the connection the config watch uses, and tens of reads a second break that watch
# every few seconds ("etcd watch broken; resuming from the last revision seen"), delaying config.
POLL = 0.1


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def start_replica(meshd_factory, etcd_cluster, kek_file, name: str, address: str, port: int):  # noqa: F811
    """A meshd replica on the shared etcd store named `name` (its `replica` in syncz), its xDS
    port fixed at address:port (the bootstrap names it); returns once /ready answers 200."""
    t0 = time.monotonic()
    m = meshd_factory(["--store", etcd_cluster.store_url, "--kek-file", str(kek_file),
                       "--listen-address", address, "--grpc-port", str(port), "--replica-name", name], name=name)
    m.started_seconds = round(time.monotonic() - t0, 3)
    m.replica = name
    assert m.xds_address == f"{address}:{port}", (m.xds_address, m.tail(20))
    assert m.admin_address.startswith(address + ":"), m.admin_address
    r = m.request("GET", "/ready")
    assert r.status == 200, (r.status, r.text)
    return m


def local_entries(replica, proxies) -> dict:
    """proxyID -> the /debug/syncz entry of `replica`'s own stream for it (None if not connected)."""
    found = {p: None for p in proxies}
    for e in replica.syncz():
        if e.get("replica") == replica.replica and e.get("proxyID") in found:
            found[e["proxyID"]] = e
    return found


def assert_clean(entry: dict, proxy: str, where: str) -> None:
    """Synced on every type, what was sent is what was acked, no NACK detail."""
    assert entry is not None, f"{proxy} not connected to {where}"
    assert entry.get("synced") is True, (proxy, where, entry)
    for t in TYPES:
        s = entry["types"].get(t) or {}
        assert s.get("status") == "SYNCED" and "error" not in s, f"{proxy} on {where}: {t} {s}"
        assert s.get("sentVersion") == s.get("ackedVersion"), f"{proxy} on {where}: {t} {s}"


def versions(entry: dict) -> dict:
    """The acked version of each type. It is the version of the set of resources the stream
    subscribes to when it was sent: after 0/100 grpcio drops its CDS/EDS watch of v1, and meshd
    (like istiod) does not answer a SotW request that only narrows the names, so the stream that
    lived through the change still shows the {v1, v2} set version while a fresh stream shows the
    {v2} one — for the very same resources."""
    return {t: (entry["types"].get(t) or {}).get("ackedVersion") for t in TYPES}


def held(replica, proxy: str) -> dict:
    """type -> {resource name: version} of the proxy's snapshot on `replica` (/debug/config_dump)."""
    r = replica.request("GET", "/debug/config_dump?proxyID=" + proxy)
    assert r.status == 200, (replica.replica, proxy, r.status, r.text[:500])
    return {t: {x["name"]: x["version"] for x in rs} for t, rs in r.json()["resources"].items()}


def settled(replica, proxies, quiet: float = 0.5, timeout: float = 10.0) -> dict:
    """proxyID -> `replica`'s own syncz entry, once every proxy is synced there and no acked
    version changed for `quiet` s: after a route change grpcio re-subscribes CDS/EDS (a cluster
    no route names any more is dropped), so the first changed ACK is not the end of it."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        entries = local_entries(replica, proxies)
        now = {p: versions(e) if e and e.get("synced") else None for p, e in entries.items()}
        if now != last:
            last, since = now, time.monotonic()
        elif all(now.values()) and time.monotonic() - since >= quiet:
            return entries
        time.sleep(POLL)
    raise AssertionError(f"{proxies} not settled on {replica.replica} within {timeout}s: {last}\n{replica.tail(30)}")


def move_clients(old, new, proxies, expect_versions, label: str, same=TYPES) -> dict:
    """SIGTERM `old` (in the background) and wait until every proxy is synced on `new` with
    `expect_versions` for the types `same`; `old` must exit 0. Returns the settled entries on
    `new`, per-proxy reconnect times (SIGTERM to the synced entry on `new`), and how long `old`
    took to exit, with its exit code."""
    stopped = {}

    def stop():
        stopped["code"] = old.stop(timeout=STOP_TIMEOUT)
        stopped["seconds"] = round(time.monotonic() - t0, 3)

    t0 = time.monotonic()
    stopper = threading.Thread(target=stop, daemon=True)
    stopper.start()
    reconnected = {}
    deadline = t0 + RECONNECT_TIMEOUT
    entries = {}
    while len(reconnected) < len(proxies) and time.monotonic() < deadline:
        entries = local_entries(new, proxies)
        for p, e in entries.items():
            if p not in reconnected and e is not None and e.get("synced") and all(
                    versions(e)[t] == expect_versions[t] for t in same):
                reconnected[p] = round(time.monotonic() - t0, 3)
        time.sleep(POLL)
    stopper.join(timeout=STOP_TIMEOUT + 5)
    assert not stopper.is_alive(), f"{label}: {old.name} still stopping"
    assert stopped.get("code") == 0, f"{label}: {old.name} exited {stopped.get('code')} after SIGTERM\n{old.tail(30)}"
    missing = [p for p in proxies if p not in reconnected]
    assert not missing, (f"{label}: {missing} not synced on {new.replica} with {same} of {expect_versions} within"
                         f" {RECONNECT_TIMEOUT}s: {entries}\n{new.tail(40)}")
    entries = settled(new, proxies)
    for p in proxies:
        assert_clean(entries[p], p, new.replica)
    return {"entries": entries, "reconnect": reconnected, "stop_seconds": stopped.get("seconds"),
            "exit": stopped.get("code")}


def test_rolling_restart_of_two_replicas_drops_no_rpc(meshd_factory, etcd_cluster, kek_file,  # noqa: F811
                                                      backends, xds_clients, node_id):
    port_a, port_b = free_port(ADDRESS_A), free_port(ADDRESS_B)
    a1 = start_replica(meshd_factory, etcd_cluster, kek_file, "A1", ADDRESS_A, port_a)
    b1 = start_replica(meshd_factory, etcd_cluster, kek_file, "B1", ADDRESS_B, port_b)
    applied = a1.apply(configs.canary(backends["v1"].port, backends["v2"].port, {"v1": 50, "v2": 50}))
    a1.wait_pushed(applied["revision"])
    b1.wait_pushed(applied["revision"], timeout=20)

    server_uri = f"ipv4:{ADDRESS_A}:{port_a},{ADDRESS_B}:{port_b}"
    proxies = [node_id(f"grpc{i}") for i in range(N_CLIENTS)]
    clients = {p: xds_clients(server_uri, p) for p in proxies}
    for p, c in clients.items():
        scenarios.warm_up(c)
        a1.wait_synced(p)
    # pick_first: every client dials the first address, A.
    on_a1 = local_entries(a1, proxies)
    for p in proxies:
        assert_clean(on_a1[p], p, "A1")
    ver_5050 = versions(on_a1[proxies[0]])
    assert all(versions(e) == ver_5050 for e in on_a1.values()), on_a1

    windows = {p: [] for p in proxies}

    def mark_all(name: str) -> None:
        for p, c in clients.items():
            windows[p].append(c.mark(name))

    def fill(n: int = MIN_WINDOW_RPCS) -> None:
        for c in clients.values():
            c.wait_for_rpcs(n, timeout=15)

    run_start = time.monotonic()
    for c in clients.values():
        c.start_loop("50-50-on-A1")
    fill()

    # 1. A1 goes (SIGTERM); its clients move to B1 with the versions they held.
    mark_all("A1-stopping")
    moved_to_b1 = move_clients(a1, b1, proxies, ver_5050, "A1 -> B1")
    fill(20)

    # 2. A new A on the same address and port; /ready 200 before anything else.
    mark_all("A2-starting")
    a2 = start_replica(meshd_factory, etcd_cluster, kek_file, "A2", ADDRESS_A, port_a)
    a2.wait_pushed(applied["revision"])
    fill(20)

    # 3. Mid-rollout: 0/100 applied through the new A reaches the clients on B1.
    mark_all("weight-change")
    t0 = time.monotonic()
    moved = a2.apply(configs.virtual_service({"v1": 0, "v2": 100}))
    assert [r["action"] for r in moved["results"]] == ["configured"], moved
    b1.wait_pushed(moved["revision"], timeout=20)
    for p in proxies:
        b1.wait_synced(p, changed_from=ver_5050)
    weight_sync = round(time.monotonic() - t0, 3)
    synced_b1 = settled(b1, proxies)
    for p, e in synced_b1.items():
        assert_clean(e, p, "B1")
    ver_b1 = versions(synced_b1[proxies[0]])
    assert all(versions(e) == ver_b1 for e in synced_b1.values()), synced_b1
    assert ver_b1["RDS"] != ver_5050["RDS"], (ver_5050, ver_b1)
    time.sleep(scenarios.SETTLE_AFTER_SYNC)
    mark_all("v2-on-B1")
    fill()

    # 4. B1 goes; the clients move to A2 — a replica started after the weight change was applied.
    held_on_b1 = {p: held(b1, p) for p in proxies}
    mark_all("B1-stopping")
    # The set versions of LDS and RDS stay; CDS's and EDS's are those of what the client
    # subscribes to now (see versions()), checked against a fresh client on B2 below.
    moved_to_a2 = move_clients(b1, a2, proxies, ver_b1, "B1 -> A2", same=("LDS", "RDS"))
    for p in proxies:
        assert held(a2, p) == held_on_b1[p], f"{p}: A2 holds other resources than B1 did"
    fill(20)

    # 5. A new B.
    mark_all("B2-starting")
    b2 = start_replica(meshd_factory, etcd_cluster, kek_file, "B2", ADDRESS_B, port_b)
    b2.wait_pushed(moved["revision"])
    time.sleep(scenarios.SETTLE_AFTER_SYNC)
    mark_all("final")
    fill()
    for p, c in clients.items():
        windows[p].append(c.stop_loop())
    run_seconds = round(time.monotonic() - run_start, 3)

    # The numbers first, so that they are there when an assertion below fails.
    total = sum(w["total"] for ws in windows.values() for w in ws)
    failures = sum(w["failures"] for ws in windows.values() for w in ws)
    record_result("rolling upgrade", f"{N_CLIENTS} clients, {total} RPCs in {run_seconds}s, {failures} failed")
    ver_a2 = versions(moved_to_a2["entries"][proxies[0]])
    record_result("rolling upgrade", f"acked versions: 50/50 {ver_5050}; 0/100 on B1 {ver_b1}; 0/100 on A2 {ver_a2}")
    for label, info in (("A1 -> B1", moved_to_b1), ("B1 -> A2", moved_to_a2)):
        record_result("rolling upgrade", f"{label}: old replica exited {info['exit']} {info['stop_seconds']}s after"
                      f" SIGTERM; clients synced on the other replica after {sorted(info['reconnect'].values())}s")
    record_result("rolling upgrade", f"A2 ready in {a2.started_seconds}s, B2 in {b2.started_seconds}s;"
                  f" 0/100 through A2 synced on B1's clients in {weight_sync}s")
    for p, ws in windows.items():
        record_result("rolling upgrade", f"{p[-13:]}: " + "; ".join(
            f"{w['name']} {w['total']} {w['counts']} f={w['failures']}" for w in ws))

    # No RPC failed, in any window of any client.
    for p, ws in windows.items():
        for w in ws:
            scenarios.assert_no_failures(w, f"{p} window {w['name']}")
    assert failures == 0

    # 50/50 on A1 reached both; after the weight change (synced on B1) every RPC of every client
    # landed on v2, on B1 and, after the move, on A2.
    for p, ws in windows.items():
        by_name = {w["name"]: w for w in ws}
        assert set(by_name["50-50-on-A1"]["counts"]) == {"v1", "v2"}, by_name["50-50-on-A1"]["counts"]
        for name in ("v2-on-B1", "B1-stopping", "B2-starting", "final"):
            w = by_name[name]
            assert set(w["counts"]) <= {"v2"}, f"{p} window {name}: {w['counts']} sequence={w['runs']}"
        assert by_name["final"]["counts"].get("v2", 0) >= MIN_WINDOW_RPCS, by_name["final"]

    # Every client ends on the new A, all with the same versions, synced, no NACK; a fresh client
    # of the new B acks exactly those versions; B2 lists the clients on A2 (replicas share proxy
    # status through etcd), and so does meshctl proxy-status through B2's admin API.
    final_a2 = settled(a2, proxies)
    for p in proxies:
        assert_clean(final_a2[p], p, "A2")
        assert versions(final_a2[p]) == ver_a2, (p, final_a2[p])
    probe = node_id("probe-b2")
    scenarios.warm_up(xds_clients(b2.xds_address, probe))
    b2.wait_synced(probe)
    assert versions(settled(b2, [probe])[probe]) == ver_a2, "a fresh client of B2 acks other versions than A2's"

    def listed_on_b2():
        entries = {e["proxyID"]: e for e in b2.syncz() if e.get("proxyID") in proxies}
        return entries if len(entries) == len(proxies) and all(
            e.get("replica") == "A2" and e.get("synced") for e in entries.values()) else None

    wait_for("B2's /debug/syncz listing every client on A2, synced", listed_on_b2, timeout=10, interval=POLL)
    status = json.loads(run_meshctl(f"http://{b2.admin_address}", "proxy-status", "-o", "json", timeout=15).stdout)
    for p in proxies:
        mine = [e for e in status if e.get("proxyID") == p]
        assert [e.get("replica") for e in mine] == ["A2"], (p, mine)
        assert_clean(mine[0], p, "A2 (meshctl proxy-status via B2)")
        assert versions(mine[0]) == ver_a2, (p, mine[0])
