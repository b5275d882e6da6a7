#!/usr/bin/env python3
"""Benchmark of meshd's Kubernetes config store (`--store kubernetes`, issue 26), end to end over
real HTTP and real xDS (not a pytest test).

    .venv/bin/python Tests/interop/bench_kube_config.py --meshd /tmp/rbin/meshd \
        [--iterations 50 --burst 500 --objects 1000]

The stand-in API server (kube_apiserver.py, in this process, HTTPS) gets the Istio CRDs of
deploy/kubernetes/istio-crds.yaml and meshd's namespace `mesh-system`; meshd runs with
`--store kubernetes --registry kubernetes --kubeconfig ... --system-namespace mesh-system
--webhook-port 0` and a fresh --data-dir each time, as test_kube_config.py runs it. Writes to the
stand-in go over HTTPS, as kubectl's do (one keep-alive connection, User-Agent kubectl/v1.32.0,
`fieldManager=kubectl-client-side-apply`, `fieldValidation=Strict`), so they reach meshd through
the same watches as kubectl's. The stand-in gets kube-apiserver's TCP settings: TCP_NODELAY and
a listen backlog of SOMAXCONN (`--no-tune-standin` leaves them out; see `tune_standin`, which
says what each costs otherwise). The proxy is a proxyless gRPC node
(the same ADS client as bench_kube.py) subscribed to every LDS/CDS resource and the RDS/EDS they
name; the route measured is `reviews.default.svc.cluster.local:9080`.

1. kubectl-style change -> RDS. Service `reviews` (with two Ready pods v1/v2 and their
   EndpointSlice), DestinationRule `reviews` (subsets v1, v2) and VirtualService `reviews` (50/50)
   are in the stand-in before meshd starts. N times: t0, the VirtualService's weights are changed
   by a merge PATCH of the custom resource (`spec.http` and kubectl's last-applied annotation, as
   `kubectl apply` sends it), and the time until the ADS client receives the RouteConfiguration
   with the new weights is recorded. The next change waits >= 300 ms after the last one's RDS
   (meshd's debounce: 100 ms of quiet). Then: one new ledger entry (ConfigMap
   meshd-history-N) per change, each naming only the VirtualService, with actor
   `kubernetes:kubectl-client-side-apply`, and `GET /api/v1/history` listing exactly them.
2. meshd apply -> answer and -> RDS. N times: `POST /api/v1/apply` of the VirtualService (YAML)
   with new weights; the time until the HTTP answer (on this store it waits for the ledger to
   record the write) and until the ADS client has the new route. Checked: one ledger entry per
   apply, at the answer's revision, actor `loopback 127.0.0.1`. The same is measured against a
   meshd on its embedded SQLite store (`--store sqlite`, a fresh --data-dir, `--registry
   embedded`, a ServiceEntry for reviews), run before the Kubernetes one so they never share
   the machine, and printed side by side.
3. Burst. B VirtualServices (burst-00000..., hosts burst-N.example.com, routed to reviews' v1)
   are created over HTTP one after the other from one thread, as fast as the stand-in takes them.
   From the first create: when every one is in the ledger (polled in the stand-in; also the
   newest record's own `time`, meshd's clock), and when meshd's `/debug/push_status` revision
   reaches the entry that recorded the last of them; how many ledger entries that took (the
   recorder batches what it has seen) and how many changes each holds. Checked afterwards:
   `GET /api/v1/config/virtualservices?namespace=default` lists all B, history lists the entries.
4. Startup with O objects. A second stand-in: O/2 Services `cfg-N` (no pods), O/2
   VirtualServices and O/2 DestinationRules (each naming its Service, without subsets: no
   validation message, so no status write) created, and recorded by a first meshd, stopped once
   its served revision is the ledger head. Then a fresh meshd process (new data dir): the time from spawn
   until `/ready` is 200, and until `/debug/push_status` revision equals the ledger head; its
   VmRSS once steady, against a meshd on an empty cluster (no Services, no Istio objects) and
   one on the same Services without the Istio objects, both measured on that stand-in before
   the objects were created.

Every wait has a timeout; meshd and the stand-ins are stopped on any error (and on
SIGINT/SIGTERM, and after --max-runtime seconds). Summary lines (one per measurement) go to
stdout, progress and diagnostics (the machine's CPU use per phase, record times, the stand-in's
list time at startup, meshd's warnings) to stderr. Exit status: 0 all well, 1 measured but meshd
got something wrong (ledger entries not one per change, a wrong actor, history or the served
config disagreeing with the ledger, a fresh meshd recording anew), 2 failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import configs  # noqa: E402
from ads_client import weighted_clusters  # noqa: E402
from bench_kube import (BenchAdsClient, BenchError, CpuWindow, ListTimer, Timeout, bound_run, connect_proxy,  # noqa: E402
                        get_json, log, percentile, settled_rss)
from kube_apiserver import KubeApiServer  # noqa: E402
from kube_fixtures import namespace, reviews_objects, service, wait_until  # noqa: E402
from meshd_process import Meshd  # noqa: E402

NAMESPACE = configs.NAMESPACE
SYSTEM_NAMESPACE = "mesh-system"
TOKEN = "bench-admin-token"
ROUTE = configs.LISTENER                  # reviews.default.svc.cluster.local:9080, proxyless gRPC's route name
POD_IPS = {"v1": "127.0.0.2", "v2": "127.0.0.3"}
POD_PORT = 8080
KUBECTL_MANAGER = "kubectl-client-side-apply"
KUBECTL_ACTOR = f"kubernetes:{KUBECTL_MANAGER}"
MESHD_ACTOR = "loopback 127.0.0.1"
KUBECTL_UA = "kubectl/v1.32.0 (linux/amd64) kubernetes/bench"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ISTIO = "/apis/networking.istio.io/v1"
WRITE_QUERY = f"?fieldManager={KUBECTL_MANAGER}&fieldValidation=Strict"
LEDGER_NAME = re.compile(r"meshd-history-(\d+)$")
REQUEST_PATH = re.compile(r"/(?:api/v1|apis/[^/]+/[^/]+)(?:/namespaces/[^/]+)?/([a-z]+)(?:/[^/]+)?(/status)?$")
MIN_GAP = 0.3                             # seconds between one change's RDS and the next change (debounce: 100 ms quiet)
PHASES = ("kubectl", "apply", "burst", "startup")
HISTORY_PAGE = 1000                       # the most records GET /api/v1/history answers
INITIAL, FIRST_CHANGE = 4, 5                # weights_for(4) is 50/50: where each meshd starts
ONE_VS_CHANGE = [("VirtualService", NAMESPACE, "reviews", "configured")]   # what each measured change records


# --------------------------------------------------------------------------------------------
# The stand-in, as kubectl talks to it


class KubeHttp:
    """One keep-alive HTTPS connection to the stand-in, as kubectl opens it (bearer token,
    kubectl's User-Agent); JSON in, (status, JSON) out."""

    def __init__(self, api: KubeApiServer, token: str, timeout: float = 30.0):
        self.host, self.port = api.host, api.port
        self.token, self.timeout = token, timeout
        self.context = ssl.create_default_context(cafile=api.ca_path)
        self.conn: http.client.HTTPSConnection | None = None

    def request(self, method: str, path: str, body=None, content_type: str = "application/json") -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "User-Agent": KUBECTL_UA, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 0:   # the server closed an idle connection: once more, on a new one
                    continue
                raise
            except (OSError, http.client.HTTPException):
                self.close()
                raise
            try:
                return resp.status, (json.loads(raw) if raw else {})
            except ValueError:
                return resp.status, {"raw": raw[:2000].decode("utf-8", "replace")}
        raise BenchError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def tune_standin(api: KubeApiServer) -> None:
    """The stand-in's listening socket and connections as Go's net package sets up kube-apiserver's:
    - TCP_NODELAY on every connection it accepts. The stand-in writes an answer's headers and body
      (and each watch event) as separate small writes; with Nagle's algorithm on, a write behind
      one not yet acknowledged waits for the peer's delayed ACK, 40 ms on Linux: every request
      made right after another on a kept-alive connection took 44 ms (the burst ran at 22/s).
    - A listen backlog of SOMAXCONN instead of socketserver's 5. meshd opens a connection per list
      and per watch (some 16 at once at start, over HTTP/1.1); beyond the backlog the kernel drops
      the SYNs (TcpExtListenOverflows) and meshd's connect is retried after the 1 s initial RTO:
      about one start in three took 1 s longer, its registry lists and last watches held."""
    httpd = api._httpd
    httpd.socket.listen(socket.SOMAXCONN)
    accept = httpd.get_request

    def get_request():
        conn, address = accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, address
    httpd.get_request = get_request


def start_standin(workdir: str, history_size: int, tune: bool) -> tuple[KubeApiServer, str]:
    """A stand-in with the Istio CRDs and meshd's namespace; answers it and its kubeconfig."""
    os.makedirs(workdir, exist_ok=True)
    api = KubeApiServer(tokens={TOKEN}, history_size=history_size, workdir=workdir).start()
    if tune:
        tune_standin(api)
    api.install_crds(str(Path(__file__).resolve().parents[2] / "deploy" / "kubernetes" / "istio-crds.yaml"))
    api.create(namespace(SYSTEM_NAMESPACE))
    return api, api.kubeconfig(os.path.join(workdir, "kubeconfig"), TOKEN)


class Ledger:
    """meshd's history ledger as the stand-in holds it: revision -> record (entries are created
    once and never updated, so each is decoded once)."""

    def __init__(self, api: KubeApiServer):
        self.api = api
        self.records: dict[int, dict] = {}

    def read(self) -> dict[int, dict]:
        present = set()
        for (ns, name), obj in self.api.state("configmaps").items():
            m = LEDGER_NAME.match(name)
            if ns != SYSTEM_NAMESPACE or not m:
                continue
            rev = int(m.group(1))
            present.add(rev)
            if rev not in self.records:
                try:
                    self.records[rev] = json.loads(obj["data"]["record"])
                except (KeyError, ValueError) as exc:
                    self.records[rev] = {"actor": f"(unreadable: {exc!r})", "changes": []}
        for gone in set(self.records) - present:   # pruned
            del self.records[gone]
        return self.records

    def head(self) -> int:
        return max(self.read(), default=0)

    def after(self, revision: int) -> dict[int, dict]:
        return {r: rec for r, rec in sorted(self.read().items()) if r > revision}


def requests_since(api: KubeApiServer, since: int) -> str:
    """What was asked of the stand-in over HTTP from request `since` on, by kind of request."""
    counts: dict[str, int] = {}
    for method, path, _status in list(api.requests)[since:]:
        m = REQUEST_PATH.search(path.split("?", 1)[0])
        what = f"{method} {m.group(1)}{m.group(2) or ''}" if m else f"{method} {path.split('?', 1)[0]}"
        if "watch=" in path:
            what += " (watch)"
        counts[what] = counts.get(what, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


def lease_holder(api: KubeApiServer) -> str | None:
    lease = api.get("leases", SYSTEM_NAMESPACE, "meshd-leader")
    return (lease or {}).get("spec", {}).get("holderIdentity") or None


def changed_keys(record: dict) -> list[tuple[str, str, str, str]]:
    return [(c.get("kind"), c.get("namespace"), c.get("name"), c.get("action")) for c in record.get("changes", [])]


def history(meshd: Meshd, limit: int) -> list[dict]:
    return get_json(meshd, f"/api/v1/history?limit={max(1, min(HISTORY_PAGE, limit))}")["items"]


def history_after(meshd: Meshd, revision: int, expected: int) -> dict[int, dict] | None:
    """revision -> record of /api/v1/history after `revision`; None when `expected` records would
    not fit in one page (the API answers the newest 1000 at most)."""
    if expected + 10 > HISTORY_PAGE:
        return None
    return {h["revision"]: h for h in history(meshd, expected + 10) if h["revision"] > revision}


def served_revision(meshd: Meshd) -> int:
    return int(get_json(meshd, "/debug/push_status", timeout=10).get("revision", -1))


# --------------------------------------------------------------------------------------------
# The objects


def obj(text: str) -> dict:
    return yaml.safe_load(text)


def reviews_vs(weights: dict) -> dict:
    return obj(configs.virtual_service(weights))


def kubectl_patch(weights: dict) -> dict:
    """What `kubectl apply` sends for a changed VirtualService: a JSON merge patch of the changed
    fields and of its last-applied annotation."""
    vs = reviews_vs(weights)
    return {"metadata": {"annotations": {LAST_APPLIED: json.dumps(vs, separators=(",", ":")) + "\n"}},
            "spec": {"http": vs["spec"]["http"]}}


def weights_for(k: int) -> dict:
    """The k-th change's weights: v1 10..90 in steps of 10, never the same twice in a row; k = 4 is 50/50."""
    w = 10 * (1 + k % 9)
    return {"v1": w, "v2": 100 - w}


def route_weights(route_config) -> dict:
    """subset -> weight of reviews' weighted clusters in a RouteConfiguration."""
    return {name.split("|")[2]: w for name, w in weighted_clusters(route_config).items() if name.count("|") == 3}


def burst_vs(name: str) -> dict:
    return {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"hosts": [f"{name}.example.com"],
                     "http": [{"route": [{"destination": {"host": configs.HOST, "subset": "v1"}}]}]}}


def startup_objects(i: int) -> tuple[dict, dict, dict]:
    """Service, VirtualService and DestinationRule cfg-i: the VirtualService sends one header's
    requests to the Service with a timeout and retries, the rest plainly; the DestinationRule sets
    its load balancing and connection pool. No subsets: the Service has no pods, and a subset
    selecting none is IST0173, which the leader would write into the status of each."""
    name = f"cfg-{i:05d}"
    svc = service(name, NAMESPACE)
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": name, "namespace": NAMESPACE},
          "spec": {"hosts": [name], "http": [
              {"match": [{"headers": {"end-user": {"exact": f"user-{i}"}}}], "route": [{"destination": {"host": name}}],
               "timeout": "2s", "retries": {"attempts": 3, "perTryTimeout": "500ms"}},
              {"route": [{"destination": {"host": name}}]}]}}
    dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
          "metadata": {"name": name, "namespace": NAMESPACE},
          "spec": {"host": name, "trafficPolicy": {"loadBalancer": {"simple": "LEAST_REQUEST"},
                                                   "connectionPool": {"tcp": {"maxConnections": 100}}}}}
    return svc, vs, dr


# --------------------------------------------------------------------------------------------
# meshd and the proxy


def kube_meshd(kubeconfig: str, name: str) -> Meshd:
    return Meshd(name=name, extra_args=[
        "--store", "kubernetes", "--registry", "kubernetes", "--kubeconfig", kubeconfig,
        "--system-namespace", SYSTEM_NAMESPACE, "--webhook-port", "0", "--replica-name", name])


def wait_route(client: BenchAdsClient, since: int, want: dict, timeout: float, what: str):
    """The first RDS response at or after response `since` carrying ROUTE with `want`'s weights."""
    def seen(c):
        for r in c.responses[since:]:
            if r.type == "RDS" and ROUTE in r.resources and route_weights(r.resources[ROUTE].message) == want:
                return r
        return None
    try:
        return client.wait_for(seen, timeout, what)
    except AssertionError as exc:
        raise Timeout(f"no RDS {ROUTE} with {want} within {timeout} s ({what}): {str(exc)[:2000]}") from None


def connect_to_route(meshd: Meshd, args, want: dict, started: list) -> BenchAdsClient:
    client = connect_proxy(meshd, args.wait_timeout)
    started.append(client)
    wait_route(client, 0, want, args.wait_timeout, f"{meshd.name}'s first route")
    return client


def summarize(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "median": statistics.median(ms), "p90": percentile(ms, 90), "max": max(ms), "min": min(ms)}


def fmt(s: dict) -> str:
    return f"median {s['median']:.1f} ms, p90 {s['p90']:.1f} ms, max {s['max']:.1f} ms"


def check_meshd_alive(meshd: Meshd):
    if not meshd.running:
        raise BenchError(f"{meshd.name} exited with {meshd.proc.returncode}\n{meshd.tail()}")


# --------------------------------------------------------------------------------------------
# The measurements


def changes(args, meshd: Meshd, client: BenchAdsClient, counter: list):
    """Yields (k, the k-th change's weights, the ADS client's response count) for each of the
    --iterations changes, each >= --gap after the previous one's RDS (the caller waits for that
    RDS before asking for the next change). `counter` carries the weights on across phases."""
    last = time.monotonic() - args.gap
    for k in range(args.iterations):
        check_meshd_alive(meshd)
        want = weights_for(counter[0])
        counter[0] += 1
        time.sleep(max(0.0, args.gap - (time.monotonic() - last)))
        with client.cond:
            n = len(client.responses)
        yield k, want, n
        last = time.monotonic()


def entries_not(entries: dict[int, dict], actor: str, expect: list) -> list[str]:
    """The ledger entries (or history records: the same fields) whose actor is not `actor` or
    whose changes are not `expect`."""
    return [f"{r}: actor {e.get('actor')!r}, changes {changed_keys(e)}"
            for r, e in entries.items() if e.get("actor") != actor or changed_keys(e) != expect]


def check_history(meshd: Meshd, label: str, after: int, revisions: list[int], actor: str, problems: list) -> tuple[int, int]:
    """meshd's /api/v1/history after revision `after` against `revisions`: exactly those, each by
    `actor` and changing only VirtualService reviews. Answers (records listed, as expected)."""
    listed = history_after(meshd, after, len(revisions))
    if listed is None:
        log(f"{label}: {len(revisions)} records do not fit in one history page; history not compared")
        return 0, 0
    if sorted(listed) != sorted(revisions):
        problems.append(f"{label}: /api/v1/history lists revisions {sorted(listed)[:20]}, expected {revisions[:20]}")
    bad = entries_not(listed, actor, ONE_VS_CHANGE)
    problems.extend(f"{label}: history record {b}" for b in bad[:10])
    return len(listed), len(listed) - len(bad)


def measure_kubectl(args, kube: KubeHttp, ledger: Ledger, meshd: Meshd, client: BenchAdsClient,
                    counter: list, problems: list) -> dict:
    """Phase 1: merge PATCH of the VirtualService over HTTP -> RDS at the proxy."""
    head0 = ledger.head()
    asked = len(ledger.api.requests)
    window = CpuWindow(meshd.proc.pid)
    latencies, patches, recorded = [], [], []
    for k, want, n in changes(args, meshd, client, counter):
        t0, wall0 = time.monotonic(), time.time()
        status, answer = kube.request("PATCH", f"{ISTIO}/namespaces/{NAMESPACE}/virtualservices/reviews{WRITE_QUERY}",
                                      kubectl_patch(want), "application/merge-patch+json")
        t1 = time.monotonic()
        if status != 200:
            raise BenchError(f"change {k}: PATCH of the VirtualService: HTTP {status}: {json.dumps(answer)[:1000]}")
        rec = wait_route(client, n, want, args.change_timeout, f"kubectl change {k}\n{meshd.tail(30)}")
        latencies.append(rec.at - t0)
        patches.append(t1 - t0)
        recorded.append(wall0)
    time.sleep(1.0)   # anything recorded late or twice shows up in the ledger by now
    cpu = window.end()
    entries = ledger.after(head0)
    wrong = entries_not(entries, KUBECTL_ACTOR, ONE_VS_CHANGE)
    if len(entries) != args.iterations:
        problems.append(f"kubectl: {len(entries)} ledger entries for {args.iterations} changes "
                        f"(revisions {sorted(entries)[:20]})")
    problems.extend(f"kubectl: ledger entry {w}" for w in wrong[:10])
    listed, as_expected = check_history(meshd, "kubectl", head0, sorted(entries), KUBECTL_ACTOR, problems)
    # meshd's own record time, against each PATCH's start (same host clock), when entries match changes
    lags = []
    if len(entries) == len(recorded):
        lags = [max(0.0, float(e.get("time", 0)) - w) for e, w in zip(entries.values(), recorded)]
    return {"rds": summarize(latencies), "patch": summarize(patches),
            "recorded": summarize(lags) if lags else None, "entries": len(entries),
            "history": listed, "history_ok": as_expected, "wrong_entries": len(wrong),
            "cpu": cpu, "requests": requests_since(ledger.api, asked)}


def measure_apply(args, meshd: Meshd, client: BenchAdsClient, counter: list, problems: list,
                  ledger: Ledger | None, label: str) -> dict:
    """Phase 2: POST /api/v1/apply of the VirtualService -> the answer, and -> RDS at the proxy."""
    head0 = ledger.head() if ledger else None
    hist0 = history(meshd, 1)
    hist0 = hist0[0]["revision"] if hist0 else 0
    window = CpuWindow(meshd.proc.pid)
    answers, routes, revisions = [], [], []
    before_answer = 0
    for k, want, n in changes(args, meshd, client, counter):
        t0 = time.monotonic()
        r = meshd.apply_raw(configs.virtual_service(want))
        t1 = time.monotonic()
        if r.status != 200:
            raise BenchError(f"{label}: apply {k}: HTTP {r.status}: {r.text[:1000]}\n{meshd.tail(30)}")
        body = r.json()
        if [x.get("action") for x in body.get("results", [])] != ["configured"]:
            problems.append(f"{label}: apply {k} answered {json.dumps(body)[:300]}")
        revisions.append(int(body.get("revision", -1)))
        rec = wait_route(client, n, want, args.change_timeout, f"{label} apply {k}\n{meshd.tail(30)}")
        answers.append(t1 - t0)
        routes.append(rec.at - t0)
        before_answer += rec.at < t1
    time.sleep(1.0)
    cpu = window.end()
    if len(set(revisions)) != len(revisions) or revisions != sorted(revisions):
        problems.append(f"{label}: the answers' revisions are not new each time: {revisions[:20]}")
    check_history(meshd, label, hist0, revisions, MESHD_ACTOR, problems)
    out = {"answer": summarize(answers), "rds": summarize(routes), "before_answer": before_answer,
           "revisions": revisions, "cpu": cpu, "entries": None}
    if ledger is not None:
        entries = ledger.after(head0)
        out["entries"] = len(entries)
        if sorted(entries) != sorted(revisions):
            problems.append(f"{label}: ledger entries {sorted(entries)[:20]} for answers at revisions {revisions[:20]}")
        wrong = entries_not(entries, MESHD_ACTOR, ONE_VS_CHANGE)
        problems.extend(f"{label}: ledger entry {w}" for w in wrong[:10])
    return out


def measure_burst(args, kube: KubeHttp, ledger: Ledger, meshd: Meshd, problems: list) -> dict:
    """Phase 3: B VirtualServices created one after the other -> all recorded -> all served."""
    head0 = ledger.head()
    asked = len(ledger.api.requests)
    names = [f"burst-{i:05d}" for i in range(args.burst)]
    want = set(names)
    window = CpuWindow(meshd.proc.pid)
    t0, wall0 = time.monotonic(), time.time()
    for i, name in enumerate(names):
        status, answer = kube.request("POST", f"{ISTIO}/namespaces/{NAMESPACE}/virtualservices{WRITE_QUERY}",
                                      burst_vs(name))
        if status != 201:
            raise BenchError(f"create {i} ({name}): HTTP {status}: {json.dumps(answer)[:1000]}")
        if i % 100 == 99:
            check_meshd_alive(meshd)
    created = time.monotonic() - t0
    log(f"burst: {args.burst} creates answered in {created:.2f} s ({args.burst / created:.0f}/s); "
        f"ledger head {ledger.head()} (was {head0})")

    state: dict = {}

    def all_recorded():
        covering: dict[int, set] = {}
        for r, e in ledger.after(head0).items():
            mine = {c.get("name") for c in e.get("changes", []) if c.get("kind") == "VirtualService"} & want
            if mine:
                covering[r] = mine
        seen = set().union(*covering.values()) if covering else set()
        state["covering"], state["seen"] = covering, len(seen)
        return seen == want

    def describe():
        return (f"{state.get('seen')} of {args.burst} recorded in {len(state.get('covering', {}))} entries; "
                f"served revision {state.get('served')}\n{meshd.tail(30)}")

    wait_until(lambda: check_meshd_alive(meshd) or all_recorded(), args.burst_timeout, "the burst in the ledger",
               interval=0.05, describe=describe)
    recorded = time.monotonic() - t0
    covering = state["covering"]
    last_rev = max(covering)

    def served():
        check_meshd_alive(meshd)
        state["served"] = served_revision(meshd)
        return state["served"] >= last_rev
    wait_until(served, max(5.0, args.burst_timeout - recorded), f"push_status revision {last_rev}", interval=0.02,
               describe=describe)
    served_at = time.monotonic() - t0
    cpu = window.end()
    entries = {r: e for r, e in ledger.after(head0).items() if r <= last_rev}
    times = [float(e.get("time", 0)) - wall0 for e in entries.values()]
    sizes = [len(e.get("changes", [])) for e in entries.values()]
    extra = {r: changed_keys(e) for r, e in entries.items() if r not in covering}
    if extra:
        problems.append("burst: ledger entries without burst objects among them: "
                        + "; ".join(f"{r}: {k[:3]}" for r, k in list(extra.items())[:5]))
    wrong_actor = [f"{r}: {e.get('actor')!r}" for r, e in entries.items() if e.get("actor") != KUBECTL_ACTOR]
    if wrong_actor:
        problems.append(f"burst: ledger entries not by {KUBECTL_ACTOR!r}: {wrong_actor[:5]}")
    twice = sum(sizes) - args.burst - sum(len(k) for k in extra.values())
    if twice:
        problems.append(f"burst: {sum(sizes)} changes recorded for {args.burst} creates")
    # What meshd serves and lists, once (not timed).
    items = get_json(meshd, f"/api/v1/config/virtualservices?namespace={NAMESPACE}", timeout=60).get("items", [])
    listed = {i["metadata"]["name"] for i in items} & want
    if listed != want:
        problems.append(f"burst: GET /api/v1/config/virtualservices lists {len(listed)} of the {args.burst}")
    hist = history_after(meshd, head0, len(entries))
    if hist is not None and sorted(r for r in hist if r <= last_rev) != sorted(entries):
        problems.append(f"burst: /api/v1/history lists {len(hist)} records for {len(entries)} ledger entries")
    return {"created": created, "recorded": recorded, "served": served_at, "entries": len(entries),
            "sizes": sizes, "record_times": times, "last_rev": last_rev, "head0": head0, "cpu": cpu,
            "requests": requests_since(ledger.api, asked)}


def idle_meshd(args, api: KubeApiServer, kubeconfig: str, name: str, started: list, records: int = 0) -> dict:
    """A meshd started on the stand-in as it is: spawn -> /ready -> served revision = ledger head
    (and the ledger recording at least `records` objects); its VmRSS once steady. Answers the
    times, its memory and the ledger head; the caller stops it."""
    ledger = Ledger(api)
    meshd = kube_meshd(kubeconfig, name)
    started.append(meshd)
    t0 = time.monotonic()
    meshd.start(timeout=args.start_timeout)
    ready = time.monotonic() - t0
    head = {}

    def caught_up():
        check_meshd_alive(meshd)
        head["ledger"], head["served"] = ledger.head(), served_revision(meshd)
        head.setdefault("at_ready", (head["served"], head["ledger"]))
        if records:
            head["records"] = len({(c[0], c[1], c[2]) for e in ledger.read().values() for c in changed_keys(e)})
            if head["records"] < records:
                return False
        return head["served"] == head["ledger"]
    wait_until(caught_up, args.startup_timeout, f"{name}'s served revision = the ledger head", interval=0.02,
               describe=lambda: f"{head}\n{meshd.tail(30)}")
    served = time.monotonic() - t0
    mem = settled_rss(meshd.proc.pid)
    log(f"{name}: pid {meshd.proc.pid}, /ready {ready:.2f} s (then push_status revision {head['at_ready'][0]}, "
        f"ledger head {head['at_ready'][1]}), revision {head['served']} = ledger head at {served:.2f} s; VmRSS {mem['VmRSS'] / 2**20:.1f} MiB (HWM {mem['VmHWM'] / 2**20:.1f} MiB, steady within "
        f"{mem['spread'] / 2**20:.1f} MiB after {mem['settled_after']:.1f} s)")
    at_ready = " (already in the first answer after /ready)" if head["at_ready"][0] == head["at_ready"][1] else ""
    return {"meshd": meshd, "ready": ready, "served": served, "rss": mem, "head": head["ledger"], "at_ready": at_ready}


def stop(meshd: Meshd, started: list):
    t = time.monotonic()
    meshd.close()
    if meshd in started:
        started.remove(meshd)
    log(f"{meshd.name} stopped (exit {meshd.proc.returncode if meshd.proc else None}) in {time.monotonic() - t:.1f} s")


def measure_startup(args, workdir: str, started: list, apis: list, problems: list) -> dict:
    """Phase 4: a fresh meshd on a cluster with O recorded objects, against empty ones."""
    history_size = max(5000, 4 * args.objects)
    api, kubeconfig = start_standin(os.path.join(workdir, "startup"), history_size, args.tune_standin)
    apis.append(api)
    ledger = Ledger(api)
    out: dict = {}
    empty = idle_meshd(args, api, kubeconfig, "meshd-empty", started)
    stop(empty["meshd"], started)
    out["empty"] = empty

    n_vs = (args.objects + 1) // 2
    n_dr = args.objects - n_vs
    objects = [startup_objects(i) for i in range(n_vs)]
    for svc, _, _ in objects:
        api.create(svc)
    services = idle_meshd(args, api, kubeconfig, "meshd-services", started)
    stop(services["meshd"], started)
    out["services"] = services
    t = time.monotonic()
    for i, (_, vs, dr) in enumerate(objects):
        api.create(vs, manager=KUBECTL_MANAGER)
        if i < n_dr:
            api.create(dr, manager=KUBECTL_MANAGER)
    log(f"startup: {n_vs} VirtualServices and {n_dr} DestinationRules created in the stand-in (in process) "
        f"in {time.monotonic() - t:.1f} s (rv {api.resource_version})")

    head0 = ledger.head()
    asked = len(api.requests)
    first = idle_meshd(args, api, kubeconfig, "meshd-recorder", started, records=args.objects)
    recorded = ledger.after(head0)
    keys = {(c[0], c[2]) for e in recorded.values() for c in changed_keys(e)}
    if len(keys) != args.objects:
        problems.append(f"startup: the first meshd recorded {len(keys)} objects for {args.objects}")
    stop(first["meshd"], started)
    if lease_holder(api) is not None:
        problems.append(f"startup: the Lease still held by {lease_holder(api)!r} after the recorder stopped")
    head = ledger.head()
    log(f"startup: the first meshd recorded {len(keys)} objects in {len(recorded)} ledger entries "
        f"(head {head}), revision = head {first['served']:.2f} s after its spawn; its requests to the stand-in: "
        f"{requests_since(api, asked)}")

    timer = ListTimer(api)
    t0 = time.monotonic()
    fresh = idle_meshd(args, api, kubeconfig, "meshd-fresh", started)
    lists = timer.summary(t0) + "; " + ", ".join(
        f"{res} +{a - t0:.2f}" for a, _, res in sorted(timer.spans) if a >= t0)
    meshd = fresh["meshd"]
    if ledger.head() != head:
        problems.append(f"startup: the fresh meshd recorded anew: ledger head {head} -> {ledger.head()} "
                        + "; ".join(f"{r}: {e.get('actor')!r} {changed_keys(e)[:3]}" for r, e in ledger.after(head).items()))
    for kind, n in (("virtualservices", n_vs), ("destinationrules", n_dr)):
        items = get_json(meshd, f"/api/v1/config/{kind}?namespace={NAMESPACE}", timeout=60).get("items", [])
        if len(items) != n:
            problems.append(f"startup: the fresh meshd serves {len(items)} {kind} of {n}")
    newest = history(meshd, 1)
    if not newest or newest[0]["revision"] != head:
        problems.append(f"startup: the fresh meshd's newest history record is {newest[:1]}, the ledger head {head}")
    stop(meshd, started)
    api.stop()
    apis.remove(api)
    out.update(fresh=fresh, first=first, head=head, entries=len(recorded), lists=lists, n_vs=n_vs, n_dr=n_dr)
    return out


# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meshd", default="/tmp/rbin/meshd", help="the meshd binary (release for the figures)")
    ap.add_argument("--iterations", type=int, default=50, help="changes in phases 1 and 2 (each)")
    ap.add_argument("--burst", type=int, default=500, help="VirtualServices created in the burst")
    ap.add_argument("--objects", type=int, default=1000,
                    help="Istio objects at startup (half VirtualServices, half DestinationRules)")
    ap.add_argument("--phases", default=",".join(PHASES), help=f"which to run, of {','.join(PHASES)}")
    ap.add_argument("--start-timeout", type=float, default=120.0, help="seconds for a meshd's /ready")
    ap.add_argument("--wait-timeout", type=float, default=60.0, help="seconds for the ADS client's config")
    ap.add_argument("--gap", type=float, default=MIN_GAP,
                    help=f"seconds of quiet between one change's RDS and the next change (at least {MIN_GAP})")
    ap.add_argument("--change-timeout", type=float, default=10.0, help="seconds for one change's RDS")
    ap.add_argument("--burst-timeout", type=float, default=300.0, help="seconds from the first create to all served")
    ap.add_argument("--startup-timeout", type=float, default=300.0,
                    help="seconds from /ready to the served revision = the ledger head")
    ap.add_argument("--tune-standin", action=argparse.BooleanOptionalAction, default=True,
                    help="TCP_NODELAY and a SOMAXCONN listen backlog on the stand-in, as kube-apiserver has (off: "
                         "its 40 ms Nagle/delayed-ACK stalls and 1 s SYN retries are measured too)")
    ap.add_argument("--max-runtime", type=int, default=1800, help="the whole run's bound, seconds")
    ap.add_argument("--log-tail", type=int, default=0, help="print this many of meshd's last log lines at the end")
    args = ap.parse_args(argv)
    args.gap = max(args.gap, MIN_GAP)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if any(p not in PHASES for p in phases) or not phases:
        ap.error(f"--phases: choose among {','.join(PHASES)}")
    if min(args.iterations, args.burst, args.objects) < 1:
        ap.error("--iterations, --burst and --objects must be at least 1")
    if not os.access(args.meshd, os.X_OK):
        ap.error(f"{args.meshd} is not an executable")
    os.environ["MESHD_BIN"] = os.path.abspath(args.meshd)

    bound_run(args.max_runtime)

    started: list = []
    apis: list = []
    problems: list[str] = []
    kube = None
    meshd_k = None
    workdir = tempfile.mkdtemp(prefix="bench-kube-config-")
    try:
        log(f"meshd {args.meshd}; phases {','.join(phases)}; stand-in {'tuned' if args.tune_standin else 'untuned'}; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()}")
        sqlite = None
        if "apply" in phases:
            # SQLite first, alone on the machine: the same route from a ServiceEntry, the same applies.
            m = Meshd(name="meshd-sqlite", extra_args=["--store", "sqlite", "--registry", "embedded"])
            started.append(m)
            m.start(timeout=args.start_timeout)
            m.apply(configs.join(configs.service_entry(), configs.destination_rule(),
                                 configs.virtual_service(weights_for(INITIAL))))
            client = connect_to_route(m, args, weights_for(INITIAL), started)
            sqlite = measure_apply(args, m, client, [FIRST_CHANGE], problems, None, "sqlite")
            client.close()
            started.remove(client)
            stop(m, started)

        kube_phases = [p for p in phases if p != "startup"]
        if kube_phases:
            history_size = max(5000, 4 * (args.burst + 2 * args.iterations))
            api, kubeconfig = start_standin(os.path.join(workdir, "changes"), history_size, args.tune_standin)
            apis.append(api)
            kube = KubeHttp(api, TOKEN)
            ledger = Ledger(api)
            for o in reviews_objects(POD_PORT, POD_IPS):
                api.create(o)
            for doc in (obj(configs.destination_rule()), reviews_vs(weights_for(INITIAL))):
                plural = doc["kind"].lower() + "s"
                status, answer = kube.request("POST", f"{ISTIO}/namespaces/{NAMESPACE}/{plural}{WRITE_QUERY}", doc)
                if status != 201:
                    raise BenchError(f"create {doc['kind']} reviews: HTTP {status}: {json.dumps(answer)[:1000]}")
            meshd_k = kube_meshd(kubeconfig, "meshd-kubernetes")
            started.append(meshd_k)
            t0 = time.monotonic()
            meshd_k.start(timeout=args.start_timeout)
            wait_until(lambda: lease_holder(api) == meshd_k.name, 30, "meshd holding the Lease", interval=0.05,
                       describe=lambda: f"holder {lease_holder(api)!r}\n{meshd_k.tail(30)}")
            log(f"{meshd_k.name}: pid {meshd_k.proc.pid}, /ready and the Lease {time.monotonic() - t0:.2f} s "
                f"after its spawn; ledger head {ledger.head()}")
            client = connect_to_route(meshd_k, args, weights_for(INITIAL), started)
            counter = [FIRST_CHANGE]
            if "kubectl" in phases:
                kc = measure_kubectl(args, kube, ledger, meshd_k, client, counter, problems)
                rec = f"recorded (meshd's record time) {fmt(kc['recorded'])}; " if kc["recorded"] else ""
                print(f"kubectl -> RDS: {kc['rds']['n']} merge PATCHes of VirtualService reviews over HTTP "
                      f"(field manager {KUBECTL_MANAGER}) -> RouteConfiguration at the proxy: {fmt(kc['rds'])}, "
                      f"min {kc['rds']['min']:.1f} ms; {rec}PATCH answered {fmt(kc['patch'])}; ledger entries "
                      f"{kc['entries']} (expected {args.iterations}), {kc['wrong_entries']} not as expected; "
                      f"/api/v1/history lists {kc['history']}, {kc['history_ok']} with actor "
                      f"{KUBECTL_ACTOR} changing only the VirtualService", flush=True)
                log(f"kubectl phase: machine CPU {kc['cpu']['busy']:.0f}%, {kc['cpu']['others']:.0f}% by others; "
                    f"requests to the stand-in (the PATCHes included): {kc['requests']}")
            if "apply" in phases:
                ka = measure_apply(args, meshd_k, client, counter, problems, ledger, "kubernetes")
                for label, a in (("kubernetes", ka), ("sqlite", sqlite)):
                    entries = f"; ledger entries {a['entries']} (expected {args.iterations})" if a["entries"] is not None else ""
                    print(f"apply ({label}): {a['answer']['n']} POST /api/v1/apply of VirtualService reviews: "
                          f"answer {fmt(a['answer'])}; RDS at the proxy {fmt(a['rds'])}; RDS before the answer "
                          f"{a['before_answer']} times{entries}", flush=True)
                    log(f"apply phase ({label}): machine CPU {a['cpu']['busy']:.0f}%, {a['cpu']['others']:.0f}% by others")
                print(f"apply side by side ({args.iterations} applies, median / p90 / max ms): answer kubernetes "
                      f"{ka['answer']['median']:.1f} / {ka['answer']['p90']:.1f} / {ka['answer']['max']:.1f} vs sqlite "
                      f"{sqlite['answer']['median']:.1f} / {sqlite['answer']['p90']:.1f} / {sqlite['answer']['max']:.1f}; "
                      f"RDS kubernetes {ka['rds']['median']:.1f} / {ka['rds']['p90']:.1f} / {ka['rds']['max']:.1f} vs "
                      f"sqlite {sqlite['rds']['median']:.1f} / {sqlite['rds']['p90']:.1f} / {sqlite['rds']['max']:.1f}",
                      flush=True)
            client.close()
            started.remove(client)
            if "burst" in phases:
                b = measure_burst(args, kube, ledger, meshd_k, problems)
                sizes = sorted(b["sizes"])
                times = sorted(b["record_times"])
                print(f"burst: {args.burst} VirtualServices created over HTTP one after the other in "
                      f"{b['created']:.2f} s ({args.burst / b['created']:.0f}/s); all in the ledger at "
                      f"+{b['recorded']:.2f} s (newest record's time +{times[-1]:.2f} s), served (push_status "
                      f"revision {b['last_rev']}) at +{b['served']:.2f} s from the first create, "
                      f"{b['served'] - b['created']:.2f} s after the last; {b['entries']} ledger entries "
                      f"(changes per entry min {sizes[0]}, median {statistics.median(sizes):g}, max {sizes[-1]})",
                      flush=True)
                log(f"burst: first entry recorded at +{times[0]:.2f} s; machine CPU {b['cpu']['busy']:.0f}%, "
                    f"{b['cpu']['others']:.0f}% by others; requests to the stand-in (the creates included): "
                    f"{b['requests']}")
            noisy = [ln for ln in list(meshd_k.lines) if re.match(r"\S+ (warning|error|critical) ", ln)]
            log(f"{meshd_k.name} logged {len(meshd_k.lines)} lines, {len(noisy)} warnings/errors"
                + "".join(f"\n  {ln[:300]}" for ln in noisy[:10]))
            if args.log_tail:
                log(meshd_k.tail(args.log_tail))
            kube.close()
            stop(meshd_k, started)
            api.stop()
            apis.remove(api)

        if "startup" in phases:
            s = measure_startup(args, workdir, started, apis, problems)
            f, e, sv = s["fresh"], s["empty"], s["services"]
            per = (f["rss"]["VmRSS"] - sv["rss"]["VmRSS"]) / args.objects
            print(f"startup: {args.objects} objects ({s['n_vs']} VirtualServices + {s['n_dr']} DestinationRules, "
                  f"{s['n_vs']} Services; ledger head {s['head']}, {s['entries']} entries): fresh meshd /ready "
                  f"{f['ready']:.2f} s, push_status revision = ledger head {f['served']:.2f} s after spawn{f['at_ready']} "
                  f"(empty cluster: {e['ready']:.2f} s / {e['served']:.2f} s); VmRSS {f['rss']['VmRSS'] / 2**20:.1f} MiB "
                  f"(HWM {f['rss']['VmHWM'] / 2**20:.1f} MiB) vs {e['rss']['VmRSS'] / 2**20:.1f} MiB on an empty "
                  f"cluster and {sv['rss']['VmRSS'] / 2**20:.1f} MiB with the Services only: {per:.0f} bytes per "
                  f"object", flush=True)
            log(f"startup: fresh meshd's lists on the stand-in: {s['lists']}")
        for p in problems:
            print(f"  problem: {p}", flush=True)
        log(f"load average at the end {os.getloadavg()}")
        return 1 if problems else 0
    except (BenchError, AssertionError, KeyboardInterrupt, OSError, http.client.HTTPException) as exc:
        log(f"FAILED: {type(exc).__name__}: {exc}")
        for p in problems:
            log(f"  problem seen before: {p}")
        return 2
    finally:
        signal.alarm(0)
        for thing in list(reversed(started)):
            try:
                stop(thing, started) if isinstance(thing, Meshd) else thing.close()
            except Exception as exc:  # keep cleaning up
                log(f"cleanup: {thing!r}: {exc!r}")
        if kube is not None:
            kube.close()
        for api in apis:
            api.stop()
        shutil.rmtree(workdir, ignore_errors=True)   # kubeconfigs and the stand-ins' CAs and certificates


if __name__ == "__main__":
    sys.exit(main())
