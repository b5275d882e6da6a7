"""Headless Chromium for the dashboard tests: Debian's `chromium` driven through its
`chromium-driver` with PyPI's selenium, every call bounded in time.

Nothing here downloads anything: the browser and driver paths are given, so selenium's own
driver manager is never asked.
"""

from __future__ import annotations

import os
import shutil
import time

CHROMIUM = os.environ.get("MESHD_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("MESHD_CHROMEDRIVER", "/usr/bin/chromedriver")
DRIVER_TIMEOUT = 30  # seconds for any one WebDriver command
PAGE_TIMEOUT = 20


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(path) or shutil.which(path)):
            return f"{path} not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "PyPI selenium not installed (pip install -r requirements.txt)"
    return None


def start(width: int = 1400, height: int = 1000):
    """A headless Chromium WebDriver with bounded timeouts."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--disable-extensions", "--no-first-run", "--disable-background-networking",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.command_executor.client_config.timeout = DRIVER_TIMEOUT
    except AttributeError:  # older selenium: the default socket timeout applies
        pass
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    driver.set_script_timeout(DRIVER_TIMEOUT)
    driver.implicitly_wait(0)
    return driver


def wait_for(what: str, probe, timeout: float = 20.0, interval: float = 0.1):
    """Poll `probe()` until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # a node replaced while reading it: read again
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def texts(driver, css: str) -> list[str]:
    """The textContent of every element matching `css` (SVG text included)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.textContent)", css)


def type_token(driver, token: str) -> None:
    """Types `token` into the page's token field and submits it."""
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, "token")
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "token-save").click()
