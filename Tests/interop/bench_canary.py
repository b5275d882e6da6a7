#!/usr/bin/env python3
"""Benchmark of canaries meshd drives (docs/canary-steps.md), release binary, not a test.

    .venv/bin/python Tests/interop/bench_canary.py --meshd .build-rel/release/meshd \
        [--canaries 100 --interval 5 --steps 10,20,30,40,50,60,70,80,90,100]

Setup: meshd (SQLite, the given binary) with `--prometheus-url` pointing at a Prometheus
stand-in (prometheus_standin.py): it answers every instant query at once with the client
source's series for every benchmark host (v1 and v2 at 20 requests/s each, 0% errors, within
the first latency bucket) and counts the queries. N services (ServiceEntry, DestinationRule with
v1/v2, VirtualService at v1 100%) are applied in batches, then N Canaries in one apply, all
healthy, so every canary walks its steps to Succeeded.

Measured:
1. per decision, its lateness: the decision's time minus when it was due (the start: the
   Canary's creation; an advance or completion: the previous step's start + interval). The
   decision times are the status' (whole seconds, meshd's clock), so lateness is +-1 s;
2. how long the whole run takes against the ideal (steps x interval);
3. meshd's CPU seconds (/proc/PID/stat) while the canaries run, per decision and per second,
   and while N finished canaries sit idle for the same time;
4. the queries meshd sent the stand-in (per second and per decision), and meshd's VmRSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

sys.path.insert(0, os.path.dirname(__file__))
from prometheus_server import free_port  # noqa: E402
from prometheus_standin import PrometheusStandIn  # noqa: E402

NS = "bench"


def host(i: int) -> str:
    return f"svc-{i}.{NS}.svc.cluster.local"


def request(admin: str, method: str, path: str, body: str | None = None, content_type="application/yaml"):
    data = body.encode() if body is not None else None
    req = urllib.request.Request(admin + path, data=data, method=method,
                                 headers={"content-type": content_type} if data is not None else {})
    with urllib.request.urlopen(req, timeout=60) as answer:
        return json.loads(answer.read())


def services(first: int, count: int) -> str:
    docs = []
    for i in range(first, first + count):
        docs.append(f"""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: svc-{i}, namespace: {NS}}}
spec:
  hosts: [{host(i)}]
  ports: [{{number: 9080, name: grpc, protocol: GRPC}}]
  resolution: STATIC
  workloadSelector: {{labels: {{app: svc-{i}}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: svc-{i}, namespace: {NS}}}
spec:
  host: {host(i)}
  subsets: [{{name: v1, labels: {{version: v1}}}}, {{name: v2, labels: {{version: v2}}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: svc-{i}, namespace: {NS}}}
spec:
  hosts: [{host(i)}]
  http:
  - route:
    - destination: {{host: {host(i)}, subset: v1}}
      weight: 100
""")
    return "---\n".join(docs)


def canaries(count: int, steps: list, interval: int) -> str:
    return "---\n".join(f"""apiVersion: meshd.io/v1alpha1
kind: Canary
metadata: {{name: svc-{i}, namespace: {NS}}}
spec:
  host: {host(i)}
  from: v1
  to: v2
  steps: [{", ".join(map(str, steps))}]
  interval: {interval}s
  analysis: {{maxErrorRate: 1, minRequests: 10, source: client}}
""" for i in range(count))


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentile(values: list, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meshd", required=True)
    parser.add_argument("--canaries", type=int, default=100)
    parser.add_argument("--interval", type=int, default=5)
    parser.add_argument("--steps", default="10,20,30,40,50,60,70,80,90,100")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    stand_in = PrometheusStandIn([host(i) for i in range(args.canaries)], {"v1": 20.0, "v2": 20.0})
    admin_port = free_port()
    admin = f"http://127.0.0.1:{admin_port}"
    with tempfile.TemporaryDirectory() as data:
        meshd = subprocess.Popen(
            [args.meshd, "--data-dir", data, "--grpc-port", str(free_port()), "--tls-port", str(free_port()),
             "--renew-port", str(free_port()), "--admin-port", str(admin_port),
             "--prometheus-url", stand_in.url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(admin + "/ready", timeout=1)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            for first in range(0, args.canaries, 50):
                request(admin, "POST", "/api/v1/apply", services(first, min(50, args.canaries - first)))
            time.sleep(2)
            queries0, cpu0, wall0 = len(stand_in.queries), cpu_seconds(meshd.pid), time.monotonic()
            request(admin, "POST", "/api/v1/apply", canaries(args.canaries, steps, args.interval))
            ideal = len(steps) * args.interval
            deadline = time.monotonic() + ideal * 3 + 60
            while True:
                items = request(admin, "GET", "/api/v1/canaries")["items"]
                phases = [(c.get("status") or {}).get("phase") for c in items]
                if all(p in ("Succeeded", "RolledBack", "Failed", "Aborted") for p in phases):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"not finished within {ideal * 3 + 60} s: {phases.count('Progressing')} still progressing")
                time.sleep(0.5)
            wall = time.monotonic() - wall0
            cpu_run = cpu_seconds(meshd.pid) - cpu0
            queries_run = len(stand_in.queries) - queries0
            cpu1 = cpu_seconds(meshd.pid)
            time.sleep(min(wall, 30))
            idle = min(wall, 30)
            cpu_idle = cpu_seconds(meshd.pid) - cpu1
            lateness = []
            decisions = 0
            for canary in items:
                status = canary["status"]
                assert status["phase"] == "Succeeded", status
                created = parse_time(canary["metadata"]["creationTimestamp"])
                previous = None
                for decision in status["decisions"]:
                    decisions += 1
                    at = parse_time(decision["time"])
                    due = created if decision["decision"] == "start" else previous + args.interval
                    lateness.append(at - due)
                    previous = at
            print(f"canaries: {args.canaries}, steps: {len(steps)}, interval: {args.interval} s, decisions: {decisions}")
            print(f"run: {wall:.1f} s (ideal {ideal} s: each step's interval in turn)")
            print(f"decision lateness (s, +-1): p50 {percentile(lateness, 0.5):.1f}  p90 {percentile(lateness, 0.9):.1f}"
                  f"  p99 {percentile(lateness, 0.99):.1f}  max {max(lateness):.1f}  mean {statistics.mean(lateness):.2f}")
            print(f"meshd CPU while running: {cpu_run:.2f} s = {cpu_run / wall:.3f} CPU-s/s, {cpu_run / decisions * 1000:.1f} ms/decision")
            print(f"meshd CPU with {args.canaries} finished canaries idle: {cpu_idle / idle:.4f} CPU-s/s")
            print(f"queries to Prometheus: {queries_run} = {queries_run / wall:.1f}/s, {queries_run / decisions:.1f}/decision")
            print(f"meshd VmRSS: {rss_mib(meshd.pid):.0f} MiB")
        finally:
            meshd.terminate()
            meshd.wait(timeout=15)


if __name__ == "__main__":
    main()
