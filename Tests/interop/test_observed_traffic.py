"""Observed traffic (issue 28): meshd reads a real Prometheus (`--prometheus-url`) and answers,
per service and destination subset, the request rate, observed share, error rate and p50/p99
(`GET /api/v1/traffic`, `meshctl x traffic`, the dashboard's graph edges).

The pipeline is real and on loopback (observed_pipeline.py): Debian's Prometheus scraping every
second two instrumented grpcio backends (v1, v2: server metrics, target labels app / version /
namespace as their WorkloadEntries carry) and one instrumented proxyless client (CSM-labelled
attempt metrics, from the `com.google.csm.telemetry_labels` meshd puts on its clusters) probing
at RATE RPC/s; meshd serves the canary. The Envoy path reads envoy_stats_exporter.py (no Envoy
binary exists here).

Timing: the issue reads a 30 s window. One test runs two phases on one probe:
- 50/50, read once the window holds PHASE1_SECONDS of traffic (all of it 50/50; shares and error
  rates are ratios, whole or partial window alike; requests per second are not asserted here,
  since a partly filled window lowers a rate over the whole range);
- then 80/20 and v2 failing 30% of its calls, switched together, read once the window holds only
  traffic after the switch (30 s + two scrapes): shares, rates, errors, latency, meshctl and the
  dashboard.
About 70 s in all, instead of three full windows one after another. Waits are for data or for a
window to fill, each bounded; every assertion is on meshd's answers, never on time.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import browser
import configs
from envoy_stats_exporter import ClusterTraffic, expected_quantile, latency_points
from meshd_process import run_meshctl
from observed_pipeline import TrafficPipeline
from prometheus_server import free_port
from results import record_result

HOST = configs.HOST
WINDOW = "30s"
WINDOW_SECONDS = 30
RATE = 80.0             # the probe's RPCs per second (the issue asks for at least 50)
PHASE1_SECONDS = 20     # 1600 RPCs at 50/50: one binomial sigma is 1.25 points, the tolerance 5
SCRAPE_MARGIN = 3.0     # past a full window: the last scrapes, Prometheus' own evaluation
SHARE_TOLERANCE = 5.0
SOURCES = ("client", "destination", "envoy")

ENVOY = {
    configs.cluster("v1"): ClusterTraffic(rps=40, error_percent=0, latency=latency_points(p50=20, p99=200)),
    configs.cluster("v2"): ClusterTraffic(rps=10, error_percent=20, latency=latency_points(p50=40, p99=400)),
}


def attach(request, title: str, source) -> None:
    """Shown in the report when the test fails (conftest's hook reads `_interop_logs`)."""
    if not hasattr(request.node, "_interop_logs"):
        request.node._interop_logs = []
    request.node._interop_logs.append((title, source))


def traffic_raw(meshd, host: str | None = HOST, window: str | None = WINDOW):
    params = []
    if host is not None:
        params.append("host=" + host)
    if window is not None:
        params.append("window=" + window)
    path = "/api/v1/traffic" + ("?" + "&".join(params) if params else "")
    return meshd.request("GET", path, headers={"Authorization": "Bearer " + meshd.admin_token()}, timeout=20)


def traffic(meshd, host: str | None = HOST, window: str | None = WINDOW) -> dict:
    r = traffic_raw(meshd, host, window)
    assert r.status == 200, f"GET /api/v1/traffic host={host} window={window}: {r.status} {r.text[:2000]}\n{meshd.tail(30)}"
    return r.json()


def service_of(answer: dict, host: str = HOST) -> dict:
    found = [s for s in answer.get("services", []) if s.get("host") == host]
    assert len(found) == 1, f"{host} not once in the answer: {json.dumps(answer)[:3000]}"
    return found[0]


def rows_of(service: dict, source: str) -> dict:
    """subset -> row of one source; the source's shape checked on the way."""
    reading = service["sources"][source]
    assert isinstance(reading.get("rows"), list) and isinstance(reading.get("requestsPerSecond"), (int, float)), reading
    rows = {}
    for row in reading["rows"]:
        assert set(row) >= {"subset", "requestsPerSecond", "sharePercent", "errorPercent", "p50Ms", "p99Ms", "weight"}, row
        assert row["subset"] not in rows, f"{source}: subset {row['subset']!r} twice: {reading}"
        rows[row["subset"]] = row
    return rows


def check_shares(service: dict, source: str, weights: dict, what: str) -> dict:
    """The source has a row per weighted subset, its share within SHARE_TOLERANCE of the weight,
    the row's weight the configured one. Returns the rows."""
    rows = rows_of(service, source)
    assert set(rows) >= set(weights), f"{what}: {source} rows {sorted(rows)} lack {sorted(set(weights) - set(rows))}: {service}"
    for subset, weight in weights.items():
        row = rows[subset]
        assert row["weight"] == weight, f"{what}: {source}/{subset} weight {row['weight']}, configured {weight}"
        share = row["sharePercent"]
        assert share is not None and abs(share - weight) <= SHARE_TOLERANCE, (
            f"{what}: {source}/{subset} observed {share}% at weight {weight}% (tolerance {SHARE_TOLERANCE}): {rows}")
    others = {s: r for s, r in rows.items() if s not in weights and (r["requestsPerSecond"] or 0) > 0}
    assert not others, f"{what}: {source} saw traffic to unweighted subsets: {others}"
    return rows


def fmt_rows(service: dict) -> str:
    out = []
    for source in SOURCES:
        rows = service["sources"][source]["rows"]
        out.append(source + ": " + (", ".join(
            f"{r['subset'] or '(none)'} {r['sharePercent']}% {r['requestsPerSecond']} rps {r['errorPercent']}% err"
            f" p50 {r['p50Ms']} p99 {r['p99Ms']} w{r['weight']}" for r in rows) or "no rows"))
    return "; ".join(out)


def meshctl_traffic(meshd, *args, check: bool = True):
    return run_meshctl(meshd.admin_url, "x", "traffic", *args, check=check)


def parse_table(text: str) -> list[dict]:
    """meshctl's left-aligned tables: cells cut at the header's column starts."""
    lines = text.splitlines()
    starts_at = [i for i, line in enumerate(lines) if line.startswith("SOURCE")]
    assert starts_at, f"no SOURCE header in:\n{text}"
    header = lines[starts_at[0]]
    names = header.split()
    offsets = [header.index(n) for n in names]
    rows = []
    for line in lines[starts_at[0] + 1:]:
        if not line.strip() or line.startswith("Note:"):
            break
        cells = [line[a:b].strip() if b is not None else line[a:].strip()
                 for a, b in zip(offsets, offsets[1:] + [None])]
        rows.append(dict(zip(names, cells)))
    return rows


def check_meshctl(meshd, weights: dict, what: str) -> None:
    """The table: a row per source and subset, WEIGHT as configured, OBSERVED near it for the
    gRPC sources; -o json: the API's shape, the same shares within the tolerance."""
    table = meshctl_traffic(meshd, HOST, "--window", WINDOW)
    assert HOST in table.stdout and WINDOW in table.stdout, table.stdout
    rows = parse_table(table.stdout)
    assert list(rows[0]) == ["SOURCE", "SUBSET", "WEIGHT", "OBSERVED", "RPS", "ERRORS", "P50", "P99"], rows[0]
    for source in ("client", "destination"):
        for subset, weight in weights.items():
            found = [r for r in rows if r["SOURCE"] == source and r["SUBSET"] == subset]
            assert len(found) == 1, f"{what}: meshctl has no single {source}/{subset} row:\n{table.stdout}"
            row = found[0]
            assert row["WEIGHT"] == f"{weight}%", f"{what}: {row}\n{table.stdout}"
            assert row["OBSERVED"].endswith("%") and abs(float(row["OBSERVED"][:-1]) - weight) <= SHARE_TOLERANCE, (
                f"{what}: meshctl {source}/{subset} {row['OBSERVED']} at weight {weight}%:\n{table.stdout}")
    envoy = [r for r in rows if r["SOURCE"] == "envoy"]
    assert envoy and all(r["SUBSET"] == "-" for r in envoy), f"{what}: no Envoy series, yet:\n{table.stdout}"
    as_json = json.loads(meshctl_traffic(meshd, HOST, "--window", WINDOW, "-o", "json").stdout)
    assert as_json["window"] == WINDOW
    service = service_of(as_json)
    for source in ("client", "destination"):
        check_shares(service, source, weights, f"{what} (meshctl -o json)")


def wait_for_probe_samples(prom, seconds: int, timeout: float) -> None:
    """Until Prometheus holds `seconds` one-second samples of the client's attempts (bounded)."""
    prom.wait_for(
        f'count_over_time(sum(grpc_client_attempt_duration_seconds_count{{csm_service_name=~"outbound.*"}})[{seconds + 20}s:1s])',
        lambda r: bool(r) and float(r[0]["value"][1]) >= seconds, timeout=timeout,
        what=f"{seconds} s of the probe's samples in Prometheus")


def sleep_until(moment: float) -> None:
    """Waits for a window to fill (a wait, not an assertion), never longer than one window and
    its margin."""
    remaining = min(moment - time.monotonic(), WINDOW_SECONDS + SCRAPE_MARGIN)
    if remaining > 0:
        time.sleep(remaining)


@pytest.fixture
def pipeline(request):
    pipe = TrafficPipeline(fail_percent={"v1": 0, "v2": 0}, clients=1)
    attach(request, "observed-traffic pipeline (Prometheus, backends, client)", pipe.describe)
    try:
        yield pipe.start()
    finally:
        pipe.close()


# ------------------------------------------------------------------------------------ gRPC

def test_observed_shares_follow_the_weights_and_show_v2_failing(meshd_factory, pipeline, node_id):
    meshd = meshd_factory(extra_args=["--prometheus-url", pipeline.prometheus.url])
    ports = pipeline.ports
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], {"v1": 50, "v2": 50}))
    meshd.wait_pushed(applied["revision"])
    proxy = node_id("otel")
    client = pipeline.start_client(meshd.xds_address, proxy, rate=RATE)
    meshd.wait_synced(proxy)
    pipeline.wait_scraped()

    # ---- 50/50: shares from both gRPC sources, the table, the JSON.
    wait_for_probe_samples(pipeline.prometheus, PHASE1_SECONDS, timeout=PHASE1_SECONDS + 20)
    answer = traffic(meshd)
    assert answer["window"] == WINDOW and answer["prometheus"].rstrip("/") == pipeline.prometheus.url, answer
    service = service_of(answer)
    assert service["namespace"] == configs.NAMESPACE and service["weights"] == {"v1": 50, "v2": 50}, service
    counted = client.counts()
    record_result("observed-traffic", f"50/50: {fmt_rows(service)} | probe {counted['counts']} {counted['failures']}")
    rows = {s: check_shares(service, s, {"v1": 50, "v2": 50}, "at 50/50") for s in ("client", "destination")}
    assert rows_of(service, "envoy") == {}, "no Envoy stats are scraped in this test"
    assert counted["failures"] == {}, f"the probe failed RPCs at 50/50: {counted}"
    # The client's reading and the probe's own count are the same RPCs (the window holds them all).
    probe_share = 100 * counted["counts"].get("v1", 0) / max(1, sum(counted["counts"].values()))
    assert abs(rows["client"]["v1"]["sharePercent"] - probe_share) <= 3, (rows["client"], counted)
    for source in ("client", "destination"):
        assert all(r["errorPercent"] == 0 for r in rows[source].values()), rows[source]
    check_meshctl(meshd, {"v1": 50, "v2": 50}, "at 50/50")

    # ---- 80/20, and v2 failing 30% of its calls from the same moment.
    before = meshd.acked_versions(meshd.proxy_status(proxy))
    moved = meshd.apply(configs.virtual_service({"v1": 80, "v2": 20}))
    assert [r["action"] for r in moved["results"]] == ["configured"], moved
    meshd.wait_synced(proxy, changed_from=before)
    pipeline.backends["v2"].set_fail_percent(30)
    switched = time.monotonic()
    sleep_until(switched + WINDOW_SECONDS + SCRAPE_MARGIN)

    answer = traffic(meshd)
    service = service_of(answer)
    counted = client.counts()
    record_result("observed-traffic", f"80/20, v2 failing 30%: {fmt_rows(service)} | probe {counted['counts']} {counted['failures']}")
    assert service["weights"] == {"v1": 80, "v2": 20}, service
    for source in ("client", "destination"):
        rows = check_shares(service, source, {"v1": 80, "v2": 20}, "at 80/20")
        total = service["sources"][source]["requestsPerSecond"]
        assert 0.85 * RATE <= total <= 1.15 * RATE, f"{source}: {total} rps for a {RATE} RPC/s probe: {rows}"
        assert abs(sum(r["requestsPerSecond"] for r in rows.values()) - total) <= 0.01 * total + 0.01, rows
        assert rows["v1"]["errorPercent"] <= 1, f"{source}: v1 never fails: {rows['v1']}"
        assert 20 <= rows["v2"]["errorPercent"] <= 40, f"{source}: v2 fails 30% of its calls: {rows['v2']}"
        for subset, row in rows.items():
            p50, p99 = row["p50Ms"], row["p99Ms"]
            assert p50 is not None and p99 is not None and 0 < p50 <= p99 < 1000, f"{source}/{subset}: {row}"
    assert rows_of(service, "envoy") == {}
    assert set(counted["failures"]) <= {"INTERNAL"}, counted

    # Every service (no host): the same reading of reviews.
    everything = service_of(traffic(meshd, host=None))
    for source in ("client", "destination"):
        check_shares(everything, source, {"v1": 80, "v2": 20}, "at 80/20, all services")
    check_meshctl(meshd, {"v1": 80, "v2": 20}, "at 80/20")
    check_dashboard(meshd, {"v1": 80, "v2": 20})


# ------------------------------------------------------------------------------------ dashboard

def check_dashboard(meshd, weights: dict) -> None:
    """Each edge of reviews shows the configured weight beside the observed share, rps, errors
    and p99, for the source chosen in #traffic-source (headless Chromium). Skipped (with a
    recorded note) only where no browser is installed outside CI."""
    if browser.missing() is not None and not os.environ.get("CI"):
        record_result("observed-traffic", f"dashboard not checked: {browser.missing()}")
        return
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser.start()
    try:
        driver.get(meshd.admin_url + "/ui/")
        browser.wait_for("the dashboard's script to run", lambda: driver.execute_script("return document.readyState") == "complete")
        browser.type_token(driver, meshd.admin_token())
        browser.wait_for("observed traffic on", lambda: "on" in (driver.find_element(By.ID, "traffic-status").get_attribute("class") or "").split())
        for source in ("client", "destination"):
            Select(driver.find_element(By.ID, "traffic-source")).select_by_value(source)

            def edges():
                found = driver.execute_script("""
                    return Array.from(document.querySelectorAll('#graph g.edge[data-host="' + arguments[0] + '"]'), (g) => {
                      const o = g.querySelector('text.observed'), w = g.querySelector('text.weight');
                      return {subset: g.getAttribute('data-subset'), weight: w && w.textContent,
                              source: o && o.getAttribute('data-source'), share: o && o.getAttribute('data-share'),
                              rps: o && o.getAttribute('data-rps'), errors: o && o.getAttribute('data-errors'),
                              p99: o && o.getAttribute('data-p99'), text: o && o.textContent};
                    })""", HOST)
                by_subset = {e["subset"]: e for e in found if e["subset"] in weights}
                ready = len(by_subset) == len(weights) and all(
                    e["source"] == source and e["share"] not in (None, "", "null") for e in by_subset.values())
                return by_subset if ready else None

            shown = browser.wait_for(f"the {source} reading on reviews' edges", edges, timeout=20)
            record_result("observed-traffic", f"dashboard ({source}): " + "; ".join(
                f"{s}: {e['weight']} | {e['text']}" for s, e in sorted(shown.items())))
            for subset, weight in weights.items():
                edge = shown[subset]
                assert edge["weight"] == f"{weight}%", edge
                assert abs(float(edge["share"]) - weight) <= SHARE_TOLERANCE, f"dashboard {source}/{subset}: {edge}"
                assert float(edge["rps"]) > 0 and edge["p99"] not in (None, "", "null"), edge
                assert "rps" in edge["text"] and "p99" in edge["text"] and "err" in edge["text"], edge
            assert float(shown["v1"]["errors"]) <= 1 and 20 <= float(shown["v2"]["errors"]) <= 40, shown
    finally:
        driver.quit()


# ------------------------------------------------------------------------------------ Envoy

def test_observed_traffic_from_envoy_cluster_stats(meshd_factory, request):
    """meshd's `envoy` source over Envoy's cluster stats (envoy_stats_exporter.py): v1 40 rps,
    v2 10 rps with 20% 5xx, latencies as configured, at weights 80/20."""
    pipe = TrafficPipeline(fail_percent={}, clients=0, envoy=ENVOY)
    attach(request, "observed-traffic pipeline (Prometheus, Envoy stats)", pipe.describe)
    try:
        pipe.start()
        meshd = meshd_factory(extra_args=["--prometheus-url", pipe.prometheus.url])
        # The endpoints take no traffic here; the service, its subsets and weights are meshd's.
        applied = meshd.apply(configs.canary(free_port(), free_port(), {"v1": 80, "v2": 20}))
        meshd.wait_pushed(applied["revision"])
        pipe.wait_scraped()
        pipe.prometheus.wait_for(
            'count_over_time(sum(envoy_cluster_upstream_rq_xx)[30s:1s])',
            lambda r: bool(r) and float(r[0]["value"][1]) >= 8, timeout=25, what="8 s of Envoy samples")

        # Shares, 5xx and latency are ratios and quantiles: the 30 s window reads them from
        # whatever part of it holds samples.
        service = service_of(traffic(meshd))
        record_result("observed-traffic", f"envoy {WINDOW}: {fmt_rows(service)}")
        rows = rows_of(service, "envoy")
        assert set(rows) == {"v1", "v2"}, rows
        assert rows_of(service, "client") == {} and rows_of(service, "destination") == {}, service
        for subset, weight in {"v1": 80, "v2": 20}.items():
            configured = ENVOY[configs.cluster(subset)]
            row = rows[subset]
            assert row["weight"] == weight, row
            assert abs(row["sharePercent"] - weight) <= 1, row        # the exporter's rates are exact
            assert abs(row["errorPercent"] - configured.error_percent) <= 1.5, row
            for key, q in (("p50Ms", 0.5), ("p99Ms", 0.99)):
                want = expected_quantile(configured.latency, q)
                assert row[key] is not None and abs(row[key] - want) <= 0.1 * want, f"{subset} {key}: {row[key]}, want {want:.1f}"

        # Rates over a window the samples fill.
        short = service_of(traffic(meshd, window="5s"))
        record_result("observed-traffic", f"envoy 5s: {fmt_rows(short)}")
        rows = rows_of(short, "envoy")
        for subset in ("v1", "v2"):
            configured = ENVOY[configs.cluster(subset)]
            assert abs(rows[subset]["requestsPerSecond"] - configured.rps) <= 0.15 * configured.rps, rows[subset]
        assert abs(short["sources"]["envoy"]["requestsPerSecond"] - 50) <= 7.5, short["sources"]["envoy"]
    finally:
        pipe.close()


# ------------------------------------------------------------------------------------ unavailable

@pytest.mark.parametrize("prometheus", ["none", "unreachable"])
def test_observed_traffic_unavailable(meshd_factory, prometheus):
    """Without --prometheus-url, or with one nobody answers on: 503 naming the reason, meshctl
    exits 1 with it, the rest of the admin API (the overview) unaffected."""
    if prometheus == "none":
        meshd = meshd_factory()
        reason = "--prometheus-url"
    else:
        reason = f"http://127.0.0.1:{free_port()}"   # nothing listens there
        meshd = meshd_factory(extra_args=["--prometheus-url", reason])
    applied = meshd.apply(configs.canary(free_port(), free_port(), {"v1": 50, "v2": 50}))
    meshd.wait_pushed(applied["revision"])

    for host in (HOST, None):
        r = traffic_raw(meshd, host=host)
        assert r.status == 503, f"host={host}: {r.status} {r.text[:1000]}"
        error = r.json().get("error") or {}
        assert error.get("code") == "unavailable" and reason in error.get("message", ""), r.text

    for args in ((HOST,), (HOST, "-o", "json"), ("reviews", "--window", "1m")):
        p = meshctl_traffic(meshd, *args, check=False)
        assert p.returncode == 1, f"meshctl x traffic {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
        assert reason in p.stdout + p.stderr, f"meshctl does not say why:\n{p.stdout}\n{p.stderr}"

    overview = meshd.request("GET", "/api/v1/overview", headers={"Authorization": "Bearer " + meshd.admin_token()})
    assert overview.status == 200, overview
    assert HOST in overview.text

    if prometheus == "none":
        # The window is checked first: a malformed one is the caller's error whatever the server.
        r = traffic_raw(meshd, window="2s")
        assert r.status == 400, r
        assert "2s" in (r.json().get("error") or {}).get("message", ""), r.text
    else:
        # A host meshd does not know is not Prometheus' problem.
        r = traffic_raw(meshd, host="nope.default.svc.cluster.local")
        assert r.status == 404, r
