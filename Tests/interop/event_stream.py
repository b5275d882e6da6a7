"""A raw client of meshd's /api/v1/events (server-sent events), for the dashboard tests."""

from __future__ import annotations

import http.client
import time


class EventStream:
    """One raw /api/v1/events connection (from loopback, no browser headers: no token needed)."""

    def __init__(self, meshd, timeout: float = 10.0):
        host, port = meshd.admin_address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.conn.request("GET", "/api/v1/events", headers={"Accept": "text/event-stream"})
        self.response = self.conn.getresponse()
        self.status = self.response.status

    def read_until(self, needle: str, timeout: float = 10.0) -> str:
        text = ""
        deadline = time.monotonic() + timeout
        while needle not in text:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} on the event stream in {timeout}s: {text!r}")
            line = self.response.fp.readline()
            if not line:
                raise AssertionError(f"event stream ended before {needle!r}: {text!r}")
            text += line.decode()
        return text

    def at_eof(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not self.response.fp.readline():
                    return True
            except (OSError, http.client.HTTPException):
                return True
        return False

    def close(self) -> None:
        self.conn.close()
