#!/usr/bin/env python3
"""Benchmark of meshd's Kubernetes registry, end to end over real HTTP and real xDS (not a
pytest test).

    .venv/bin/python Tests/interop/bench_kube.py --meshd /tmp/rbin/meshd \
        [--services 1000 --pods-per-service 10 --iterations 50]

1. Memory per pod. The stand-in API server (kube_apiserver.py, in this process, HTTPS) is filled
   with S Services (port `grpc` 9080 -> 8080, selector app=svc-N), S x P Ready pods (IP 10.x.y.z,
   labels app/version, a service account, spread over 10 nodes with topology labels) and one
   EndpointSlice per Service listing its pods (targetRefs, ready). meshd runs twice, each time
   with a fresh --data-dir and free ports: `--registry embedded` (the baseline) and
   `--registry kubernetes --kubeconfig ...`. For the second, the time from spawning meshd until
   /debug/kubernetes shows every resource synced with every object (and until /debug/registryz
   lists the S services) is measured. The same ADS client (a proxyless gRPC node subscribing to
   every CDS/LDS resource and the EDS/RDS they name) connects to both; once it has everything and
   the stream is quiet, each process's VmRSS (/proc/PID/status) is read, and
   (kubernetes RSS - embedded RSS) / (S x P) is the cost of a pod.
2. EndpointSlice change -> EDS at the proxy. N times, alternating services (and directions:
   not ready, then ready again): t0, the service's EndpointSlice is patched in the stand-in
   (merge patch of `endpoints`, one endpoint's ready condition flipped; not ready is sent with
   `terminating: false` so meshd keeps the endpoint as UNHEALTHY), and the time until the ADS
   client receives the ClusterLoadAssignment showing that endpoint's new health is recorded.
   The next change waits >= 300 ms after the last one's EDS (meshd's debounce: 100 ms of quiet,
   defaults left alone, so a lone change goes out at once). Any CDS/LDS/RDS response arriving
   from the first change until 1 s after the last is counted: an endpoint-only change must reach
   proxies as EDS alone.

Every wait has a timeout; meshd and the stand-in are stopped on any error (and on SIGINT/SIGTERM,
and after --max-runtime seconds). Summary lines go to stdout, progress and diagnostics (the
stand-in's own list time, when each resource synced, the machine's CPU use, meshd's warnings) to
stderr. Exit status: 0 all well, 1 measured but meshd got something wrong (a non-EDS push during
the changes, a wrong health, /debug/registryz disagreeing with the cluster), 2 failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import proto_check  # noqa: E402
from ads_client import RESOURCE_WRAPPER, SHORT, AdsClient, Received, Resource  # noqa: E402
from envoy.service.discovery.v3 import discovery_pb2  # noqa: E402
from kube_apiserver import KubeApiServer  # noqa: E402
from meshd_process import Meshd  # noqa: E402

NAMESPACE = "default"
DOMAIN = "cluster.local"
TOKEN = "bench-admin-token"
SERVICE_PORT, TARGET_PORT = 9080, 8080
HEALTHY, UNHEALTHY = 1, 2   # envoy.config.core.v3.HealthStatus
HEALTH_NAMES = {0: "UNKNOWN", 1: "HEALTHY", 2: "UNHEALTHY", 3: "DRAINING", 4: "TIMEOUT", 5: "DEGRADED"}
MIN_GAP = 0.3               # seconds between one change's EDS and the next change (debounce: 100 ms quiet)


class BenchError(Exception):
    pass


class Timeout(BenchError):
    pass


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The cluster


def service_name(i: int) -> str:
    return f"svc-{i}"


def cluster_name(i: int) -> str:
    return f"outbound|{SERVICE_PORT}||{service_name(i)}.{NAMESPACE}.svc.{DOMAIN}"


def pod_ip(p: int) -> str:
    a = p // 254
    return f"10.{1 + a // 256}.{a % 256}.{p % 254 + 1}"


def node_name(n: int) -> str:
    return f"node-{n}"


def populate(api: KubeApiServer, services: int, pods_per_service: int, nodes: int) -> dict:
    """Creates the nodes, Services, Pods and EndpointSlices; returns {service index: slice name}."""
    for n in range(nodes):
        api.create({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node_name(n), "labels": {
                "kubernetes.io/hostname": node_name(n),
                "topology.kubernetes.io/region": "region-a",
                "topology.kubernetes.io/zone": f"zone-{n % 3}",
                "topology.istio.io/subzone": f"rack-{n}",
            }},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": f"192.168.0.{n + 1}"}]},
        })
    slices = {}
    p = 0
    for i in range(services):
        svc = service_name(i)
        api.create({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": svc, "namespace": NAMESPACE, "labels": {"app": svc}},
            "spec": {"type": "ClusterIP", "clusterIP": f"10.96.{i // 250}.{i % 250 + 1}",
                     "selector": {"app": svc},
                     "ports": [{"name": "grpc", "port": SERVICE_PORT, "targetPort": TARGET_PORT,
                                "protocol": "TCP"}]},
        })
        endpoints = []
        for k in range(pods_per_service):
            name = f"{svc}-{k}"
            node = p % nodes
            pod = api.create({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": NAMESPACE,
                             "labels": {"app": svc, "version": f"v{k % 2 + 1}"}},
                "spec": {"serviceAccountName": f"{svc}-sa", "nodeName": node_name(node),
                         "containers": [{"name": "app", "image": "example/app:1",
                                         "ports": [{"name": "grpc", "containerPort": TARGET_PORT}]}]},
                "status": {"phase": "Running", "podIP": pod_ip(p), "podIPs": [{"ip": pod_ip(p)}],
                           "hostIP": f"192.168.0.{node + 1}",
                           "conditions": [{"type": "Ready", "status": "True"},
                                          {"type": "ContainersReady", "status": "True"}]},
            })
            endpoints.append({
                "addresses": [pod_ip(p)],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "nodeName": node_name(node), "zone": f"zone-{node % 3}",
                "targetRef": {"kind": "Pod", "namespace": NAMESPACE, "name": name,
                              "uid": pod["metadata"]["uid"]},
            })
            p += 1
        slice_name = f"{svc}-abcde"
        api.create({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": slice_name, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": svc,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "ports": [{"name": "grpc", "port": TARGET_PORT, "protocol": "TCP"}],
            "endpoints": endpoints,
        })
        slices[i] = slice_name
    return slices


class ListTimer:
    """Times the stand-in's answers to list requests (in this process, so sharing its GIL): from
    the list being built to the answer written, which `_send_json` marks by appending to
    `api.requests`. Tells how much of meshd's sync time the Python stand-in itself took."""

    def __init__(self, api: KubeApiServer):
        self.spans: list[tuple[float, float, str]] = []   # (start, answered, resource)
        self._local = threading.local()
        timer, build = self, api.list

        def timed_list(res, ns, q):
            timer._local.start = (time.monotonic(), res.plural)
            return build(res, ns, q)

        class Requests(list):
            def append(self, item):
                super().append(item)
                start = getattr(timer._local, "start", None)
                if start is not None:
                    timer._local.start = None
                    timer.spans.append((start[0], time.monotonic(), start[1]))

        api.list = timed_list
        api.requests = Requests()

    def summary(self, since: float) -> str:
        spans = [s for s in self.spans if s[0] >= since]
        if not spans:
            return "no list requests"
        busy = sum(b - a for a, b, _ in spans)
        return (f"{len(spans)} list requests, first at +{spans[0][0] - since:.2f} s, last answered at "
                f"+{max(b for _, b, _ in spans) - since:.2f} s, {busy:.2f} s spent answering them")


# --------------------------------------------------------------------------------------------
# The proxy


class BenchAdsClient(AdsClient):
    """AdsClient without proto_check's walk of every response (too slow for thousands of
    resources, and not what is measured); a response's arrival time is taken before decoding."""

    def _decode(self, resp) -> Received:
        at = time.monotonic()
        t = SHORT.get(resp.type_url, resp.type_url)
        rec = Received(seq=len(self.responses), at=at, type=t, version=resp.version_info,
                       nonce=resp.nonce, raw=None)
        for any_msg in resp.resources:
            name = None
            if any_msg.type_url == RESOURCE_WRAPPER:
                wrapper = discovery_pb2.Resource.FromString(any_msg.value)
                name = wrapper.name or None
                any_msg = wrapper.resource
            msg = proto_check.unpack(any_msg)
            name = name or proto_check.resource_name(msg)
            rec.resources[name] = Resource(name, any_msg.type_url, any_msg.value, msg)
        return rec


def connect_proxy(meshd: Meshd, timeout: float) -> BenchAdsClient:
    client = BenchAdsClient(meshd.xds_address, "bench-proxyless-grpc",
                            metadata={"GENERATOR": "grpc", "NAMESPACE": NAMESPACE}).start()
    try:
        client.wait_quiet(quiet=1.0, timeout=timeout)
    except AssertionError as exc:
        client.close()
        raise Timeout(f"the ADS client did not get a complete, quiet configuration: {str(exc)[:3000]}") from None
    return client


def endpoint_health(cla, address: str) -> int | None:
    """The health_status of `address` in a ClusterLoadAssignment (None when absent)."""
    for locality in cla.endpoints:
        for lb in locality.lb_endpoints:
            sa = lb.endpoint.address.socket_address
            if sa.address == address:
                return lb.health_status
    return None


def eds_name_of(client: AdsClient, cluster: str) -> str:
    with client.cond:
        c = client.state["CDS"].get(cluster)
        if c is None:
            raise BenchError(f"CDS has no cluster {cluster!r} ({len(client.state['CDS'])} clusters)")
        return c.message.eds_cluster_config.service_name or cluster


# --------------------------------------------------------------------------------------------
# meshd


def rss(pid: int) -> dict:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of every core since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def process_jiffies(pid: int) -> int:
    """utime + stime of a process (and its reaped children), in jiffies."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in rest[11:15])


class CpuWindow:
    """CPU use of the whole machine, and of everyone but meshd and this script, over a window."""

    def __init__(self, pid: int):
        self.pid = pid
        self.busy, self.total = cpu_times()
        self.mine = self._mine()

    def _mine(self) -> int:
        try:
            return process_jiffies(self.pid) + process_jiffies(os.getpid())
        except OSError:
            return 0

    def end(self) -> dict:
        busy, total = cpu_times()
        scale = 100.0 * (os.cpu_count() or 1) / max(1, total - self.total)
        return {"busy": (busy - self.busy) * scale, "others": (busy - self.busy - (self._mine() - self.mine)) * scale}


def settled_rss(pid: int, window: float = 3.0, limit: float = 20.0) -> dict:
    """VmRSS once it has held within 1 MiB for `window` seconds (at most `limit` seconds of
    sampling): glibc gives freed memory back to the system only now and then, so a single early
    reading can be megabytes off. `spread` is the range over the last window."""
    samples: list[tuple[float, dict]] = []
    start = time.monotonic()
    while True:
        now = time.monotonic()
        samples.append((now, rss(pid)))
        recent = [r["VmRSS"] for t, r in samples if t >= now - window]
        spread = max(recent) - min(recent)
        if (now - start >= window and spread < 2**20) or now - start >= limit:
            last = dict(samples[-1][1])
            last["spread"] = spread
            last["settled_after"] = now - start
            return last
        time.sleep(0.25)


def get_json(meshd: Meshd, path: str, timeout: float = 30.0):
    r = meshd.request("GET", path, timeout=timeout)
    if r.status != 200:
        raise BenchError(f"GET {path}: HTTP {r.status}: {r.text[:1000]}")
    return r.json()


def wait_kube_synced(meshd: Meshd, expected: dict, t0: float, deadline: float) -> tuple[dict, dict]:
    """Polls /debug/kubernetes until every resource is synced and holds `expected` objects;
    returns its last answer and {resource: seconds after t0 it was first seen synced}."""
    last = None
    seen: dict[str, float] = {}
    while True:
        if meshd.proc is not None and meshd.proc.poll() is not None:
            raise BenchError(f"meshd exited with {meshd.proc.returncode}\n{meshd.tail()}")
        try:
            last = get_json(meshd, "/debug/kubernetes", timeout=5)
            res = {r["resource"]: r for r in last.get("resources", [])}
            for name, r in res.items():
                if r.get("synced") and r.get("objects", 0) >= expected.get(name, 0):
                    seen.setdefault(name, time.monotonic() - t0)
            if res and all(r.get("synced") for r in res.values()) and all(
                    res.get(k, {}).get("objects", -1) >= n for k, n in expected.items()):
                return last, seen
        except (OSError, BenchError):
            pass
        if time.monotonic() > deadline:
            raise Timeout(f"/debug/kubernetes not all synced with {expected} in time: "
                          f"{json.dumps(last)[:3000]}\n{meshd.tail(40)}")
        time.sleep(0.05)


def wait_registry(meshd: Meshd, services: int, deadline: float) -> dict:
    """Polls /debug/registryz until it lists `services` Kubernetes services."""
    last = None
    while True:
        if not meshd.running:
            raise BenchError(f"meshd exited with {meshd.proc.returncode}\n{meshd.tail()}")
        try:
            last = get_json(meshd, "/debug/registryz", timeout=30)
            kube = [s for s in last.get("services", []) if s.get("host", "").endswith(f".svc.{DOMAIN}")]
            if len(kube) >= services:
                return last
        except (OSError, BenchError):
            pass
        if time.monotonic() > deadline:
            n = len(last.get("services", [])) if last else None
            raise Timeout(f"/debug/registryz did not list {services} services in time (last: {n})\n{meshd.tail(40)}")
        time.sleep(0.25)


def check_registry(registry: dict, services: int, pods_per_service: int) -> list[str]:
    """What /debug/registryz gets wrong about the cluster (empty: nothing)."""
    problems = []
    by_host = {s["host"]: s for s in registry.get("services", [])}
    for i in range(services):
        host = f"{service_name(i)}.{NAMESPACE}.svc.{DOMAIN}"
        s = by_host.get(host)
        if s is None:
            problems.append(f"{host}: missing")
            continue
        eps = s.get("endpoints", [])
        healthy = [e for e in eps if e.get("health") == "HEALTHY"]
        if len(healthy) != pods_per_service or len(eps) != pods_per_service:
            problems.append(f"{host}: {len(eps)} endpoints, {len(healthy)} HEALTHY (expected {pods_per_service})")
        for e in eps:
            if e.get("serviceAccount") != f"{service_name(i)}-sa" or e.get("port") != TARGET_PORT or \
                    "region-a" not in str(e.get("locality")) or e.get("labels", {}).get("app") != service_name(i):
                problems.append(f"{host}: endpoint {json.dumps(e)[:300]}")
                break
    return problems


# --------------------------------------------------------------------------------------------
# The measurements


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure_baseline(args, started: list) -> dict:
    meshd = Meshd(name="meshd-embedded", extra_args=["--registry", "embedded"])
    started.append(meshd)
    t0 = time.monotonic()
    meshd.start(timeout=args.start_timeout)
    ready = time.monotonic() - t0
    client = connect_proxy(meshd, args.wait_timeout)
    started.append(client)
    mem = settled_rss(meshd.proc.pid)
    counts = {t: len(v) for t, v in client.state.items()}
    log(f"embedded: pid {meshd.proc.pid}, ready in {ready:.2f} s, ADS {counts}, "
        f"VmRSS {mem['VmRSS'] / 2**20:.1f} MiB (HWM {mem['VmHWM'] / 2**20:.1f} MiB)")
    client.close()
    started.remove(client)
    meshd.close()
    started.remove(meshd)
    return {"rss": mem, "ready": ready}


def measure_kubernetes(args, api: KubeApiServer, timer: ListTimer, kubeconfig: str,
                       started: list) -> tuple[Meshd, BenchAdsClient, dict]:
    meshd = Meshd(name="meshd-kubernetes", extra_args=["--registry", "kubernetes", "--kubeconfig", kubeconfig])
    started.append(meshd)
    expected = {"services": args.services, "pods": args.services * args.pods_per_service,
                "endpointslices": args.services, "nodes": args.nodes, "namespaces": 1}
    # meshd.start() returns at /ready, which waits for the first push, which waits for every
    # resource's first list: /debug/kubernetes is polled meanwhile, from the admin port's start.
    outcome: dict = {}

    def start():
        try:
            meshd.start(timeout=args.start_timeout)
            outcome["ready"] = time.monotonic() - t0
        except BaseException as exc:  # reported by the main thread
            outcome["error"] = exc

    t0 = time.monotonic()
    starter = threading.Thread(target=start, name="meshd-start", daemon=True)
    starter.start()
    deadline = t0 + args.sync_timeout
    while meshd.admin_address is None and starter.is_alive():
        if time.monotonic() > deadline:
            raise Timeout(f"meshd printed no admin address\n{meshd.tail(40)}")
        time.sleep(0.01)
    if "error" in outcome:
        raise outcome["error"]
    window = CpuWindow(meshd.proc.pid)   # from the admin port's start: meshd's start-up is hardly counted
    status, seen = wait_kube_synced(meshd, expected, t0, deadline)
    synced = time.monotonic() - t0
    cpu = window.end()
    starter.join(max(0.0, deadline - time.monotonic()))
    if starter.is_alive() or "error" in outcome:
        raise outcome.get("error") or Timeout(f"meshd not /ready\n{meshd.tail(40)}")
    ready = outcome["ready"]
    registry = wait_registry(meshd, args.services, deadline)
    in_registry = time.monotonic() - t0
    mem_before = settled_rss(meshd.proc.pid)
    lists = timer.summary(t0) + "; each resource seen synced at " + ", ".join(
        f"{k} +{v:.2f} s" for k, v in sorted(seen.items(), key=lambda kv: kv[1]))
    log(f"kubernetes: pid {meshd.proc.pid}, /ready in {ready:.2f} s, all synced in {synced:.2f} s, "
        f"/debug/registryz complete in {in_registry:.2f} s; stand-in: {lists}; "
        + ", ".join(f"{r['resource']}={r['objects']} (lists {r['lists']}, 410s {r['gones']}, failures {r['failures']})"
                    for r in status["resources"]))
    if status.get("unservedServices"):
        log(f"kubernetes: unserved services: {status['unservedServices'][:5]}")
    problems = check_registry(registry, args.services, args.pods_per_service)
    if problems:
        log(f"kubernetes: /debug/registryz disagrees with the cluster ({len(problems)}): {problems[:5]}")
    client = connect_proxy(meshd, args.wait_timeout)
    started.append(client)
    mem = settled_rss(meshd.proc.pid)
    counts = {t: len(v) for t, v in client.state.items()}
    log(f"kubernetes: ADS {counts}; VmRSS before the client {mem_before['VmRSS'] / 2**20:.1f} MiB, "
        f"after {mem['VmRSS'] / 2**20:.1f} MiB (HWM {mem['VmHWM'] / 2**20:.1f} MiB; steady within "
        f"{mem['spread'] / 2**20:.1f} MiB for 3 s after {mem['settled_after']:.1f} s of sampling)")
    return meshd, client, {"rss": mem, "rss_before_client": mem_before, "ready": ready, "synced": synced,
                           "registry": in_registry, "lists": lists, "cpu": cpu, "registry_problems": problems, "ads": counts,
                           "kube": status}


PUSH_METRICS = ("pilot_xds_push_time", "pilot_proxy_convergence_time")


def push_metrics(meshd: Meshd) -> dict:
    """{histogram: (sum of seconds, count)} over every label set, from /metrics."""
    text = meshd.metrics()
    out = {}
    for name in PUSH_METRICS:
        total = count = 0.0
        for line in text.splitlines():
            m = re.match(re.escape(name) + r"_(sum|count)(?:\{[^}]*\})?\s+(\S+)", line)
            if m:
                if m.group(1) == "sum":
                    total += float(m.group(2))
                else:
                    count += float(m.group(2))
        out[name] = (total, count)
    return out


def measure_eds(args, api: KubeApiServer, slices: dict, meshd: Meshd, client: BenchAdsClient) -> dict:
    spread = min(args.services, args.spread)
    chosen = [i * args.services // spread for i in range(spread)]
    eds_names = {i: eds_name_of(client, cluster_name(i)) for i in chosen}
    with client.cond:
        missing = [eds_names[i] for i in chosen if eds_names[i] not in client.state["EDS"]]
    if missing:
        raise BenchError(f"the ADS client has no EDS for {missing[:5]}")
    first = len(client.responses)
    window = CpuWindow(meshd.proc.pid)
    metrics0 = push_metrics(meshd)
    latencies, directions, wrong = [], {"not ready": 0, "ready": 0}, []
    eds_sizes = []
    last_change = time.monotonic()
    for k in range(args.iterations):
        if not meshd.running:
            raise BenchError(f"meshd exited with {meshd.proc.returncode}\n{meshd.tail()}")
        i = chosen[k % spread]
        j = (k // spread // 2) % args.pods_per_service   # the endpoint; each pair of passes undoes itself
        svc_slice = api.get("endpointslices", NAMESPACE, slices[i])
        endpoints = svc_slice["endpoints"]
        ep = endpoints[j]
        ip = ep["addresses"][0]
        now_ready = ep["conditions"].get("ready", True)
        ep["conditions"] = ({"ready": False, "serving": False, "terminating": False} if now_ready
                            else {"ready": True, "serving": True, "terminating": False})
        want = UNHEALTHY if now_ready else HEALTHY
        name = eds_names[i]
        time.sleep(max(0.0, args.gap - (time.monotonic() - last_change)))
        with client.cond:
            n = len(client.responses)
            before = endpoint_health(client.state["EDS"][name].message, ip)
        t0 = time.monotonic()
        api.patch("endpointslices", NAMESPACE, slices[i], {"endpoints": endpoints})

        def seen(c, n=n, name=name, ip=ip, before=before):
            for r in c.responses[n:]:
                if r.type == "EDS" and name in r.resources:
                    h = endpoint_health(r.resources[name].message, ip)
                    if h != before:
                        return r, h
            return None

        try:
            rec, health = client.wait_for(seen, args.change_timeout, f"EDS {name} with {ip} changed")
        except AssertionError as exc:
            raise Timeout(f"iteration {k}: no EDS change for {name} ({ip} -> {HEALTH_NAMES[want]}) within "
                          f"{args.change_timeout} s: {str(exc)[:2000]}\n{meshd.tail(40)}") from None
        last_change = time.monotonic()
        latencies.append(rec.at - t0)
        directions["not ready" if want == UNHEALTHY else "ready"] += 1
        eds_sizes.append(len(rec.resources))
        if health != want:
            wrong.append(f"iteration {k}: {name} {ip} became {HEALTH_NAMES.get(health, health)} "
                         f"(expected {HEALTH_NAMES[want]})")
    time.sleep(1.0)
    cpu = window.end()
    metrics1 = push_metrics(meshd)
    inside = {name: ((metrics1[name][0] - metrics0[name][0]) / max(1, metrics1[name][1] - metrics0[name][1]) * 1000,
                     metrics1[name][1] - metrics0[name][1]) for name in metrics0}
    with client.cond:
        during = client.responses[first:]
        error = client.error
    if error is not None:
        raise BenchError(f"the ADS stream failed: {error!r}")
    others = [r for r in during if r.type != "EDS"]
    eds = [r for r in during if r.type == "EDS"]
    ms = [v * 1000 for v in latencies]
    return {"n": len(ms), "median": statistics.median(ms), "p90": percentile(ms, 90), "max": max(ms),
            "min": min(ms), "others": others, "eds_responses": len(eds), "directions": directions,
            "wrong": wrong, "eds_sizes": eds_sizes, "services_used": len(chosen), "cpu": cpu,
            "inside": inside}


# --------------------------------------------------------------------------------------------



def bound_run(max_runtime: int) -> None:
    """SIGTERM/SIGINT end the run as KeyboardInterrupt and `max_runtime` seconds as Timeout, so
    every path out stops meshd and the stand-in."""
    def bail(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, bail)
    signal.signal(signal.SIGINT, bail)

    def overrun(_signum, _frame):
        raise Timeout(f"--max-runtime {max_runtime} s exceeded")

    signal.signal(signal.SIGALRM, overrun)
    signal.alarm(max_runtime)

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meshd", default="/tmp/rbin/meshd", help="the meshd binary (release for the figures)")
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--pods-per-service", type=int, default=10)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=50, help="EndpointSlice changes")
    ap.add_argument("--spread", type=int, default=10,
                    help="how many services (evenly spaced) the changes rotate over")
    ap.add_argument("--start-timeout", type=float, default=120.0, help="seconds for meshd's /ready")
    ap.add_argument("--sync-timeout", type=float, default=300.0, help="seconds from start to all synced")
    ap.add_argument("--wait-timeout", type=float, default=120.0, help="seconds for the ADS client's config")
    ap.add_argument("--gap", type=float, default=MIN_GAP,
                    help=f"seconds of quiet between one change's EDS and the next change (at least {MIN_GAP})")
    ap.add_argument("--change-timeout", type=float, default=10.0, help="seconds for one change's EDS")
    ap.add_argument("--max-runtime", type=int, default=1800, help="the whole run's bound, seconds")
    ap.add_argument("--log-tail", type=int, default=0, help="print this many of meshd's last log lines at the end")
    args = ap.parse_args(argv)
    args.gap = max(args.gap, MIN_GAP)
    if not os.access(args.meshd, os.X_OK):
        ap.error(f"{args.meshd} is not an executable")
    os.environ["MESHD_BIN"] = os.path.abspath(args.meshd)
    pods = args.services * args.pods_per_service

    bound_run(args.max_runtime)

    started: list = []
    api = None
    workdir = tempfile.mkdtemp(prefix="bench-kube-")
    meshd_k = None
    try:
        log(f"meshd {args.meshd}; {os.cpu_count()} cores, load average {os.getloadavg()}")
        api = KubeApiServer(tokens={TOKEN}, workdir=workdir).start()
        timer = ListTimer(api)
        t = time.monotonic()
        slices = populate(api, args.services, args.pods_per_service, args.nodes)
        log(f"stand-in API server {api.url}: {args.services} Services, {pods} Pods, {args.services} "
            f"EndpointSlices, {args.nodes} nodes created in {time.monotonic() - t:.1f} s (rv {api.resource_version})")
        kubeconfig = api.kubeconfig(os.path.join(workdir, "kubeconfig"), TOKEN)

        base = measure_baseline(args, started)
        meshd_k, client, kube = measure_kubernetes(args, api, timer, kubeconfig, started)
        delta = kube["rss"]["VmRSS"] - base["rss"]["VmRSS"]
        per_pod = delta / pods
        print(f"memory: {args.services} Services x {args.pods_per_service} pods: VmRSS embedded "
              f"{base['rss']['VmRSS'] / 2**20:.1f} MiB, kubernetes {kube['rss']['VmRSS'] / 2**20:.1f} MiB "
              f"({kube['rss_before_client']['VmRSS'] / 2**20:.1f} MiB before the ADS client); "
              f"{per_pod:.0f} bytes per pod ({delta / 2**20:.1f} MiB over embedded)", flush=True)
        print(f"sync: all resources synced {kube['synced']:.2f} s after meshd started "
              f"(/ready {kube['ready']:.2f} s, /debug/registryz complete {kube['registry']:.2f} s; "
              f"stand-in: {kube['lists']}); "
              f"registry problems: {len(kube['registry_problems'])}", flush=True)

        eds = measure_eds(args, api, slices, meshd_k, client)
        other_types = sorted({r.type for r in eds["others"]})
        print(f"eds: EndpointSlice PATCH -> EDS at the proxy over {eds['n']} changes "
              f"({eds['directions']['not ready']} to not ready, {eds['directions']['ready']} back to ready, "
              f"{eds['services_used']} services): median {eds['median']:.1f} ms, p90 {eds['p90']:.1f} ms, "
              f"max {eds['max']:.1f} ms, min {eds['min']:.1f} ms; EDS responses {eds['eds_responses']} "
              f"(CLAs per matching response: max {max(eds['eds_sizes'])}); other types pushed: "
              f"{len(eds['others'])} {other_types}; wrong health: {len(eds['wrong'])}", flush=True)
        log(f"machine CPU while syncing: {kube['cpu']['busy']:.0f}% of {100 * (os.cpu_count() or 1)}%, "
            f"{kube['cpu']['others']:.0f}% by processes other than meshd and this script; during the changes: "
            f"{eds['cpu']['busy']:.0f}%, {eds['cpu']['others']:.0f}% by others")
        log("meshd's own view of those pushes: " + ", ".join(
            f"{name} mean {mean:.2f} ms over {int(n)}" for name, (mean, n) in eds["inside"].items()))
        for w in eds["wrong"][:10]:
            print(f"  {w}", flush=True)
        for r in eds["others"][:10]:
            print(f"  other push: {r!r}", flush=True)
        print(f"kubernetes e2e: {args.services} Services x {args.pods_per_service} pods: synced in "
              f"{kube['synced']:.1f} s; {per_pod:.0f} bytes RSS per pod ({delta / 2**20:.1f} MiB over embedded); "
              f"EndpointSlice PATCH -> EDS at the proxy: median {eds['median']:.1f} ms, p90 {eds['p90']:.1f} ms, "
              f"max {eds['max']:.1f} ms ({eds['n']} changes); other types pushed during changes: "
              f"{len(eds['others'])}", flush=True)
        log(f"load average at the end {os.getloadavg()}")
        with meshd_k._lines_lock:
            lines = list(meshd_k.lines)
        noisy = [ln for ln in lines if re.match(r"\S+ (warning|error|critical) ", ln)]
        log(f"meshd (kubernetes) logged {len(lines)} lines, {len(noisy)} warnings/errors"
            + "".join(f"\n  {ln[:300]}" for ln in noisy[:10]))
        if args.log_tail:
            log(meshd_k.tail(args.log_tail))
        return 0 if not eds["others"] and not eds["wrong"] and not kube["registry_problems"] else 1
    except (BenchError, AssertionError, KeyboardInterrupt) as exc:
        log(f"FAILED: {type(exc).__name__}: {exc}")
        return 2
    finally:
        signal.alarm(0)
        for thing in reversed(started):
            t = time.monotonic()
            try:
                thing.close()
                if isinstance(thing, Meshd):
                    log(f"{thing.name} stopped (exit {thing.proc.returncode if thing.proc else None}) "
                        f"in {time.monotonic() - t:.1f} s")
            except Exception as exc:  # keep cleaning up
                log(f"cleanup: {thing!r}: {exc!r}")
        if api is not None:
            api.stop()
        shutil.rmtree(workdir, ignore_errors=True)   # the kubeconfig and the stand-in's CA and certificate


if __name__ == "__main__":
    sys.exit(main())
