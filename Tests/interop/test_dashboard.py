"""The dashboard at /ui/ in a real headless browser (Debian's chromium + chromium-driver, PyPI
selenium), against a real meshd with the canary config and a connected grpcio xDS client; and
/api/v1/events on the wire (bounded streams, a clean end at shutdown).

Every wait polls with a deadline; nothing sleeps to assert. The tests write nothing outside
their temporary directories (scripts/dashboard-screenshot.py makes docs/dashboard.png).
"""

from __future__ import annotations

import os
import time

import pytest

import browser
import configs
import scenarios
from event_stream import EventStream
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


def history_rows(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#history tbody tr[data-revision]'), (r) => r.dataset.revision)")


def click_in_row(driver, revision: int, button: str) -> None:
    """Clicks a history row's button; the table is re-rendered on every event, so a button
    replaced between finding and clicking it is found again."""
    from selenium.webdriver.common.by import By

    def click():
        driver.find_element(By.CSS_SELECTOR, f'#history tr[data-revision="{revision}"] button.{button}').click()
        return True

    browser.wait_for(f"a click on {button} of revision {revision}", click)


def accept_confirm(driver) -> None:
    alert = browser.wait_for("the rollback confirmation", lambda: _alert(driver))
    alert.accept()


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
