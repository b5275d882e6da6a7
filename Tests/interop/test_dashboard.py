"""The dashboard at /ui/ in a real headless browser (Debian's chromium + chromium-driver, PyPI
selenium), against a real meshd with the canary config and a connected grpcio xDS client; its
Canaries table following a canary that meshd drives on a fake Prometheus's healthy answers
(started, paused by a manual apply, resumed and aborted through its buttons); and
/api/v1/events on the wire (bounded streams, a clean end at shutdown).

Every wait polls with a deadline; nothing sleeps to assert. The tests write nothing outside
their temporary directories (scripts/dashboard-screenshot.py makes docs/dashboard.png).
"""

from __future__ import annotations

import json
import os
import time

import pytest

import browser
import configs
import scenarios
import test_canary_steps as canaries
import test_gateway_api_mesh as gamma
from event_stream import EventStream
from prometheus_server import free_port
from prometheus_standin import PrometheusStandIn
from results import record_result

HOST = configs.HOST
# Skipped where no browser is installed, but never in CI, which installs it (.ci/run).
needs_browser = pytest.mark.skipif(browser.missing() is not None and not os.environ.get("CI"),
                                   reason=browser.missing() or "")


def edge_weight(driver, subset: str) -> str | None:
    """The weight label on the graph edge from `reviews` to `subset`."""
    found = browser.texts(driver, f'#graph g.edge[data-host="{HOST}"][data-subset="{subset}"] text.weight')
    return found[0] if found else None


def weights_shown(driver, v1: int, v2: int) -> bool:
    return edge_weight(driver, "v1") == f"{v1}%" and edge_weight(driver, "v2") == f"{v2}%"


def open_dashboard(driver, meshd, token: str | None):
    driver.get(meshd.admin_url + "/ui/")
    browser.wait_for("the dashboard's script to run", lambda: driver.execute_script("return document.readyState") == "complete")
    if token is not None:
        browser.type_token(driver, token)
        browser.wait_for("the live event stream", lambda: browser.texts(driver, "#live") == ["live"])


def start_canary(meshd, backends, xds_clients, node_id, weights):
    ports = {n: b.port for n, b in backends.items()}
    applied = meshd.apply(configs.canary(ports["v1"], ports["v2"], weights))
    meshd.wait_pushed(applied["revision"])
    proxy = node_id("grpc")
    client = xds_clients(meshd.xds_address, proxy)
    scenarios.warm_up(client)
    meshd.wait_synced(proxy)
    return applied["revision"], proxy, client


@pytest.fixture
def chromium():
    driver = browser.start()
    try:
        yield driver
    finally:
        driver.quit()


@needs_browser
def test_dashboard_shows_the_mesh_and_follows_an_apply(meshd, backends, xds_clients, node_id, chromium):
    _, proxy, _ = start_canary(meshd, backends, xds_clients, node_id, {"v1": 50, "v2": 50})
    driver = chromium

    # Without the token the page loads but its data calls are refused, and it says so.
    open_dashboard(driver, meshd, token=None)
    browser.wait_for("a 401 shown for the overview", lambda: any(
        "GET /api/v1/overview → 401" in t for t in browser.texts(driver, "#errors .error")))
    assert browser.texts(driver, "#graph g.service") == []

    browser.type_token(driver, meshd.admin_token())
    browser.wait_for("the live event stream", lambda: browser.texts(driver, "#live") == ["live"])
    browser.wait_for("reviews at 50/50 in the graph", lambda: weights_shown(driver, 50, 50))
    assert browser.texts(driver, "#errors .error") == [], "the token clears the 401s"
    assert browser.texts(driver, f'#services article[data-host="{HOST}"] h3') == [HOST]
    health = browser.texts(driver, f'#services article[data-host="{HOST}"] tr[data-workload] td.health')
    assert health == ["HEALTHY", "HEALTHY"], health

    # The connected grpcio client, its kind and its sync state per type.
    row = f'#proxies tr[data-proxy="{proxy}"]'
    browser.wait_for("the grpcio client in the proxies table", lambda: browser.texts(driver, row + " td.node-id") == [proxy])
    assert browser.texts(driver, row + " td:nth-child(2)") == ["proxyless-grpc"]
    states = browser.wait_for("the client's types all SYNCED", lambda: (
        lambda s: s if s and all(x.endswith("SYNCED") for x in s) else None)(browser.texts(driver, row + " .sync")))
    assert {s.split()[0] for s in states} >= {"LDS", "RDS", "CDS", "EDS"}, states

    # An apply through the REST API shows up without a reload (events → refetch).
    before = driver.execute_script("return performance.getEntriesByType('navigation').length")
    started = time.monotonic()
    meshd.apply(configs.virtual_service({"v1": 20, "v2": 80}))
    browser.wait_for("reviews at 20/80 in the graph", lambda: weights_shown(driver, 20, 80))
    record_result("dashboard", f"apply -> page shows 20/80 in {time.monotonic() - started:.2f}s (debounce 100ms)")
    weights = browser.texts(driver, f'#services article[data-host="{HOST}"] li[data-subset] .weight')
    assert weights == ["20%", "80%"], weights
    assert driver.execute_script("return performance.getEntriesByType('navigation').length") == before


@needs_browser
def test_dashboard_shows_a_nack_message_as_text(meshd, backends, ads_clients, node_id, chromium):
    """A proxy's NACK message is the proxy's own text: the page shows it, and never as markup."""
    applied = meshd.apply(configs.canary(backends["v1"].port, backends["v2"].port, {"v1": 50, "v2": 50}))
    meshd.wait_pushed(applied["revision"])
    message = '<img src=x onerror="window.__pwned=1"> route refused by the test proxy'
    proxy = node_id("nacker")
    ads_clients(meshd.xds_address, proxy, reject={"RDS": message})
    driver = chromium
    open_dashboard(driver, meshd, meshd.admin_token())
    row = f'#proxies tr[data-proxy="{proxy}"]'
    shown = browser.wait_for("the NACK in the proxies table", lambda: browser.texts(driver, row + " .nack"))
    assert shown == ["RDS: " + message], shown
    assert driver.execute_script("return document.querySelectorAll('#proxies img').length") == 0
    assert driver.execute_script("return window.__pwned === undefined")
    assert "RDS STALE" in browser.texts(driver, row + " .sync")


def target_weights(driver, host: str = HOST) -> dict:
    """data-target -> weight label of the graph's target edges (routes to other hosts) from `host`."""
    return driver.execute_script("""
        return Object.fromEntries(Array.from(
            document.querySelectorAll('#graph g.edge.target[data-host="' + arguments[0] + '"]'),
            (e) => [e.dataset.target, (e.querySelector('text.weight') || {}).textContent]));""", host)


@needs_browser
def test_dashboard_shows_gateway_routes_and_their_weights(meshd, chromium):
    """A GRPCRoute attached to the Service reviews (GAMMA) names itself in the services list
    instead of a VirtualService, and its weighted backendRefs are the graph's target edges,
    which follow a 50/50 -> 0/100 apply through the event stream without a reload."""
    applied = meshd.apply(configs.join(gamma.services(),
                                       gamma.route("GRPCRoute", {"reviews-v1": 50, "reviews-v2": 50})))
    assert applied["warnings"] == [], applied
    meshd.wait_pushed(applied["revision"])
    gamma.wait_status(meshd, "GRPCRoute", "reviews", gamma.ACCEPTED)
    v1, v2 = (f"{name}.{configs.NAMESPACE}.svc.cluster.local" for name in ("reviews-v1", "reviews-v2"))

    driver = chromium
    open_dashboard(driver, meshd, meshd.admin_token())
    driver.execute_script("window.__sameDocument = true")
    meta = f'#services article[data-host="{HOST}"] p.meta'
    shown = browser.wait_for("the GRPCRoute named on reviews' meta line", lambda: [
        t for t in browser.texts(driver, meta) if "GRPCRoute default/reviews" in t])
    assert "VirtualService" not in shown[0], shown
    browser.wait_for("target edges to reviews-v1 / reviews-v2 at 50%",
                     lambda: target_weights(driver) == {v1: "50%", v2: "50%"})

    started = time.monotonic()
    shifted = meshd.apply(gamma.route("GRPCRoute", {"reviews-v1": 0, "reviews-v2": 100}))
    assert [r["action"] for r in shifted["results"]] == ["configured"], shifted
    try:
        browser.wait_for("target edges at 0% / 100%", lambda: target_weights(driver) == {v1: "0%", v2: "100%"})
    except AssertionError as exc:
        overview = meshd.request("GET", "/api/v1/overview").json()
        reviews = [s for s in overview.get("services", []) if s.get("host") == HOST]
        raise AssertionError(f"{exc}\npage: {target_weights(driver)}, live: {browser.texts(driver, '#live')}, "
                             f"revision {shifted['revision']}\noverview's reviews: {json.dumps(reviews)}") from None
    record_result("dashboard", f"GRPCRoute apply -> page shows 0/100 in {time.monotonic() - started:.2f}s")
    assert "GRPCRoute default/reviews" in browser.texts(driver, meta)[0]
    assert driver.execute_script("return window.__sameDocument === true"), "the page was reloaded"
    assert browser.texts(driver, "#errors .error") == []


def history_rows(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#history tbody tr[data-revision]'), (r) => r.dataset.revision)")


def click(driver, css: str, what: str) -> None:
    """Clicks the element `css` names; the tables are re-rendered on every event, so a button
    replaced between finding and clicking it is found again."""
    from selenium.webdriver.common.by import By

    def attempt():
        driver.find_element(By.CSS_SELECTOR, css).click()
        return True

    browser.wait_for(f"a click on {what}", attempt)


def click_in_row(driver, revision: int, button: str) -> None:
    """Clicks a history row's button."""
    click(driver, f'#history tr[data-revision="{revision}"] button.{button}', f"{button} of revision {revision}")


def accept_confirm(driver) -> str:
    """Accepts the page's window.confirm dialog; returns its text."""
    alert = browser.wait_for("a confirmation dialog", lambda: _alert(driver))
    text = alert.text
    alert.accept()
    return text


def _alert(driver):
    from selenium.common.exceptions import NoAlertPresentException

    try:
        return driver.switch_to.alert
    except NoAlertPresentException:
        return None


def vs_weights(meshd) -> list[int]:
    vs = meshd.get("VirtualService", "default", "reviews")
    return [d["weight"] for d in vs["spec"]["http"][0]["route"]]


@needs_browser
def test_dashboard_diff_and_rollback_need_the_token(meshd, backends, xds_clients, node_id, chromium):
    probe = meshd.request("GET", "/api/v1/history?limit=1")
    if probe.status == 404:
        pytest.skip("GET /api/v1/history, /api/v1/history/diff and POST /api/v1/rollback are not in this build "
                    "(the history branch is not merged)")
    even, proxy, client = start_canary(meshd, backends, xds_clients, node_id, {"v1": 50, "v2": 50})
    shifted = meshd.apply(configs.virtual_service({"v1": 0, "v2": 100}))["revision"]
    meshd.wait_pushed(shifted)
    driver = chromium
    open_dashboard(driver, meshd, meshd.admin_token())
    browser.wait_for("revisions in the history table", lambda: {str(even), str(shifted)} <= set(history_rows(driver)))
    browser.wait_for("reviews at 0/100 in the graph", lambda: weights_shown(driver, 0, 100))

    # The diff view of the shift names the weights that changed.
    click_in_row(driver, shifted, "diff-button")
    browser.wait_for("the diff of the shift", lambda: driver.execute_script(
        "return document.getElementById('diff').dataset.to") == str(shifted))
    removed = " ".join(browser.texts(driver, "#diff .del"))
    added = " ".join(browser.texts(driver, "#diff .add"))
    assert "weight: 50" in removed and "weight: 100" in added, (removed, added)

    # Without the token the rollback is refused, shown, and changes nothing.
    driver.find_element("id", "token-forget").click()
    browser.wait_for("the stream to stop", lambda: browser.texts(driver, "#live") != ["live"])
    revision_before = meshd.push_status()["revision"]
    click_in_row(driver, even, "rollback-button")
    accept_confirm(driver)
    refused = browser.wait_for("the refused rollback shown", lambda: [
        t for t in browser.texts(driver, "#errors .error") if "POST /api/v1/rollback → 401" in t])
    assert "unauthenticated" in refused[0], refused
    assert vs_weights(meshd) == [0, 100]
    assert meshd.push_status()["revision"] == revision_before

    # With the token typed in, the same button restores 50/50, in the store and on the page.
    browser.type_token(driver, meshd.admin_token())
    browser.wait_for("the live event stream", lambda: browser.texts(driver, "#live") == ["live"])
    browser.wait_for("the history re-read", lambda: str(even) in history_rows(driver))
    click_in_row(driver, even, "rollback-button")
    accept_confirm(driver)
    done = browser.wait_for("the rollback notice", lambda: [
        t for t in browser.texts(driver, "#notice .ok") if f"Rolled back to revision {even}" in t])
    assert done
    assert vs_weights(meshd) == [50, 50]
    browser.wait_for("reviews back at 50/50 in the graph", lambda: weights_shown(driver, 50, 50))
    browser.wait_for("the rollback in the history table", lambda: any(
        f"rollback to {even}" in t for t in browser.texts(driver, "#history tbody td:nth-child(4)")))
    meshd.wait_synced(proxy)
    scenarios.warm_up(client)


# ---------------------------------------------------------------- the Canaries table


@pytest.fixture
def fake_prometheus():
    prometheus = PrometheusStandIn([HOST], {"v1": 8.0, "v2": 2.0})
    try:
        yield prometheus
    finally:
        prometheus.close()


CANARY_ROW = f'#canaries tr[data-canary="{configs.NAMESPACE}/reviews"]'


def canary_shown(driver) -> dict | None:
    """The canary's row as the page shows it: phase, cells, decisions (newest first), buttons."""
    return driver.execute_script("""
        const row = document.querySelector(arguments[0]);
        if (!row) return null;
        return {phase: row.dataset.phase, cells: Array.from(row.cells, (c) => c.textContent),
                weight: row.querySelector('.canary-weight').textContent,
                decisions: Array.from(row.querySelectorAll('.decisions .decision'), (d) => d.dataset.decision),
                buttons: Array.from(row.querySelectorAll('.actions button'), (b) => b.className)};""", CANARY_ROW)


def wait_canary_shown(driver, what: str, predicate, timeout: float = 10.0) -> dict:
    return browser.wait_for(what, lambda: (lambda row: row if row and predicate(row) else None)(canary_shown(driver)), timeout=timeout)


@needs_browser
def test_dashboard_canaries_table_follows_and_operates_a_canary(meshd_factory, fake_prometheus, chromium):
    """A canary watched for 60 s (healthy v2 in a fake Prometheus: it stays at its first step)
    in the Canaries table: shown live as it starts, paused by a manual apply (with a notice),
    resumed and aborted through its buttons, the canary's revisions with their reasons in
    History; the page is never reloaded."""
    meshd = meshd_factory(extra_args=["--prometheus-url", fake_prometheus.url])
    applied = meshd.apply(canaries.registry({"v1": free_port(), "v2": free_port()}))
    meshd.wait_pushed(applied["revision"])
    pre_canary = meshd.get("VirtualService", configs.NAMESPACE, "reviews")["spec"]
    assert vs_weights(meshd) == [100, 0], pre_canary
    driver = chromium
    open_dashboard(driver, meshd, meshd.admin_token())
    browser.wait_for("the empty Canaries table", lambda: browser.texts(driver, "#canaries tbody td") == ["no canaries"], timeout=10)
    driver.execute_script("window.__sameDocument = true")

    # Started: Progressing at the first step, the row appearing through the event stream.
    meshd.apply(canaries.canary_doc(interval="60s"))
    started = canaries.wait_started(meshd)
    shown = wait_canary_shown(driver, "the canary Progressing at 20%",
                              lambda r: r["phase"] == "Progressing" and r["weight"] == "20%")
    assert shown["cells"][:5] == [f"{configs.NAMESPACE}/reviews", HOST, "v1 → v2", "Progressing", "1/3"], shown
    assert shown["decisions"] == ["start"] == canaries.decision_names(started), (shown, canaries.dump(started))
    assert shown["buttons"] == ["promote-button", "abort-button"], shown
    assert vs_weights(meshd) == [80, 20]
    browser.wait_for("a notice of the start", lambda: [t for t in browser.texts(driver, "#notice .ok")
                                                       if t.startswith(f"Canary {configs.NAMESPACE}/reviews: start at 20% (Progressing): ")], timeout=10)

    # A manual apply of the VirtualService pauses it: the row turns Paused and a notice says so.
    changed = time.monotonic()
    manual = meshd.apply(configs.virtual_service({"v1": 70, "v2": 30}))["revision"]
    shown = wait_canary_shown(driver, "the canary Paused", lambda r: r["phase"] == "Paused")
    record_result("dashboard", f"canary: manual apply -> row Paused in {time.monotonic() - changed:.2f}s")
    assert shown["decisions"] == ["pause", "start"], shown
    pause = browser.texts(driver, CANARY_ROW + ' .decision[data-decision="pause"]')
    assert len(pause) == 1 and f"revision {manual}" in pause[0], pause
    assert shown["buttons"] == ["resume-button", "promote-button", "abort-button"], shown
    told = browser.wait_for("a notice of the pause", lambda: [
        t for t in browser.texts(driver, "#notice .ok") if t.startswith(f"Canary {configs.NAMESPACE}/reviews: pause")], timeout=10)
    assert f"revision {manual}" in told[0], told
    assert canaries.status_of(meshd)["phase"] == "Paused"
    assert vs_weights(meshd) == [70, 30]

    # Resume (confirmed): Progressing again at the step's weights.
    click(driver, CANARY_ROW + " button.resume-button", "Resume")
    asked = accept_confirm(driver)
    assert asked.startswith(f"Resume canary {configs.NAMESPACE}/reviews"), asked
    shown = wait_canary_shown(driver, "the canary Progressing after Resume",
                              lambda r: r["phase"] == "Progressing" and r["decisions"][:1] == ["resume"])
    assert shown["weight"] == "20%" and shown["buttons"] == ["promote-button", "abort-button"], shown
    browser.wait_for("the VirtualService at 80/20 again", lambda: vs_weights(meshd) == [80, 20], timeout=5)

    # Abort (confirmed): Aborted, no button left, the VirtualService as before the canary.
    click(driver, CANARY_ROW + " button.abort-button", "Abort")
    asked = accept_confirm(driver)
    assert asked.startswith(f"Abort canary {configs.NAMESPACE}/reviews"), asked
    shown = wait_canary_shown(driver, "the canary Aborted", lambda r: r["phase"] == "Aborted")
    status = canaries.status_of(meshd)
    assert status["phase"] == "Aborted", canaries.dump(status)
    assert shown["decisions"] == ["abort", "resume", "pause", "start"] == canaries.decision_names(status)[::-1], (
        shown, canaries.dump(status))
    assert shown["buttons"] == [], shown
    assert meshd.get("VirtualService", configs.NAMESPACE, "reviews")["spec"] == pre_canary
    assert browser.texts(driver, "#errors .error") == [], "every operation succeeded"

    # History: each decision is a revision with the decision's reason, shown beside its changes.
    records = [r for r in canaries.history(meshd, limit=25) if r.get("reason")][::-1]
    assert [r["reason"] for r in records] == [d["reason"] for d in canaries.decisions(status)], (
        f"one revision per decision, with its reason: {json.dumps(records, indent=1)}\n{canaries.dump(status)}")

    def reasons_shown():
        return all(browser.texts(driver, f'#history tr[data-revision="{r["revision"]}"] td:nth-child(5) .reason') == [r["reason"]]
                   for r in records)

    browser.wait_for("the canary's reasons in the history table", reasons_shown, timeout=10)
    assert driver.execute_script("return window.__sameDocument === true"), "the page was reloaded"
    # The canary was judged on the fake's answers all along: asked, never held.
    assert fake_prometheus.queries and "hold" not in canaries.decision_names(status), canaries.dump(status)


# ---------------------------------------------------------------- /api/v1/events on the wire


def test_event_stream_sends_revisions_and_is_bounded(meshd, backends):
    first = EventStream(meshd)
    streams = [first]
    try:
        assert first.status == 200
        assert first.response.getheader("Content-Type").startswith("text/event-stream")
        first.read_until("event: revision")
        applied = meshd.apply(configs.canary(backends["v1"].port, backends["v2"].port, {"v1": 50, "v2": 50}))
        first.read_until(f'data: {{"revision":{applied["revision"]}}}')

        # 64 streams are served; the 65th is refused with 503 and the usual error body.
        while len(streams) < 64:
            stream = EventStream(meshd)
            streams.append(stream)
            assert stream.status == 200, f"stream {len(streams)} refused"
        extra = meshd.request("GET", "/api/v1/events")
        assert extra.status == 503, extra
        assert extra.json()["error"]["code"] == "unavailable"

        # A client that goes away frees its slot at once (the server watches the connection).
        streams.pop().close()
        again = None

        def reopened():
            nonlocal again
            candidate = EventStream(meshd)
            if candidate.status == 200:
                again = candidate
                return True
            candidate.response.read()
            candidate.close()
            return False

        deadline = time.monotonic() + 10
        while not reopened():
            assert time.monotonic() < deadline, "a closed stream's slot was not given back within 10s"
            time.sleep(0.1)
        streams.append(again)
    finally:
        for stream in streams:
            stream.close()


def test_event_stream_ends_cleanly_when_meshd_shuts_down(meshd):
    stream = EventStream(meshd, timeout=15)
    try:
        stream.read_until("event: revision")
        started = time.monotonic()
        code = meshd.stop(timeout=15)
        elapsed = time.monotonic() - started
        assert code == 0, meshd.tail(40)
        # The 10 s shutdown backstop never fires: the stream ends as soon as shutdown starts.
        assert elapsed < 8, f"meshd took {elapsed:.1f}s to stop with an event stream open"
        assert stream.at_eof(timeout=5)
    finally:
        stream.close()
