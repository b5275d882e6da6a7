#!/usr/bin/env python3
"""Takes docs/dashboard.png: a meshd with the canary (reviews v1/v2, 80/20), a second service
and a connected grpcio xDS client, shown by the dashboard in headless Chromium.

Usage (from the repo root, after `swift build`):
    .venv/bin/python scripts/dashboard-screenshot.py [--out docs/dashboard.png]
MESHD_BIN overrides the meshd binary (default .build/debug/meshd), as for the interop tests.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tests" / "interop"))

import browser  # noqa: E402
import configs  # noqa: E402
import scenarios  # noqa: E402
from backend import EchoBackend  # noqa: E402
from client_runner import XdsClientProcess  # noqa: E402
from meshd_process import Meshd  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "docs" / "dashboard.png"))
    args = parser.parse_args()
    if browser.missing():
        print(f"dashboard-screenshot: {browser.missing()}", file=sys.stderr)
        return 1

    backends = [EchoBackend(name).start() for name in ("v1", "v2")]
    meshd = Meshd(name="meshd-screenshot")
    client = None
    driver = None
    try:
        meshd.start()
        meshd.apply(configs.canary(backends[0].port, backends[1].port, {"v1": 50, "v2": 50}))
        meshd.apply(configs.namespaced_service("ratings", "default", backends[0].port))
        revision = meshd.apply(configs.virtual_service({"v1": 80, "v2": 20}))["revision"]
        meshd.wait_pushed(revision)
        client = XdsClientProcess(meshd.xds_address, "reviews-client-7f9c")
        scenarios.warm_up(client)
        meshd.wait_synced("reviews-client-7f9c")

        driver = browser.start(width=1280, height=900)
        driver.get(meshd.admin_url + "/ui/")
        browser.type_token(driver, meshd.admin_token())
        browser.wait_for("the live event stream", lambda: browser.texts(driver, "#live") == ["live"])
        browser.wait_for("the graph", lambda: browser.texts(driver, "#graph text.weight"))
        browser.wait_for("the proxies table", lambda: browser.texts(driver, "#proxies td.node-id"))
        if meshd.request("GET", "/api/v1/history?limit=1").status != 404:
            browser.wait_for("the history table", lambda: browser.texts(driver, "#history tbody tr[data-revision]"))
            # Show the diff of the last change.
            driver.find_element("css selector", f'#history tr[data-revision="{revision}"] button.diff-button').click()
            browser.wait_for("the diff", lambda: browser.texts(driver, "#diff span"))
        # The whole page, not only the window (Chromium's own full-page capture).
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1280, "height": min(height, 4000), "scale": 1}})
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_bytes(base64.b64decode(shot["data"]))
        print(f"dashboard-screenshot: wrote {args.out}")
        return 0
    finally:
        if driver is not None:
            driver.quit()
        if client is not None:
            client.close()
        meshd.close()
        for backend in backends:
            backend.stop()


if __name__ == "__main__":
    sys.exit(main())
