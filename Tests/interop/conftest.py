"""Fixtures for the meshd interop suite: a real meshd, real gRPC backends, real clients.

Run: /tmp/venv/bin/python -m pytest Tests/interop -q   (MESHD_BIN / MESHCTL_BIN override the
binaries, default .build/debug/{meshd,meshctl}).
On failure, each test's report gets the tail of meshd's log and of every client's stderr.
Numbers worth keeping (traffic split counts...) are printed in an "interop results" section.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ads_client import AdsClient  # noqa: E402
from backend import EchoBackend  # noqa: E402
from delta_client import DeltaClient  # noqa: E402
from client_runner import XdsClientProcess  # noqa: E402
from meshd_process import Meshd  # noqa: E402
from results import RESULTS  # noqa: E402

def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        terminalreporter.section("interop results")
        for test, text in RESULTS:
            terminalreporter.write_line(f"{test}: {text}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for title, source in getattr(item, "_interop_logs", []):
            try:
                report.sections.append((title, source()))
            except Exception as exc:  # never hide the real failure
                report.sections.append((title, f"(could not collect: {exc!r})"))


def _attach(request, title: str, source) -> None:
    if not hasattr(request.node, "_interop_logs"):
        request.node._interop_logs = []
    request.node._interop_logs.append((title, source))


TEST_TIMEOUT = float(os.environ.get("MESHD_INTEROP_TEST_TIMEOUT", "120"))


class InteropTimeout(AssertionError):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Fail (rather than hang) a test body that runs past MESHD_INTEROP_TEST_TIMEOUT seconds.

    Only the call phase is timed, so fixture teardown (stopping meshd, clients) is never cut short.
    """
    if threading.current_thread() is not threading.main_thread() or TEST_TIMEOUT <= 0:
        yield
        return

    def expired(signum, frame):
        raise InteropTimeout(f"{item.nodeid} ran for more than {TEST_TIMEOUT:g}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def node_id(request):
    """A factory of proxy ids unique to this test."""
    base = request.node.name.replace("[", "-").replace("]", "")

    def make(kind: str = "client") -> str:
        return f"{base}-{kind}-{uuid.uuid4().hex[:8]}"

    return make


@pytest.fixture
def meshd(request):
    m = Meshd(name=f"meshd[{request.node.name}]")
    _attach(request, "meshd log", lambda: m.tail(200))
    try:
        m.start()
        yield m
    finally:
        m.close()


@pytest.fixture
def meshd_factory(request):
    """Factory: meshd_factory(extra_args=[...], data_dir=None, start=True) -> a Meshd, closed at teardown."""
    made: list[Meshd] = []

    def make(extra_args=None, data_dir=None, start: bool = True, name: str = "") -> Meshd:
        m = Meshd(data_dir=data_dir, extra_args=extra_args,
                  name=f"meshd{len(made) + 1}{'-' + name if name else ''}[{request.node.name}]")
        made.append(m)
        _attach(request, f"{m.name} log", lambda: m.tail(200))
        return m.start() if start else m

    try:
        yield make
    finally:
        for m in made:
            m.close()


@pytest.fixture
def backends():
    started = {}
    try:
        for name in ("v1", "v2"):
            started[name] = EchoBackend(name).start()
        yield started
    finally:
        for b in started.values():
            b.stop()


@pytest.fixture
def xds_clients(request):
    """Factory: xds_clients(xds_address, node_id) -> a started XdsClientProcess, closed at teardown."""
    made: list[XdsClientProcess] = []

    def make(xds_address: str, node: str, **kw) -> XdsClientProcess:
        c = XdsClientProcess(xds_address, node, **kw)
        made.append(c)
        _attach(request, f"xds client {node} stderr", lambda: c.stderr_tail(100))
        return c

    try:
        yield make
    finally:
        for c in made:
            c.close()


def _stream_clients(request, cls, title: str):
    """A factory of started ADS test clients of `cls`, each closed at teardown."""
    made = []

    def make(xds_address: str, node: str, **kw):
        c = cls(xds_address, node, **kw)
        made.append(c)
        _attach(request, f"{title} {node}", lambda: c.describe(60))
        return c.start()

    try:
        yield make
    finally:
        for c in made:
            c.close()
    # Whatever a test checks, everything meshd sent it must pass the oracle (proto_check).
    problems = [f"{title} {c.node.id}: {p}" for c in made for p in c.problems()]
    if problems:
        pytest.fail("resources the official protos don't know or Envoy's PGV rules refuse:\n" + "\n".join(problems[:40]))


@pytest.fixture
def ads_clients(request):
    """Factory: ads_clients(xds_address, node_id, **kw) -> a started AdsClient, closed at teardown."""
    yield from _stream_clients(request, AdsClient, "ADS client")


@pytest.fixture
def delta_clients(request):
    """Factory: delta_clients(xds_address, node_id, **kw) -> a started DeltaClient, closed at teardown."""
    yield from _stream_clients(request, DeltaClient, "Delta client")
