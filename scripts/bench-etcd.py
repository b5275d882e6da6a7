#!/usr/bin/env python3
"""Benchmark of meshd on etcd (issue 12): apply latency with the SQLite store and with a
3-member etcd cluster on loopback, and the delay from an apply on replica A to the first push
from replica B (an ADS client of B sees the new RDS version).

Usage (binaries as for the interop suite; release builds give the figures in docs/benchmarks.md):
  MESHD_BIN=.build/release/meshd /work/main/.venv/bin/python scripts/bench-etcd.py [APPLIES]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Tests" / "interop"))

import configs  # noqa: E402
from ads_client import AdsClient  # noqa: E402
from backend import EchoBackend  # noqa: E402
from etcd_cluster import EtcdCluster  # noqa: E402
from meshd_process import Meshd  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def fmt(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"n={len(ms)} p50={percentile(ms, 50):.1f} ms p90={percentile(ms, 90):.1f} ms "
            f"p99={percentile(ms, 99):.1f} ms mean={statistics.mean(ms):.1f} ms")


def apply_latencies(meshd: Meshd, ports: dict, n: int) -> list[float]:
    meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))
    out = []
    for i in range(n):
        weights = {"v1": i % 100, "v2": 100 - i % 100} if i % 100 else {"v1": 1, "v2": 99}
        t0 = time.perf_counter()
        meshd.apply(configs.virtual_service(weights))
        out.append(time.perf_counter() - t0)
    return out


def cross_replica(a: Meshd, b: Meshd, ports: dict, n: int) -> list[float]:
    applied = a.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))
    b.wait_pushed(applied["revision"], timeout=20)
    client = AdsClient(b.xds_address, "bench-ads-b").start()
    try:
        client.wait_quiet(0.3, timeout=10)
        out = []
        for i in range(n):
            before = client.versions["RDS"]
            weights = {"v1": 1 + i % 98, "v2": 99 - i % 98}
            t0 = time.perf_counter()
            a.apply(configs.virtual_service(weights))
            deadline = t0 + 20
            while client.versions["RDS"] == before:
                if time.perf_counter() > deadline:
                    raise SystemExit(f"apply {i}: no RDS push from B within 20 s")
                time.sleep(0.0005)
            out.append(time.perf_counter() - t0)
            # Past the debounce window, so each apply is a lone change pushed at once.
            time.sleep(0.15)
        return out
    finally:
        client.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    backends = {name: EchoBackend(name).start() for name in ("v1", "v2")}
    ports = {k: v.port for k, v in backends.items()}
    cluster = EtcdCluster(3).start()
    made = []
    try:
        sqlite = Meshd(name="sqlite")
        made.append(sqlite)
        sqlite.start()
        print("apply latency, SQLite:        ", fmt(apply_latencies(sqlite, ports, n)), flush=True)
        sqlite.close()

        kek = Path(tempfile.mkdtemp(prefix="meshd-bench-")) / "kek"
        kek.write_bytes(os.urandom(32))
        kek.chmod(0o600)
        args = ["--store", cluster.store_url, "--kek-file", str(kek)]
        a, b = Meshd(extra_args=args, name="A"), Meshd(extra_args=args, name="B")
        made += [a, b]
        a.start()
        b.start()
        print("apply latency, etcd (3 members):", fmt(apply_latencies(a, ports, n)), flush=True)
        print("apply on A -> first push from B:", fmt(cross_replica(a, b, ports, max(20, n // 2))), flush=True)
    finally:
        for m in made:
            m.close()
        cluster.close()
        for be in backends.values():
            be.stop()


if __name__ == "__main__":
    main()
