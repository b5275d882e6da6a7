"""Canary steps (docs/canary-steps.md): a `Canary` resource whose weights meshd steps by the
traffic it observes in Prometheus, rolls back when the new subset misbehaves, and records every
step as a revision of its own.

The pipeline is the real one of test_observed_traffic.py (observed_pipeline.py): Debian's
Prometheus scraping every second two grpcio backends with gRPC's OpenTelemetry server metrics
(v1, v2; v2 can fail a share of its calls) and proxyless grpcio probes with the CSM plugin, all
on loopback; meshd runs with `--prometheus-url`. One pipeline serves the whole module: each test
starts its own meshd and its own probe (closed at the test's end, v2 healthy again), and waits
until v2's errors of an earlier test are out of every window before it starts a canary.

Timing: every canary here steps 20, 50, 100 every INTERVAL (4 s) under a RATE (50 RPC/s) probe:
at 20% v2 takes ~10 RPC/s, ~40 requests an interval, so MIN_REQUESTS = 10 is met with room,
and 999 (the too-little-traffic case) never is. Every wait is bounded (a multiple of INTERVAL
plus a margin, never an assertion on time) and fails with the canary's status and meshd's log.

Tests (the first ones need no Prometheus):
- a Canary with an unknown field or a bad step list, interval or error rate: 422 naming the
  field path, through the API and meshctl; nothing stored;
- a Canary on a meshd without --prometheus-url: refused, or its status.message says why;
- Prometheus unreachable: the step is held (`hold` says why), no rollback; a VirtualService with
  no steppable route fails the canary with the reason;
- healthy v2 (meshctl canary start): Succeeded, 0/100, no failed RPC, each step a revision with
  actor `canary default/reviews` and a reason, meshctl status/get/history, metrics;
- v2 failing 30% (POST /api/v1/apply): RolledBack before any advance, the VirtualService as
  before, a `rollback` revision whose reason names the error rate, an SSE `canary` event;
- too little traffic: never past the first step, rolled back naming minRequests;
- SQLite restart mid-canary (meshctl apply -f): resumes at its step, ends Succeeded;
- etcd: the driving replica (the singleton leader key) killed; the other finishes the canary;
- a manual apply pauses it (the pause names who and which revision); resume, abort (the
  pre-canary VirtualService, one `rollback` revision), a changed spec starting it again, promote
  (100%): once through meshctl (`canary start/resume/abort/promote`), once through the API
  (POST /api/v1/apply, POST /api/v1/canaries/default/reviews/{resume,abort,promote});
- metrics and the REST actions (GET /api/v1/canaries, POST .../abort);
- `POST /api/v1/apply` with a Canary document, as the doc names it.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request

import pytest

import configs
from etcd_cluster import etcd_bin
from event_stream import EventStream
from meshd_process import run_meshctl
from observed_pipeline import TrafficPipeline
from prometheus_server import free_port
from results import record_result
from test_etcd_replicas import etcd_cluster, kek_file, wait_for  # noqa: F401  (fixtures)

NS = configs.NAMESPACE
NAME = "reviews"
HOST = configs.HOST
ACTOR = f"canary {NS}/{NAME}"
STEPS = (20, 50, 100)
INTERVAL = 4                  # seconds; each step is watched this long
RATE = 50.0                   # the probe's RPC/s: ~10 RPC/s to v2 at 20%
MIN_REQUESTS = 10             # a quarter of what v2 gets in the first interval
TOO_MANY = 999                # far above what v2 can get in one interval (~40)
MARGIN = 6.0                  # scrape (1 s), push, the driver's look (interval/5), slow CI
PRE_CANARY = {"v1": 100, "v2": 0}
TERMINAL = ("Succeeded", "RolledBack", "Aborted", "Failed")
PROBES = 8                    # client scrape targets the module's pipeline names up front


def attach(request, title: str, source) -> None:
    """Shown in the report when the test fails (conftest's hook reads `_interop_logs`)."""
    if not hasattr(request.node, "_interop_logs"):
        request.node._interop_logs = []
    request.node._interop_logs.append((title, source))


# ------------------------------------------------------------------------------------ documents

def canary_doc(steps=STEPS, interval=f"{INTERVAL}s", min_requests=MIN_REQUESTS, max_error_rate=1,
               max_p99=None, name=NAME, virtual_service=None, extra_spec: str = "", extra_analysis: str = "") -> str:
    analysis = f"    maxErrorRate: {max_error_rate}\n    minRequests: {min_requests}\n"
    if max_p99 is not None:
        analysis += f"    maxP99: {max_p99}\n"
    vs = f"  virtualService: {virtual_service}\n" if virtual_service else ""
    return (
        "apiVersion: meshd.io/v1alpha1\n"
        "kind: Canary\n"
        f"metadata: {{name: {name}, namespace: {NS}}}\n"
        "spec:\n"
        f"  host: {HOST}\n"
        f"{vs}"
        "  from: v1\n"
        "  to: v2\n"
        f"  steps: [{', '.join(str(s) for s in steps)}]\n"
        f"  interval: {interval}\n"
        f"{extra_spec}"
        "  analysis:\n"
        f"{analysis}{extra_analysis}"
    )


def start_args(steps=STEPS, interval=f"{INTERVAL}s", min_requests=MIN_REQUESTS, extra=()) -> list:
    """`meshctl canary start reviews ...` as docs/canary-steps.md writes it."""
    return ["canary", "start", NAME, "--from", "v1", "--to", "v2", "--steps", ",".join(map(str, steps)),
            "--interval", interval, "--max-error-rate", "1%", "--min-requests", str(min_requests), *extra]


def registry(pipeline_or_ports, weights=None) -> str:
    ports = pipeline_or_ports if isinstance(pipeline_or_ports, dict) else pipeline_or_ports.ports
    return configs.canary(ports["v1"], ports["v2"], weights or PRE_CANARY)


# ------------------------------------------------------------------------------------ reading meshd

def canary_raw(meshd, name=NAME):
    return meshd.request("GET", f"/api/v1/canaries/{NS}/{name}")


def canary(meshd, name=NAME) -> dict:
    r = canary_raw(meshd, name)
    assert r.status == 200, f"GET /api/v1/canaries/{NS}/{name}: {r.status} {r.text[:2000]}\n{meshd.tail(40)}"
    return r.json()


def status_of(meshd, name=NAME) -> dict:
    return canary(meshd, name).get("status") or {}


def dump(status) -> str:
    return json.dumps(status, indent=1, sort_keys=True)[:6000]


def decisions(status: dict) -> list:
    return list(status.get("decisions") or [])


def decision_names(status: dict) -> list:
    return [d.get("decision") for d in decisions(status)]


def vs_of(meshd) -> dict:
    return meshd.get("VirtualService", NS, "reviews")


def vs_weights(meshd) -> dict:
    """subset -> weight of the VirtualService's one HTTP route."""
    routes = vs_of(meshd)["spec"]["http"][0]["route"]
    return {r["destination"].get("subset"): r.get("weight", 0) for r in routes}


def wait_canary(meshd, what: str, predicate, timeout: float, name=NAME, fail_on_terminal=True,
                poll: float = 0.25) -> dict:
    """Polls the canary's status until predicate(status) holds; bounded. A terminal phase the
    predicate does not accept ends the wait at once (fail_on_terminal). The failure message
    carries the status and meshd's log."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    answer = None
    while time.monotonic() < deadline:
        answer = canary_raw(meshd, name)
        if answer.status == 200:
            status = answer.json().get("status") or {}
            if predicate(status):
                return status
            if fail_on_terminal and status.get("phase") in TERMINAL:
                raise AssertionError(f"{what}: the canary ended in phase {status.get('phase')} instead"
                                     f"\nstatus: {dump(status)}\n{meshd.tail(60)}")
        time.sleep(poll)
    raise AssertionError(f"{what}: not within {timeout:g}s; last answer {answer.status if answer else None}"
                         f"\nstatus: {dump(status)}\n{meshd.tail(60)}")


def wait_phase(meshd, phase: str, timeout: float, name=NAME) -> dict:
    return wait_canary(meshd, f"canary {NS}/{name} phase {phase}", lambda s: s.get("phase") == phase, timeout, name=name)


def wait_started(meshd, name=NAME, first=STEPS[0]) -> dict:
    return wait_canary(meshd, f"canary {NS}/{name} started at {first}%",
                       lambda s: s.get("phase") == "Progressing" and s.get("weight") == first
                       and "start" in decision_names(s), timeout=10 + MARGIN, name=name)


def history(meshd, limit: int = 200) -> list:
    """Newest first."""
    r = meshd.request("GET", f"/api/v1/history?limit={limit}")
    assert r.status == 200, r
    return r.json()["items"]


def touches_vs(record: dict) -> bool:
    return any(c.get("kind") == "VirtualService" and c.get("namespace") == NS and c.get("name") == "reviews"
               for c in record.get("changes", []))


def canary_vs_records(meshd) -> list:
    """The canary's writes of the VirtualService, oldest first."""
    return [r for r in reversed(history(meshd)) if r.get("actor") == ACTOR and touches_vs(r)]


def weight_written(meshd, revision: int) -> tuple:
    """The weights a revision wrote ("+" lines of its diff against the revision before), and the diff."""
    r = meshd.request("GET", f"/api/v1/history/diff?from={revision - 1}&to={revision}")
    assert r.status == 200, r
    diff = r.json()["diff"]
    return [int(w) for w in re.findall(r"^\+\s+weight: (\d+)$", diff, re.M)], diff


def metric_samples(meshd, name: str) -> list:
    """[(labels, value)] of one metric family's samples in /metrics."""
    out = []
    pattern = re.compile(r"^" + re.escape(name) + r"(?:\{(.*)\})?\s+([-+0-9.eEinfNa]+)\s*$")
    for line in meshd.metrics().splitlines():
        m = pattern.match(line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or ""))
            out.append((labels, float(m.group(2))))
    return out


def canary_metric(meshd, name: str, name_label=NAME, **labels) -> dict:
    """{frozenset of the extra labels: value} of the samples of this canary."""
    found = {}
    for got, value in metric_samples(meshd, name):
        if got.get("namespace") == NS and got.get("name") == name_label and all(got.get(k) == v for k, v in labels.items()):
            found[tuple(sorted((k, v) for k, v in got.items() if k not in ("namespace", "name")))] = value
    return found


def meshctl(meshd, *args, check=True):
    return run_meshctl(meshd.admin_url, *args, check=check)


def post_action(meshd, action: str, name=NAME):
    return meshd.request("POST", f"/api/v1/canaries/{NS}/{name}/{action}", b"", "application/json")


def check_step_history(meshd, weights: list, what: str) -> list:
    """The canary's VirtualService writes: one revision per step, in order, each with actor
    `canary default/reviews`, an ordinary `apply`-like operation, a reason, and a diff setting v2
    to that step's weight."""
    records = canary_vs_records(meshd)
    assert len(records) == len(weights), (
        f"{what}: expected {len(weights)} canary revisions of the VirtualService (v2 at {weights}),"
        f" got {len(records)}: {json.dumps(records, indent=1)[:4000]}")
    revisions = [r["revision"] for r in records]
    assert len(set(revisions)) == len(revisions) and revisions == sorted(revisions), revisions
    for record, weight in zip(records, weights):
        assert isinstance(record.get("reason"), str) and record["reason"].strip(), (
            f"{what}: history record {record['revision']} has no reason: {record}")
        plus, diff = weight_written(meshd, record["revision"])
        assert weight in plus and (100 - weight) in plus, (
            f"{what}: revision {record['revision']} should set v2 to {weight} (v1 to {100 - weight}):\n{diff}")
    return records


# ------------------------------------------------------------------------------------ pipeline

@pytest.fixture(scope="module")
def pipeline():
    pipe = TrafficPipeline(fail_percent={"v1": 0, "v2": 0}, clients=PROBES)
    try:
        yield pipe.start()
    finally:
        pipe.close()


class Probes:
    """Per test: the probes it started (closed at its end) and v2 healthy again afterwards."""

    def __init__(self, pipe: TrafficPipeline):
        self.pipe = pipe
        self.started = []

    @property
    def prometheus(self):
        return self.pipe.prometheus

    @property
    def url(self) -> str:
        return self.pipe.prometheus.url

    def start(self, meshd, node: str, bootstrap_json: str | None = None, rate: float = RATE):
        """A RATE RPC/s probe through meshd's xDS; returns once meshd shows it synced and
        Prometheus scraped it."""
        kw = {"bootstrap_json": bootstrap_json} if bootstrap_json else {}
        client = self.pipe.start_client(meshd.xds_address, node, rate=rate, **kw)
        self.started.append(client)
        wait_for(f"Prometheus scraping probe {node} ({client.metrics_address})",
                 lambda: any(t["labels"].get("instance") == client.metrics_address and t["health"] == "up"
                             for t in self.prometheus.targets()), timeout=20)
        return client

    def wait_v2_quiet(self, seconds: int = 2 * INTERVAL + 2, timeout: float = 30) -> None:
        """No v2 error (either side) in the last `seconds` in Prometheus: an earlier test's
        failures are out of every window a canary reads."""
        queries = [
            f'sum(increase(grpc_server_call_duration_seconds_count{{version="v2",grpc_status!="OK"}}[{seconds}s]))',
            f'sum(increase(grpc_client_attempt_duration_seconds_count{{csm_service_name=~"outbound[|].*[|]v2[|].*",'
            f'grpc_status!="OK"}}[{seconds}s]))',
        ]

        def quiet():
            return all((self.prometheus.query_value(q) or 0) == 0 for q in queries)

        wait_for(f"no v2 errors in Prometheus over the last {seconds}s", quiet, timeout=timeout, interval=0.5)

    def close(self) -> None:
        for c in self.started:
            try:
                c.close()
            except Exception:
                pass
        try:
            self.pipe.backends["v2"].set_fail_percent(0)
        except Exception:
            pass


@pytest.fixture
def probes(pipeline, request):
    attach(request, "observed-traffic pipeline (Prometheus, backends, probes)", pipeline.describe)
    p = Probes(pipeline)
    try:
        yield p
    finally:
        p.close()


def mesh_with_probe(meshd_factory, probes, node_id, extra_args=(), data_dir=None, weights=None):
    """meshd with --prometheus-url, the registry with the VirtualService at v1:100/v2:0, a synced
    probe. Returns (meshd, probe)."""
    meshd = meshd_factory(extra_args=["--prometheus-url", probes.url, *extra_args], data_dir=data_dir)
    applied = meshd.apply(registry(probes.pipe, weights))
    meshd.wait_pushed(applied["revision"])
    proxy = node_id("probe")
    probe = probes.start(meshd, proxy)
    meshd.wait_synced(proxy)
    return meshd, probe


# ------------------------------------------------------------------------------------ events

def read_events(stream: EventStream, until, timeout: float) -> list:
    """Server-sent events as (event, data) until `until(event, data)` holds; bounded."""
    events = []
    event, data = None, []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = stream.response.fp.readline()
        if not raw:
            raise AssertionError(f"the event stream ended; events so far: {events[-30:]}")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            if event is not None or data:
                text = "\n".join(data)
                try:
                    parsed = json.loads(text)
                except ValueError:
                    parsed = text
                events.append((event or "message", parsed))
                if until(event or "message", parsed):
                    return events
            event, data = None, []
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
    raise AssertionError(f"no matching event within {timeout}s; events: {events[-30:]}")


# ==================================================================================== no Prometheus

BAD_DOCUMENTS = [
    # (what, document, the field path meshd must name, or a prefix ending in '[')
    ("unknown field in analysis", canary_doc(extra_analysis="    maxErorRate: 5\n"), "spec.analysis.maxErorRate"),
    ("unknown field in spec", canary_doc(extra_spec="  weigth: 10\n"), "spec.weigth"),
    ("steps not increasing", canary_doc(steps=(50, 20, 100)), "spec.steps"),
    ("a step of 0", canary_doc(steps=(0, 50, 100)), "spec.steps"),
    ("a step over 100", canary_doc(steps=(20, 101)), "spec.steps"),
    ("no steps", canary_doc(steps=()), "spec.steps"),
    ("interval under 2s", canary_doc(interval="1s"), "spec.interval"),
    ("interval over 1h", canary_doc(interval="2h"), "spec.interval"),
    ("error rate over 100", canary_doc(max_error_rate=150), "spec.analysis.maxErrorRate"),
]


def test_invalid_canaries_are_refused_with_the_field_path(meshd_factory, tmp_path):
    meshd = meshd_factory()
    applied = meshd.apply(registry({"v1": free_port(), "v2": free_port()}))
    meshd.wait_pushed(applied["revision"])
    for what, doc, field in BAD_DOCUMENTS:
        r = meshd.apply_raw(doc)
        assert r.status == 422, f"{what}: expected 422, got {r.status}: {r.text[:2000]}\n{doc}"
        error = r.json().get("error") or {}
        assert error.get("code") == "invalid", f"{what}: {error}"
        got = error.get("field") or ""
        assert got == field or got.startswith(field + "["), f"{what}: field {got!r}, expected {field!r}: {error}"
        assert error.get("resource") == f"Canary {NS}/{NAME}", f"{what}: {error}"
        assert canary_raw(meshd).status == 404, f"{what}: a refused Canary was stored"
    # meshctl apply -f says the same and exits non-zero.
    bad = tmp_path / "bad-canary.yaml"
    bad.write_text(BAD_DOCUMENTS[0][1])
    p = meshctl(meshd, "apply", "-f", bad, check=False)
    assert p.returncode != 0 and "spec.analysis.maxErorRate" in p.stdout + p.stderr, (p.returncode, p.stdout, p.stderr)
    # Nothing reached the VirtualService.
    assert vs_weights(meshd) == PRE_CANARY
    assert canary_raw(meshd).status == 404


def test_a_canary_without_prometheus_says_why(meshd_factory):
    """The doc does not say whether a canary on a meshd without --prometheus-url is refused or
    fails: either is accepted, as long as the reason is given."""
    meshd = meshd_factory()
    applied = meshd.apply(registry({"v1": free_port(), "v2": free_port()}))
    meshd.wait_pushed(applied["revision"])
    r = meshd.apply_raw(canary_doc(interval="2s"))
    if r.status != 200:
        assert 400 <= r.status < 500, r
        message = json.dumps(r.json())
        assert "prometheus" in message.lower(), f"refused without naming Prometheus: {message}"
        record_result("canary-steps", f"no --prometheus-url: refused {r.status}: {message[:300]}")
        return
    status = wait_canary(meshd, "status.message naming the missing --prometheus-url",
                         lambda s: "prometheus" in (s.get("message") or "").lower(), timeout=3 * 2 + MARGIN,
                         fail_on_terminal=False)
    record_result("canary-steps", f"no --prometheus-url: phase {status.get('phase')}: {status.get('message')}")


def test_unreachable_prometheus_holds_and_a_vs_without_a_steppable_route_fails(meshd_factory):
    dead = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    meshd = meshd_factory(extra_args=["--prometheus-url", dead])
    other = """\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details, namespace: default}
spec:
  hosts: [details.example.com]
  http:
  - route:
    - destination: {host: details.example.com}
"""
    applied = meshd.apply(configs.join(registry({"v1": free_port(), "v2": free_port()}), other))
    meshd.wait_pushed(applied["revision"])
    details_before = meshd.get("VirtualService", NS, "details")["spec"]

    meshd.apply(canary_doc(interval="2s", min_requests=1))
    wait_started(meshd)
    held = wait_canary(meshd, "a `hold` decision while Prometheus does not answer",
                       lambda s: "hold" in decision_names(s), timeout=3 * 2 + MARGIN)
    hold = [d for d in decisions(held) if d["decision"] == "hold"][0]
    assert (hold.get("reason") or "").strip(), f"`hold` says why: {dump(held)}"
    assert dead.split("//")[1] in hold["reason"] or "prometheus" in hold["reason"].lower(), (
        f"`hold` should name Prometheus or its address: {hold}")
    # Held, not judged: a few more looks change nothing.
    time.sleep(2 * 2 + 1)
    now = status_of(meshd)
    assert now.get("phase") == "Progressing" and now.get("weight") == STEPS[0] and now.get("step") == 0, dump(now)
    assert set(decision_names(now)) <= {"start", "hold"}, f"only start and hold while Prometheus is down: {dump(now)}"
    assert vs_weights(meshd) == {"v1": 80, "v2": 20}
    record_result("canary-steps", f"Prometheus unreachable: hold: {hold['reason']}")

    # A VirtualService with no route whose destinations are all reviews v1/v2: Failed, with the reason.
    meshd.apply(canary_doc(name="details", virtual_service="details", interval="2s"))
    failed = wait_phase(meshd, "Failed", timeout=10, name="details")
    assert (failed.get("message") or "").strip(), f"Failed without a reason: {dump(failed)}"
    assert meshd.get("VirtualService", NS, "details")["spec"] == details_before
    record_result("canary-steps", f"no steppable route: {failed.get('message')}")


# ==================================================================================== with traffic

def test_healthy_v2_is_stepped_to_100(meshd_factory, probes, node_id):
    meshd, probe = mesh_with_probe(meshd_factory, probes, node_id)
    probes.wait_v2_quiet()
    base = vs_of(meshd)
    started = meshctl(meshd, *start_args(extra=("--max-p99", "500ms")))
    record_result("canary-steps", f"meshctl canary start: {started.stdout.strip()}")

    stored = canary(meshd)
    assert stored["kind"] == "Canary" and stored["metadata"]["name"] == NAME and stored["metadata"]["namespace"] == NS, stored
    spec = stored["spec"]
    # meshctl names the host as given on its command line (the canary's name, resolved in its
    # namespace as Istio resolves short names) and the error rate as given ("1%").
    assert spec["host"] in (HOST, NAME) and spec["from"] == "v1" and spec["to"] == "v2", spec
    assert spec["steps"] == list(STEPS) and spec["interval"] == f"{INTERVAL}s", spec
    assert spec["analysis"]["maxErrorRate"] in (1, "1%") and spec["analysis"]["minRequests"] == MIN_REQUESTS, spec
    assert spec["analysis"]["maxP99"] == "500ms", spec

    first = wait_started(meshd)
    # steps 20 -> 50 -> 100, then one more interval watched at 100.
    status = wait_phase(meshd, "Succeeded", timeout=(len(STEPS) + 2) * INTERVAL + MARGIN)
    counted = probe.counts()
    record_result("canary-steps", f"healthy: decisions {[(d['decision'], d.get('weight'), d.get('reason')) for d in decisions(status)]}")
    record_result("canary-steps", f"healthy: probe {counted['counts']} failures {counted['failures']}")

    assert vs_weights(meshd) == {"v1": 0, "v2": 100}, vs_of(meshd)["spec"]
    assert status.get("weight") == 100 and status.get("step") == len(STEPS) - 1, dump(status)
    assert decision_names(status) == ["start", "advance", "advance", "complete"], dump(status)
    assert [d.get("weight") for d in decisions(status)[:3]] == list(STEPS), dump(status)
    for d in decisions(status):
        assert d.get("time"), f"a decision without a time: {d}"
        if d["decision"] in ("advance", "complete"):
            assert isinstance(d.get("reason"), str) and d["reason"].strip(), f"{d['decision']} without a reason: {d}"
    assert counted["failures"] == {}, f"the probe saw failed RPCs during a healthy canary: {counted}"
    assert counted["counts"].get("v2", 0) > 0 and counted["counts"].get("v1", 0) > 0, counted

    # Each step is its own revision, by the canary, with a reason.
    records = check_step_history(meshd, list(STEPS), "healthy canary")
    # baseRevision: the store before the canary (the VirtualService as it was), before its first write.
    assert int(base["metadata"]["resourceVersion"]) <= first["baseRevision"] < records[0]["revision"], (
        dump(first), records[0], base["metadata"])
    assert status["baseRevision"] == first["baseRevision"], dump(status)
    assert int(vs_of(meshd)["metadata"]["resourceVersion"]) == records[-1]["revision"]

    # meshctl: status, get, history (with each step's reason).
    shown = meshctl(meshd, "canary", "status", NAME).stdout
    assert NAME in shown and "Succeeded" in shown and "100" in shown, shown
    listed = meshctl(meshd, "get", "canaries").stdout
    assert NAME in listed, listed
    logged = meshctl(meshd, "history").stdout
    assert logged.count(ACTOR) >= len(STEPS), logged
    for record in records:
        assert record["reason"][:15] in logged, f"meshctl history lacks the reason {record['reason']!r}:\n{logged}"

    # Metrics of the finished canary.
    assert canary_metric(meshd, "meshd_canary_weight") == {(): 100.0}, metric_samples(meshd, "meshd_canary_weight")
    phases = canary_metric(meshd, "meshd_canary_phase")
    assert phases.get((("phase", "Succeeded"),)) == 1 and sum(phases.values()) == 1, phases
    counts = {dict(k)["decision"]: v for k, v in canary_metric(meshd, "meshd_canary_decisions_total").items()}
    assert {k: v for k, v in counts.items() if v} == {"start": 1, "advance": 2, "complete": 1}, counts

    # The status holds the digest of the VirtualService it last wrote (how a foreign change is told).
    assert re.fullmatch(r"[0-9a-f]{16}", status.get("virtualServiceDigest", "")), dump(status)


def test_failing_v2_is_rolled_back(meshd_factory, probes, node_id):
    meshd, probe = mesh_with_probe(meshd_factory, probes, node_id)
    probes.wait_v2_quiet()
    base = vs_of(meshd)
    probes.pipe.backends["v2"].set_fail_percent(30)
    stream = EventStream(meshd, timeout=3 * INTERVAL + 2 * MARGIN)
    try:
        assert stream.status == 200, stream.status
        applied = meshd.apply(canary_doc())
        assert [r["action"] for r in applied["results"]] == ["created"], applied
        started = wait_started(meshd)
        # v2 fails from its first request: rolled back within the first interval of the errors
        # becoming visible (the driver looks every interval/5); the wait allows three intervals.
        status = wait_phase(meshd, "RolledBack", timeout=3 * INTERVAL + MARGIN)
        events = read_events(stream, lambda e, d: e == "canary" and isinstance(d, dict) and d.get("decision") == "rollback",
                             timeout=MARGIN)
    finally:
        stream.close()
    counted = probe.counts()
    rollback = [d for d in decisions(status) if d["decision"] == "rollback"]
    record_result("canary-steps", f"v2 failing 30%: decisions {[(d['decision'], d.get('weight'), d.get('reason')) for d in decisions(status)]}")
    record_result("canary-steps", f"v2 failing 30%: probe {counted['counts']} failures {counted['failures']}")
    times = {d["decision"]: d.get("time") for d in decisions(status)}
    record_result("canary-steps", f"v2 failing 30%: start at {times.get('start')}, rollback at {times.get('rollback')}")

    assert "advance" not in decision_names(status), f"advanced with v2 failing 30%: {dump(status)}"
    assert len(rollback) == 1, dump(status)
    assert vs_of(meshd)["spec"] == base["spec"], f"not the pre-canary VirtualService: {vs_of(meshd)['spec']}"
    assert vs_weights(meshd) == PRE_CANARY
    assert status["baseRevision"] >= int(base["metadata"]["resourceVersion"]), dump(status)
    assert started["baseRevision"] == status["baseRevision"], (dump(started), dump(status))
    assert set(counted["failures"]) <= {"INTERNAL"}, counted

    # History: the start and the rollback, the rollback as an operation of its own naming errors.
    records = canary_vs_records(meshd)
    assert len(records) == 2, json.dumps(records, indent=1)
    last = records[-1]
    assert last["operation"] == "rollback", last
    assert last.get("rolledBackTo") in (None, status["baseRevision"]), (last, dump(status))
    reason = last.get("reason") or ""
    assert "error" in reason.lower() and re.search(r"\d+(\.\d+)?\s*%", reason), f"the rollback's reason should give v2's error rate: {last}"

    # The event stream said so.
    canary_events = [d for e, d in events if e == "canary"]
    rolled = canary_events[-1]
    assert rolled["namespace"] == NS and rolled["name"] == NAME and rolled["decision"] == "rollback", canary_events
    assert (rolled.get("reason") or "").strip() and "phase" in rolled and "weight" in rolled, rolled
    assert any(d.get("decision") == "start" for d in canary_events), f"no `start` event: {canary_events}"

    # Rolled back stays rolled back.
    time.sleep(INTERVAL)
    again = status_of(meshd)
    assert again["phase"] == "RolledBack" and decision_names(again) == decision_names(status), dump(again)
    assert vs_weights(meshd) == PRE_CANARY
    counts = {dict(k)["decision"]: v for k, v in canary_metric(meshd, "meshd_canary_decisions_total").items()}
    assert counts.get("rollback") == 1 and counts.get("start") == 1, counts
    assert re.fullmatch(r"[0-9a-f]{16}", status.get("virtualServiceDigest", "")), dump(status)


def test_too_little_traffic_rolls_back_at_the_first_step(meshd_factory, probes, node_id):
    meshd, probe = mesh_with_probe(meshd_factory, probes, node_id)
    base = vs_of(meshd)
    meshd.apply(canary_doc(min_requests=TOO_MANY))
    wait_started(meshd)
    seen = set()

    def ended(s):
        seen.add(s.get("weight"))
        return s.get("phase") == "RolledBack"

    status = wait_canary(meshd, "rolled back for too little traffic", ended, timeout=3 * INTERVAL + MARGIN)
    record_result("canary-steps", f"too little traffic: {[(d['decision'], d.get('weight'), d.get('reason')) for d in decisions(status)]}")
    assert decision_names(status) == ["start", "rollback"], dump(status)
    assert seen <= {STEPS[0], 0, None}, f"the weight went past the first step: {seen}"
    reason = decisions(status)[-1].get("reason") or ""
    assert "too little traffic" in reason.lower(), f"the rollback should say too little traffic: {reason!r}"
    assert "minrequests" in reason.lower() or str(TOO_MANY) in reason, f"the rollback should name minRequests: {reason!r}"
    assert vs_of(meshd)["spec"] == base["spec"]
    records = canary_vs_records(meshd)
    assert [r["operation"] for r in records][-1:] == ["rollback"] and len(records) == 2, records
    weights, diff = weight_written(meshd, records[0]["revision"])
    assert 20 in weights and 80 in weights, diff
    assert probe.counts()["failures"] == {}


def test_restart_mid_canary_resumes_at_its_step(meshd_factory, probes, node_id, tmp_path):
    data = tmp_path / "meshd-data"
    data.mkdir()
    meshd, probe = mesh_with_probe(meshd_factory, probes, node_id, data_dir=str(data),
                                   extra_args=["--grpc-port", str(free_port())])
    probes.wait_v2_quiet()
    (tmp_path / "canary.yaml").write_text(canary_doc())
    out = meshctl(meshd, "apply", "-f", tmp_path / "canary.yaml").stdout
    assert "created" in out, out
    wait_started(meshd)
    before = wait_canary(meshd, "the first advance (step 1)", lambda s: s.get("step") == 1 and s.get("weight") == STEPS[1],
                         timeout=2 * INTERVAL + MARGIN)
    assert meshd.stop() == 0, f"meshd did not stop cleanly\n{meshd.tail(40)}"
    meshd.start()

    after = status_of(meshd)
    record_result("canary-steps", f"restart: before {before.get('step')}/{before.get('weight')}, after {after.get('step')}/{after.get('weight')} {after.get('phase')}")
    assert after.get("step", 0) >= 1 and after.get("weight") != STEPS[0], f"reset after a restart: {dump(after)}"
    assert decisions(after)[:len(decisions(before))] == decisions(before), (dump(before), dump(after))
    assert vs_weights(meshd) in ({"v1": 50, "v2": 50}, {"v1": 0, "v2": 100}), vs_weights(meshd)
    status = wait_phase(meshd, "Succeeded", timeout=(len(STEPS) + 1) * INTERVAL + MARGIN)
    record_result("canary-steps", f"restart: decisions {[(d['decision'], d.get('weight')) for d in decisions(status)]}")
    assert decision_names(status).count("start") == 1, dump(status)
    assert decision_names(status) == ["start", "advance", "advance", "complete"], dump(status)
    assert vs_weights(meshd) == {"v1": 0, "v2": 100}
    check_step_history(meshd, list(STEPS), "across a restart")


def etcd_leader(cluster) -> str | None:
    """The value of meshd's singleton election key (`/meshd/leader`) through etcd's JSON gateway."""
    body = json.dumps({"key": base64.b64encode(b"/meshd/leader").decode()}).encode()
    for port in cluster.client_ports:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/kv/range", data=body, method="POST")
            with urllib.request.urlopen(req, timeout=2) as r:
                kvs = json.loads(r.read()).get("kvs") or []
            return base64.b64decode(kvs[0]["value"]).decode() if kvs else None
        except OSError:
            continue
    return None


@pytest.mark.skipif(etcd_bin() is None, reason="etcd not installed (apt-get install etcd-server)")
def test_etcd_failover_of_the_driving_replica(meshd_factory, probes, node_id, etcd_cluster, kek_file):  # noqa: F811
    ports = {"A": free_port(), "B": free_port()}
    replicas = {}
    for name in ("A", "B"):
        replicas[name] = meshd_factory(
            ["--store", etcd_cluster.store_url, "--kek-file", str(kek_file), "--replica-name", name,
             "--grpc-port", str(ports[name]), "--prometheus-url", probes.url], name=name)
    a, b = replicas["A"], replicas["B"]
    applied = a.apply(registry(probes.pipe))
    a.wait_pushed(applied["revision"])
    b.wait_pushed(applied["revision"], timeout=20)
    # The probe's bootstrap names both replicas (pick_first): it follows whichever survives.
    proxy = node_id("probe")
    both = json.dumps({"xds_servers": [{"server_uri": f"ipv4:127.0.0.1:{ports['A']},127.0.0.1:{ports['B']}",
                                        "channel_creds": [{"type": "insecure"}], "server_features": ["xds_v3"]}],
                       "node": {"id": proxy}})
    probe = probes.start(a, proxy, bootstrap_json=both)
    probes.wait_v2_quiet()

    meshctl(b, *start_args())
    wait_started(b)
    wait_canary(b, "the first advance (step 1)", lambda s: s.get("step") == 1, timeout=2 * INTERVAL + MARGIN)
    driver = etcd_leader(etcd_cluster)
    assert driver in replicas, f"the leader key names {driver!r}, not A or B"
    assert "leading singleton work" in replicas[driver].tail(2000), replicas[driver].tail(60)
    survivor_name = "B" if driver == "A" else "A"
    survivor = replicas[survivor_name]
    replicas[driver].kill9()
    record_result("canary-steps", f"etcd: killed the driving replica {driver} at step 1")

    # The lease of the killed replica expires (10 s), the other is elected and drives on.
    status = wait_phase(survivor, "Succeeded", timeout=15 + (len(STEPS) + 1) * INTERVAL + MARGIN)
    record_result("canary-steps", f"etcd: decisions {[(d['decision'], d.get('weight')) for d in decisions(status)]}")
    assert decision_names(status) == ["start", "advance", "advance", "complete"], dump(status)
    assert vs_weights(survivor) == {"v1": 0, "v2": 100}
    assert etcd_leader(etcd_cluster) == survivor_name, f"the leader key names {etcd_leader(etcd_cluster)!r}"
    records = canary_vs_records(survivor)
    assert len(records) == len(STEPS), json.dumps(records, indent=1)
    assert all((r.get("reason") or "").strip() for r in records), records
    assert probe.counts()["failures"] == {}, probe.counts()


def act(meshd, action: str, via: str) -> None:
    """resume / abort / promote through meshctl or POST /api/v1/canaries/default/reviews/ACTION."""
    if via == "meshctl":
        out = meshctl(meshd, "canary", action, NAME)
        record_result("canary-steps", f"meshctl canary {action}: {out.stdout.strip()[:200]}")
        return
    r = post_action(meshd, action)
    assert r.status == 200, f"POST .../{action}: {r.status} {r.text[:2000]}\n{meshd.tail(40)}"
    assert r.json().get("canary", {}).get("metadata", {}).get("name") == NAME, r.text[:2000]


def start_canary(meshd, via: str, steps=STEPS) -> None:
    """`meshctl canary start`, or the Canary document through POST /api/v1/apply."""
    if via == "meshctl":
        meshctl(meshd, *start_args(steps=steps))
    else:
        meshd.apply(canary_doc(steps=steps))


@pytest.mark.parametrize("via", ["meshctl", "api"])
def test_manual_apply_pauses_then_resume_abort_promote(meshd_factory, probes, node_id, via):
    meshd, probe = mesh_with_probe(meshd_factory, probes, node_id)
    probes.wait_v2_quiet()
    base = vs_of(meshd)
    start_canary(meshd, via)
    wait_started(meshd)
    wait_canary(meshd, "the first advance (step 1)", lambda s: s.get("step") == 1, timeout=2 * INTERVAL + MARGIN)

    # A hand-made change to the VirtualService pauses the canary, naming who and which revision.
    manual = meshd.apply(configs.virtual_service({"v1": 70, "v2": 30}))["revision"]
    paused = wait_phase(meshd, "Paused", timeout=INTERVAL + MARGIN)
    pause = decisions(paused)[-1]
    record_result("canary-steps", f"paused: {pause}")
    assert pause["decision"] == "pause", dump(paused)
    assert str(manual) in pause.get("reason", ""), f"the pause should name revision {manual}: {pause}"
    assert "127.0.0.1" in pause.get("reason", ""), f"the pause should name who changed it (loopback 127.0.0.1): {pause}"
    # Paused: nothing is judged or written over the hand-made change.
    time.sleep(INTERVAL + 1)
    still = status_of(meshd)
    assert still["phase"] == "Paused" and decisions(still) == decisions(paused), dump(still)
    assert vs_weights(meshd) == {"v1": 70, "v2": 30}

    # resume: the current step's weights again, its interval restarted.
    act(meshd, "resume", via)
    resumed = wait_canary(meshd, "resumed at step 1", lambda s: s.get("phase") == "Progressing", timeout=MARGIN)
    assert resumed.get("step") == 1 and resumed.get("weight") == STEPS[1], dump(resumed)
    assert resumed.get("stepStartedAt") != paused.get("stepStartedAt"), (dump(paused), dump(resumed))
    wait_for("the VirtualService at step 1's weights again", lambda: vs_weights(meshd) == {"v1": 50, "v2": 50}, timeout=MARGIN)

    # abort: the pre-canary VirtualService, in one rollback revision.
    act(meshd, "abort", via)
    aborted = wait_phase(meshd, "Aborted", timeout=MARGIN)
    assert vs_of(meshd)["spec"] == base["spec"], vs_of(meshd)["spec"]
    last = [r for r in history(meshd) if touches_vs(r)][0]
    assert last["operation"] == "rollback", f"abort should roll back in one revision: {last}"
    record_result("canary-steps", f"aborted: {decisions(aborted)[-1]}")

    # A changed spec starts it again ("one whose spec changed after it finished is started");
    # promote goes straight to 100%.
    start_canary(meshd, via, steps=(25, 50, 100))
    wait_started(meshd, first=25)
    assert vs_weights(meshd) == {"v1": 75, "v2": 25}
    act(meshd, "promote", via)
    wait_for("the VirtualService at 100% v2 after promote", lambda: vs_weights(meshd) == {"v1": 0, "v2": 100}, timeout=MARGIN)
    promoted = wait_canary(meshd, "weight 100 after promote", lambda s: s.get("weight") == 100, timeout=MARGIN)
    record_result("canary-steps", f"promoted: phase {promoted.get('phase')} {decisions(promoted)[-1]}")
    assert promoted.get("phase") not in ("RolledBack", "Aborted", "Failed"), dump(promoted)
    wait_phase(meshd, "Succeeded", timeout=2 * INTERVAL + MARGIN)
    assert vs_weights(meshd) == {"v1": 0, "v2": 100}
    assert probe.counts()["failures"] == {}, probe.counts()


def test_metrics_and_rest_actions(meshd_factory, probes):
    """No traffic needed: a canary watched for 30 s is checked at its first step and aborted
    through the REST action."""
    meshd = meshd_factory(extra_args=["--prometheus-url", probes.url])
    meshd.apply(registry(probes.pipe))
    applied = meshd.apply(canary_doc(interval="30s", min_requests=TOO_MANY))
    assert [r["action"] for r in applied["results"]] == ["created"], applied
    status = wait_started(meshd)

    assert canary_metric(meshd, "meshd_canary_weight") == {(): float(STEPS[0])}, metric_samples(meshd, "meshd_canary_weight")
    phases = canary_metric(meshd, "meshd_canary_phase")
    assert phases.get((("phase", "Progressing"),)) == 1 and sum(phases.values()) == 1, phases
    counts = {dict(k)["decision"]: v for k, v in canary_metric(meshd, "meshd_canary_decisions_total").items()}
    assert counts.get("start") == 1 and sum(counts.values()) == len(decisions(status)), (counts, dump(status))

    listed = meshd.request("GET", "/api/v1/canaries")
    assert listed.status == 200, listed
    items = listed.json()
    items = items.get("items") if isinstance(items, dict) else items
    assert [i["metadata"]["name"] for i in items] == [NAME] and items[0].get("status", {}).get("phase") == "Progressing", items

    # A dry run of promote says what it would change and writes nothing.
    before = meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]["revision"]
    preview = meshd.request("POST", f"/api/v1/canaries/{NS}/{NAME}/promote?dryRun=true", b"{}", "application/json")
    assert preview.status == 200, f"promote?dryRun=true: {preview.status} {preview.text[:1500]}"
    previewed = preview.json()
    assert previewed.get("dryRun") is True and previewed["canary"]["status"]["phase"] == "Succeeded", previewed
    assert {(r["kind"], r["action"]) for r in previewed["results"]} == {("VirtualService", "configured"), ("Canary", "configured")}, previewed
    assert meshd.request("GET", "/api/v1/history?limit=1").json()["items"][0]["revision"] == before
    assert status_of(meshd)["phase"] == "Progressing" and vs_weights(meshd) == {"v1": 100 - STEPS[0], "v2": STEPS[0]}
    out = run_meshctl(meshd.admin_url, "canary", "promote", NAME, "--dry-run").stdout
    assert "(dry run)" in out and status_of(meshd)["phase"] == "Progressing", out

    r = post_action(meshd, "abort")
    assert r.status == 200, f"POST .../abort: {r.status} {r.text[:2000]}\n{meshd.tail(40)}"
    answer = r.json()
    assert answer.get("canary", {}).get("metadata", {}).get("name") == NAME, answer
    status = wait_phase(meshd, "Aborted", timeout=MARGIN)
    assert vs_weights(meshd) == PRE_CANARY
    phases = canary_metric(meshd, "meshd_canary_phase")
    assert phases.get((("phase", "Aborted"),)) == 1 and sum(phases.values()) == 1, phases
    assert canary_metric(meshd, "meshd_canary_weight") == {(): float(status.get("weight", 0))}, (
        metric_samples(meshd, "meshd_canary_weight"), dump(status))
    counts = {dict(k)["decision"]: v for k, v in canary_metric(meshd, "meshd_canary_decisions_total").items()}
    assert sum(counts.values()) == len(decisions(status)), (counts, dump(status))

    # An action on a canary that does not exist.
    assert post_action(meshd, "promote", name="nope").status == 404
    # The answer is an apply's (revision, results) plus `canary`.
    assert "revision" in answer and "results" in answer, f"the answer of an apply plus `canary`: {json.dumps(answer)[:1500]}"


def test_a_canary_document_posted_to_api_v1_apply(meshd_factory):
    """docs/canary-steps.md: a Canary "can be applied like any other (`meshctl apply -f`,
    `POST /api/v1/apply`)"."""
    meshd = meshd_factory(extra_args=["--prometheus-url", f"http://127.0.0.1:{free_port()}"])
    meshd.apply(registry({"v1": free_port(), "v2": free_port()}))
    r = meshd.request("POST", "/api/v1/apply", canary_doc(interval="30s"), "application/yaml")
    assert r.status == 200, (f"POST /api/v1/apply with a Canary (as docs/canary-steps.md names it): {r.status}"
                             f" {r.text[:1000]}")
    wait_started(meshd)
    bad = meshd.request("POST", "/api/v1/apply", canary_doc(extra_analysis="    maxErorRate: 5\n"), "application/yaml")
    assert bad.status == 422 and bad.json()["error"].get("field") == "spec.analysis.maxErorRate", bad
