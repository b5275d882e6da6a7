"""A 3-member etcd cluster on loopback ports in a temporary directory, for the replica tests.

Debian's etcd-server (3.4) is the binary (`ETCD_BIN` overrides). Members can be killed with
SIGKILL and started again on the same data directory and ports. The limits meshd's deploy/
raises (`--max-txn-ops 10000`, `--max-request-bytes` 8 MiB) are raised here too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

START_TIMEOUT = 30.0


def etcd_bin() -> str | None:
    for candidate in (os.environ.get("ETCD_BIN"), "/usr/bin/etcd", "/usr/local/bin/etcd"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("etcd")


def etcd_data_root() -> str | None:
    """/dev/shm when writable ($MESHD_ETCD_TEST_DIR first), else the default temp dir."""
    for candidate in (os.environ.get("MESHD_ETCD_TEST_DIR"), "/dev/shm"):
        if candidate and os.access(candidate, os.W_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdCluster:
    def __init__(self, size: int = 3, extra_args: list[str] | None = None, tls: dict | None = None):
        """`tls`: {"ca", "cert", "key"} (paths) serves clients over TLS and requires a client
        certificate signed by "ca" (etcd's --client-cert-auth)."""
        self.tls = tls
        self.binary = etcd_bin()
        # tmpfs when there is one: etcd fsyncs every write, and on a disk still flushing a
        # fresh build one fsync can stall for seconds (every etcd call timed out at once).
        self.tmp = tempfile.TemporaryDirectory(prefix="meshd-etcd-", dir=etcd_data_root())
        self.size = size
        self.client_ports = [free_port() for _ in range(size)]
        self.peer_ports = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen | None] = [None] * size
        self.logs: list[Path] = [Path(self.tmp.name) / f"m{i}.log" for i in range(size)]
        self.extra_args = extra_args or ["--max-txn-ops", "10000", "--max-request-bytes", str(8 << 20)]
        self.started_once = [False] * size

    @property
    def store_url(self) -> str:
        return "etcd://" + ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def _args(self, i: int) -> list[str]:
        initial = ",".join(f"m{j}=http://127.0.0.1:{self.peer_ports[j]}" for j in range(self.size))
        client = f"{self.scheme}://127.0.0.1:{self.client_ports[i]}"
        peer = f"http://127.0.0.1:{self.peer_ports[i]}"
        return [
            self.binary, "--name", f"m{i}", "--data-dir", str(Path(self.tmp.name) / f"m{i}"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", initial, "--initial-cluster-state", "new",
            "--initial-cluster-token", "meshd-interop",
            # Loopback: elect fast, so a lost leader costs well under a second.
            "--heartbeat-interval", "50", "--election-timeout", "500",
            *self.extra_args,
            *(["--cert-file", str(self.tls["cert"]), "--key-file", str(self.tls["key"]),
                "--trusted-ca-file", str(self.tls["ca"]), "--client-cert-auth"] if self.tls else []),
        ]

    def start_member(self, i: int) -> None:
        log = open(self.logs[i], "ab")
        self.procs[i] = subprocess.Popen(self._args(i), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        log.close()
        self.started_once[i] = True

    def start(self) -> "EtcdCluster":
        for i in range(self.size):
            self.start_member(i)
        self.wait_healthy()
        return self

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs[i] = None

    def restart(self, i: int) -> None:
        self.kill(i)
        self.start_member(i)

    def healthy(self, i: int) -> bool:
        context = None
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.tls["ca"]))
            context.load_cert_chain(str(self.tls["cert"]), str(self.tls["key"]))
        try:
            with urllib.request.urlopen(f"{self.scheme}://127.0.0.1:{self.client_ports[i]}/health", timeout=2,
                                        context=context) as r:
                return json.loads(r.read()).get("health") == "true"
        except (OSError, ValueError):
            return False

    def wait_healthy(self, members: list[int] | None = None, timeout: float = START_TIMEOUT) -> None:
        members = list(range(self.size)) if members is None else members
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.healthy(i) for i in members):
                return
            for i in members:
                proc = self.procs[i]
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"etcd member m{i} exited {proc.returncode}:\n{self.tail(i)}")
            time.sleep(0.1)
        raise AssertionError(f"etcd members {members} not healthy within {timeout}s:\n"
                             + "\n".join(self.tail(i) for i in members))

    def tail(self, i: int, n: int = 20) -> str:
        try:
            lines = self.logs[i].read_text(errors="replace").splitlines()[-n:]
        except OSError:
            return f"(no log for m{i})"
        return f"--- m{i} ---\n" + "\n".join(lines)

    def close(self) -> None:
        for i in range(self.size):
            self.kill(i)
        self.tmp.cleanup()
