"""deploy/sidecar/istio-iptables.sh: Istio's traffic capture, applied in a throwaway network
namespace and exercised with real TCP connections.

Two namespaces joined by a veth pair: POD (10.250.0.1, the script applied, "Envoy" listening on
15001 and 15006) and PEER (10.250.0.2, an ordinary server). Listeners read SO_ORIGINAL_DST, so
each assertion is about where a connection landed and which destination it had dialled.
Needs root, `ip netns` and iptables; where the machine refuses any of them the tests skip and
say why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "sidecar" / "istio-iptables.sh"
PROBE = Path(__file__).resolve().parent / "capture_probe.py"
POD_IP, PEER_IP = "10.250.0.1", "10.250.0.2"
PROXY_UID = 1337


def sh(*argv, check: bool = True, timeout: float = 15) -> subprocess.CompletedProcess:
    p = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr}")
    return p


class Namespaces:
    def __init__(self):
        suffix = uuid.uuid4().hex[:6]
        self.pod, self.peer = f"mesh-pod-{suffix}", f"mesh-peer-{suffix}"
        self.procs: list[subprocess.Popen] = []

    def create(self) -> None:
        sh("ip", "netns", "add", self.pod)
        sh("ip", "netns", "add", self.peer)
        veth_pod, veth_peer = f"vp{self.pod[-6:]}", f"vq{self.pod[-6:]}"
        sh("ip", "link", "add", veth_pod, "netns", self.pod, "type", "veth", "peer", "name", veth_peer, "netns", self.peer)
        for ns, dev, ip in ((self.pod, veth_pod, POD_IP), (self.peer, veth_peer, PEER_IP)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")

    def run(self, ns: str, *argv, check: bool = True) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", ns, *argv, check=check)

    def listen(self, ns: str, tag: str, port: int) -> None:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, str(PROBE), "listen", tag, str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.procs.append(proc)
        line = proc.stdout.readline().strip()  # blocks until it listens (or dies)
        assert line == "ready", f"listener {tag}:{port} in {ns} did not start: {line!r} {proc.stderr.read()}"

    def connect(self, ns: str, host: str, port: int, uid: int | None = None) -> dict:
        argv = [sys.executable, str(PROBE), "connect", host, str(port)] + ([str(uid)] if uid is not None else [])
        out = self.run(ns, *argv).stdout.strip()
        return json.loads(out)

    def destroy(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(timeout=5)
        for ns in (self.pod, self.peer):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "traffic capture needs root (network namespaces and iptables); CI runs as root"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install iproute2 iptables)"
    probe = f"mesh-probe-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"this machine refuses network namespaces: {made.stderr.strip()}"
    try:
        nat = subprocess.run(["ip", "netns", "exec", probe, "iptables", "-t", "nat", "-L", "-n"],
                             capture_output=True, text=True)
        if nat.returncode != 0:
            return f"iptables' nat table is not usable here: {nat.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


@pytest.fixture(scope="module")
def capture():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    ns = Namespaces()
    try:
        ns.create()
        ns.run(ns.pod, "sh", str(SCRIPT), "--proxy-uid", str(PROXY_UID),
               "--exclude-outbound-ports", "8081", "--exclude-outbound-cidrs", "10.250.0.128/25")
        ns.listen(ns.pod, "envoy-outbound", 15001)
        ns.listen(ns.pod, "envoy-inbound", 15006)
        ns.listen(ns.pod, "envoy-health", 15021)
        ns.listen(ns.pod, "app", 9080)
        ns.listen(ns.peer, "peer", 8080)
        ns.listen(ns.peer, "peer", 8081)
        yield ns
    finally:
        ns.destroy()


def test_outbound_goes_to_15001_with_the_original_destination(capture):
    answer = capture.connect(capture.pod, PEER_IP, 8080)
    assert answer["tag"] == "envoy-outbound" and answer["redirected"], answer
    assert answer["original_dst"] == f"{PEER_IP}:8080", answer


def test_the_proxy_user_is_not_captured(capture):
    answer = capture.connect(capture.pod, PEER_IP, 8080, uid=PROXY_UID)
    assert answer["tag"] == "peer" and not answer["redirected"], answer


def test_excluded_outbound_ports_are_not_captured(capture):
    answer = capture.connect(capture.pod, PEER_IP, 8081)
    assert answer["tag"] == "peer", answer


def test_loopback_is_not_captured(capture):
    answer = capture.connect(capture.pod, "127.0.0.1", 9080)
    assert answer["tag"] == "app" and not answer["redirected"], answer


def test_inbound_goes_to_15006_with_the_original_destination(capture):
    answer = capture.connect(capture.peer, POD_IP, 9080)
    assert answer["tag"] == "envoy-inbound" and answer["redirected"], answer
    assert answer["original_dst"] == f"{POD_IP}:9080", answer


def test_envoys_own_inbound_ports_are_not_captured(capture):
    answer = capture.connect(capture.peer, POD_IP, 15021)
    assert answer["tag"] == "envoy-health" and not answer["redirected"], answer


def test_the_proxy_calling_its_own_pod_ip_comes_back_as_inbound(capture):
    # Envoy forwarding to the workload by pod IP: routed over lo, turned into inbound traffic.
    answer = capture.connect(capture.pod, POD_IP, 9080, uid=PROXY_UID)
    assert answer["tag"] == "envoy-inbound" and answer["original_dst"] == f"{POD_IP}:9080", answer


def test_clean_removes_every_rule(capture):
    capture.run(capture.pod, "sh", str(SCRIPT), "--clean")
    try:
        rules = capture.run(capture.pod, "iptables", "-t", "nat", "-S").stdout
        assert "ISTIO" not in rules, rules
        answer = capture.connect(capture.pod, PEER_IP, 8080)
        assert answer["tag"] == "peer", answer
    finally:
        capture.run(capture.pod, "sh", str(SCRIPT), "--proxy-uid", str(PROXY_UID),
                    "--exclude-outbound-ports", "8081", "--exclude-outbound-cidrs", "10.250.0.128/25")


def test_bad_input_is_refused_before_any_rule_changes(capture):
    before = capture.run(capture.pod, "iptables", "-t", "nat", "-S").stdout
    bad = capture.run(capture.pod, "sh", str(SCRIPT), "--exclude-outbound-cidrs", "10.0.0/8", check=False)
    assert bad.returncode == 2 and "'10.0.0/8' is not valid" in bad.stderr, bad.stderr
    assert capture.run(capture.pod, "iptables", "-t", "nat", "-S").stdout == before
