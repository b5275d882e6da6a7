"""Runs a real meshd binary for the interop tests and talks to its admin REST API.

Only the standard library is used for HTTP (urllib / http.client), so the suite needs no
extra dependency beyond requirements.txt.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

XDS_RE = re.compile(r"xds_address=\[?([0-9.:a-fA-F]*?)\]?:(\d+)\b")
ADMIN_RE = re.compile(r"admin_address=\[?([0-9.:a-fA-F]*?)\]?:(\d+)\b")
TLS_RE = re.compile(r"tls_address=\[?([0-9.:a-fA-F]*?)\]?:(\d+)\b")
RENEW_RE = re.compile(r"renew_address=\[?([0-9.:a-fA-F]*?)\]?:(\d+)\b")

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0


def meshd_bin() -> str:
    return os.environ.get("MESHD_BIN", str(REPO_ROOT / ".build" / "debug" / "meshd"))


def meshctl_bin() -> str:
    return os.environ.get("MESHCTL_BIN", str(REPO_ROOT / ".build" / "debug" / "meshctl"))


def mesh_agent_bin() -> str:
    return os.environ.get("MESH_AGENT_BIN", str(REPO_ROOT / ".build" / "debug" / "mesh-agent"))


def launcher(binary: str) -> list[str]:
    """argv prefix to run a binary; a .py "binary" is one of the fake_*.py stand-ins."""
    return [sys.executable, binary] if binary.endswith(".py") else [binary]


class MeshdError(AssertionError):
    """An unexpected answer from meshd; the message carries meshd's log tail."""


def run_tool(binary: str, *args, check: bool = True, timeout: float = 30.0, what: str = "") -> subprocess.CompletedProcess:
    """Run meshctl / mesh-agent (or their fake_*.py stand-ins); text output; raise on failure."""
    if not os.path.exists(binary):
        raise MeshdError(f"{what or binary} not found at {binary}: build it first (swift build) or set its *_BIN variable")
    argv = [*launcher(binary), *map(str, args)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise MeshdError(f"{' '.join(argv)} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def run_meshctl(server_url: str, *args, **kw) -> subprocess.CompletedProcess:
    return run_tool(meshctl_bin(), "--server", server_url, *args, what="meshctl", **kw)


def run_mesh_agent(ca_address: str, root_cert: str | Path, token: str | None, output_dir: str | Path,
                   ttl: str | None = None, server_name: str = "localhost", renew_address: str | None = None,
                   **kw) -> subprocess.CompletedProcess:
    """`mesh-agent --once`: writes output_dir/{cert-chain.pem,key.pem,root-cert.pem}.

    Without a token it can only renew: it presents the certificate already in output_dir on
    meshd's mTLS renewal port (`renew_address`)."""
    args = ["--ca-address", ca_address, "--root-cert", root_cert, "--server-name", server_name,
            "--output-dir", output_dir, "--once"]
    if token is not None:
        args += ["--token", token]
    if renew_address is not None:
        args += ["--renew-address", renew_address]
    if ttl is not None:
        args += ["--ttl", ttl]
    return run_tool(mesh_agent_bin(), *args, what="mesh-agent", **kw)


class HttpResult:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise MeshdError(f"response is not JSON (status {self.status}): {self.text[:2000]!r}") from exc

    def __repr__(self) -> str:
        return f"HttpResult(status={self.status}, body={self.text[:500]!r})"


class Meshd:
    """One meshd process: start, admin API helpers, kill -9, restart, stop.

    All lines meshd writes (stderr and stdout) are kept in `self.lines` so that failures can
    show them; `tail()` gives the last ones.
    """

    def __init__(self, data_dir: str | None = None, extra_args: list[str] | None = None, name: str = "meshd"):
        self.name = name
        self._own_tmp = None
        if data_dir is None:
            self._own_tmp = tempfile.TemporaryDirectory(prefix="meshd-interop-")
            data_dir = self._own_tmp.name
        self.data_dir = data_dir
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self.xds_address: str | None = None
        self.admin_address: str | None = None
        self.tls_address_seen: str | None = None  # from the `tls_address=` log line
        self.renew_address_seen: str | None = None  # from the `renew_address=` log line
        self.generation = 0  # bumped on every (re)start

    # ---------------------------------------------------------------- lifecycle

    def start(self, timeout: float = START_TIMEOUT) -> "Meshd":
        binary = meshd_bin()
        if not os.path.exists(binary):
            raise MeshdError(
                f"meshd binary not found at {binary}: build it first (swift build) or set MESHD_BIN"
            )
        self.generation += 1
        self.xds_address = None
        self.admin_address = None
        self.tls_address_seen = None
        self.renew_address_seen = None
        self._log(f"---- [{self.name}] start #{self.generation} (data dir {self.data_dir}) ----")
        # A .py "binary" is fake_meshd.py, used to debug this suite without meshd.
        args = [
            *launcher(binary),
            "--data-dir", self.data_dir,
            "--grpc-port", "0",
            "--admin-port", "0",
            "--tls-port", "0",
            "--renew-port", "0",
            "--listen-address", "127.0.0.1",
            "--debounce-after", "100ms",
            "--debounce-max", "10s",
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stderr, ""), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stdout, "[stdout] "), daemon=True),
        ]
        for t in self._readers:
            t.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.xds_address and self.admin_address:
                break
            if self.proc.poll() is not None:
                raise MeshdError(
                    f"meshd exited with {self.proc.returncode} before printing its addresses\n{self.tail()}"
                )
            time.sleep(0.02)
        else:
            self.kill9()
            raise MeshdError(f"meshd did not print xds_address=/admin_address= within {timeout}s\n{self.tail()}")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MeshdError(f"meshd exited with {self.proc.returncode} before /ready\n{self.tail()}")
            try:
                r = self.request("GET", "/ready", timeout=2)
                if r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill9()
        raise MeshdError(f"meshd /ready did not return 200 within {timeout}s\n{self.tail()}")

    def _pump(self, stream, prefix: str) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._log(prefix + line)
            if self.xds_address is None:
                m = XDS_RE.search(line)
                if m:
                    self.xds_address = f"{m.group(1) or '127.0.0.1'}:{m.group(2)}"
            if self.admin_address is None:
                m = ADMIN_RE.search(line)
                if m:
                    self.admin_address = f"{m.group(1) or '127.0.0.1'}:{m.group(2)}"
            if self.tls_address_seen is None:
                m = TLS_RE.search(line)
                if m:
                    self.tls_address_seen = f"{m.group(1) or '127.0.0.1'}:{m.group(2)}"
            if self.renew_address_seen is None:
                m = RENEW_RE.search(line)
                if m:
                    self.renew_address_seen = f"{m.group(1) or '127.0.0.1'}:{m.group(2)}"
        stream.close()

    def _log(self, line: str) -> None:
        with self._lines_lock:
            self.lines.append(line)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL meshd (no chance to flush or shut down) and wait for it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT)
        self._join_readers()
        self._log(f"---- [{self.name}] killed -9 (exit {self.proc.returncode}) ----")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not exit in time. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._log(f"---- [{self.name}] did not exit {timeout}s after SIGTERM: SIGKILL ----")
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
        self._join_readers()
        self._log(f"---- [{self.name}] stopped (exit {self.proc.returncode}) ----")
        return self.proc.returncode

    def restart(self) -> "Meshd":
        """Start again on the same data dir (new ports). Stops gracefully first if still running."""
        if self.running:
            self.stop()
        return self.start()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            if self._own_tmp is not None:
                self._own_tmp.cleanup()
                self._own_tmp = None

    def _join_readers(self) -> None:
        for t in self._readers:
            t.join(timeout=2)

    def tail(self, n: int = 80) -> str:
        with self._lines_lock:
            lines = self.lines[-n:]
        return f"---- last {len(lines)} lines of {self.name} output ----\n" + "\n".join(lines)

    # ---------------------------------------------------------------- HTTP

    @property
    def admin_url(self) -> str:
        return f"http://{self.admin_address}"

    @property
    def xds_port(self) -> int:
        return int(self.xds_address.rsplit(":", 1)[1])

    def request(self, method: str, path: str, body: bytes | str | None = None,
                content_type: str | None = None, timeout: float = HTTP_TIMEOUT,
                headers: dict | None = None, source_address: str | None = None) -> HttpResult:
        """One admin API call. source_address: the local IP to connect from (e.g. "127.0.0.2",
        to be a caller outside --admin-trusted-addresses while meshd listens on 127.0.0.1)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if source_address is not None:
            return self._request_from(source_address, method, path, body, content_type, timeout, headers)
        req = urllib.request.Request(self.admin_url + path, data=body, method=method)
        if content_type:
            req.add_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return HttpResult(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return HttpResult(err.code, dict(err.headers or {}), err.read() or b"")

    def _request_from(self, source: str, method: str, path: str, body: bytes | None,
                      content_type: str | None, timeout: float, headers: dict | None) -> HttpResult:
        host, port = self.admin_address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout, source_address=(source, 0))
        try:
            hdrs = dict(headers or {})
            if content_type:
                hdrs["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return HttpResult(resp.status, dict(resp.headers), resp.read())
        finally:
            conn.close()

    def request_large(self, method: str, path: str, body: bytes, content_type: str,
                      timeout: float = HTTP_TIMEOUT) -> HttpResult:
        """Like request(), but tolerates the server answering (and closing) before the whole
        body is sent, as a server enforcing a body limit may do."""
        host, port = self.admin_address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.putrequest(method, path)
            conn.putheader("Content-Type", content_type)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            send_error = None
            try:
                view = memoryview(body)
                for i in range(0, len(body), 64 * 1024):
                    conn.send(view[i:i + 64 * 1024])
            except (BrokenPipeError, ConnectionResetError) as exc:
                send_error = exc
            try:
                resp = conn.getresponse()
                return HttpResult(resp.status, dict(resp.headers), resp.read())
            except (ConnectionResetError, http.client.RemoteDisconnected) as exc:
                raise MeshdError(
                    f"no HTTP answer to a {len(body)}-byte {method} {path}: {exc!r}"
                    f" (while sending: {send_error!r})\n{self.tail()}"
                ) from exc
        finally:
            conn.close()

    def _expect(self, r: HttpResult, status: int, what: str) -> HttpResult:
        if r.status != status:
            raise MeshdError(f"{what}: expected HTTP {status}, got {r.status}: {r.text[:3000]}\n{self.tail(40)}")
        return r

    # ---------------------------------------------------------------- admin API

    def apply_raw(self, text: str | bytes, content_type: str = "application/yaml") -> HttpResult:
        return self.request("POST", "/api/v1/apply", text, content_type)

    def apply(self, text: str, content_type: str = "application/yaml") -> dict:
        """POST /api/v1/apply and expect 200; returns the JSON answer (revision, results)."""
        return self._expect(self.apply_raw(text, content_type), 200, "apply").json()

    def delete(self, text: str, content_type: str = "application/yaml") -> dict:
        r = self.request("POST", "/api/v1/delete", text, content_type)
        return self._expect(r, 200, "delete").json()

    def delete_resource(self, kind: str, namespace: str, name: str) -> HttpResult:
        return self.request("DELETE", f"/api/v1/config/{kind}/{namespace}/{name}")

    def get_raw(self, kind: str, namespace: str | None = None, name: str | None = None) -> HttpResult:
        if name is not None:
            return self.request("GET", f"/api/v1/config/{kind}/{namespace}/{name}")
        query = "" if namespace is None else "?" + urllib.parse.urlencode({"namespace": namespace})
        return self.request("GET", f"/api/v1/config/{kind}{query}")

    def get(self, kind: str, namespace: str | None = None, name: str | None = None):
        """GET one resource (name given) or the list {"items": [...]}; expects 200."""
        return self._expect(self.get_raw(kind, namespace, name), 200, f"get {kind} {namespace}/{name}").json()

    def syncz(self) -> list:
        return self._expect(self.request("GET", "/debug/syncz"), 200, "syncz").json()

    def push_status(self) -> dict:
        return self._expect(self.request("GET", "/debug/push_status"), 200, "push_status").json()

    def metrics(self) -> str:
        return self._expect(self.request("GET", "/metrics"), 200, "metrics").text

    def metric_value(self, name: str) -> float | None:
        """The value of a metric with a single sample (a gauge); None when absent."""
        pattern = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)")
        for line in self.metrics().splitlines():
            m = pattern.match(line)
            if m:
                return float(m.group(2))
        return None

    def metric_sum(self, name: str) -> float:
        """Sum of all samples of a Prometheus metric (all label sets); 0 when absent."""
        total = 0.0
        pattern = re.compile(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)")
        for line in self.metrics().splitlines():
            m = pattern.match(line)
            if m:
                total += float(m.group(2))
        return total

    # ---------------------------------------------------------------- CA, tokens, TLS port

    @property
    def tls_address(self) -> str:
        """The TLS (ADS + CA) address from meshd's `tls_address=` log line; waits a little for it."""
        deadline = time.monotonic() + 5
        while self.tls_address_seen is None and time.monotonic() < deadline and self.running:
            time.sleep(0.02)
        if self.tls_address_seen is None:
            raise MeshdError(f"meshd printed no tls_address= line\n{self.tail(40)}")
        return self.tls_address_seen

    @property
    def renew_address(self) -> str:
        """The mTLS renewal address from meshd's `renew_address=` log line; waits a little for it."""
        deadline = time.monotonic() + 5
        while self.renew_address_seen is None and time.monotonic() < deadline and self.running:
            time.sleep(0.02)
        if self.renew_address_seen is None:
            raise MeshdError(f"meshd printed no renew_address= line\n{self.tail(40)}")
        return self.renew_address_seen

    @property
    def tls_port(self) -> int:
        return int(self.tls_address.rsplit(":", 1)[1])

    def ca_root(self) -> str:
        """GET /api/v1/ca/root: the root certificate PEM (text/plain, or a JSON object holding it)."""
        r = self._expect(self.request("GET", "/api/v1/ca/root"), 200, "GET /api/v1/ca/root")
        text = r.text
        if text.lstrip().startswith("{"):
            values = [v for v in r.json().values() if isinstance(v, str) and "BEGIN CERTIFICATE" in v]
            if len(values) != 1:
                raise MeshdError(f"/api/v1/ca/root: JSON without one PEM value: {text[:2000]}")
            text = values[0]
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise MeshdError(f"/api/v1/ca/root is not a PEM certificate: {text[:2000]!r}")
        return text

    def create_token_raw(self, namespace: str, service_account: str, ttl: str | None = "24h",
                         with_admin_token: bool = True, **kw) -> HttpResult:
        """POST /api/v1/tokens; minting needs the admin token even from loopback, so it is sent
        unless with_admin_token=False."""
        body = {"namespace": namespace, "serviceAccount": service_account}
        if ttl is not None:
            body["ttl"] = ttl
        if with_admin_token:
            kw["headers"] = {"Authorization": "Bearer " + self.admin_token(), **(kw.get("headers") or {})}
        return self.request("POST", "/api/v1/tokens", json.dumps(body), "application/json", **kw)

    def create_token(self, namespace: str, service_account: str, ttl: str | None = "24h") -> str:
        """POST /api/v1/tokens (with the admin token) -> the JWT for namespace/serviceAccount."""
        r = self.create_token_raw(namespace, service_account, ttl)
        if not 200 <= r.status < 300:
            raise MeshdError(f"POST /api/v1/tokens: HTTP {r.status}: {r.text[:2000]}\n{self.tail(40)}")
        token = r.json().get("token")
        if not isinstance(token, str) or token.count(".") != 2:
            raise MeshdError(f"POST /api/v1/tokens: no JWT in {r.text[:2000]}")
        return token

    def data_path(self, *parts: str) -> Path:
        return Path(self.data_dir, *parts)

    def admin_token(self) -> str:
        """The contents of DATA_DIR/admin-token (what a caller outside the trusted addresses sends)."""
        return self.data_path("admin-token").read_text().strip()

    # ---------------------------------------------------------------- waiting

    def wait_pushed(self, revision: int, timeout: float = 10.0) -> dict:
        """Wait until the published PushContext was built from store revision >= `revision`."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.push_status()
            if int(last.get("revision", -1)) >= revision:
                return last
            time.sleep(0.05)
        raise MeshdError(f"push_status.revision did not reach {revision} in {timeout}s: {last}\n{self.tail(40)}")

    def proxy_status(self, proxy_id: str) -> dict | None:
        """The /debug/syncz entry of a proxy (the newest connection if it has several)."""
        matches = [e for e in self.syncz() if e.get("proxyID") == proxy_id]
        if not matches:
            return None
        return max(matches, key=lambda e: str(e.get("connectedAt", "")))

    @staticmethod
    def acked_versions(entry: dict | None) -> dict:
        if not entry:
            return {}
        return {t: (v or {}).get("ackedVersion") for t, v in (entry.get("types") or {}).items()}

    def wait_synced(self, proxy_id: str, changed_from: dict | None = None, timeout: float = 15.0) -> dict:
        """Wait until /debug/syncz shows `proxy_id` with synced == true.

        With `changed_from` (a previous `acked_versions(...)`), also wait until at least one
        type's acked version differs from it: right after an apply, the proxy is still "synced"
        to the old config until the debounced push goes out, so synced alone proves nothing.
        """
        deadline = time.monotonic() + timeout
        entry = None
        while time.monotonic() < deadline:
            entry = self.proxy_status(proxy_id)
            if entry and entry.get("synced") is True:
                if changed_from is None or self.acked_versions(entry) != changed_from:
                    return entry
            time.sleep(0.03)
        raise MeshdError(
            f"proxy {proxy_id!r} not synced{' to a new version' if changed_from is not None else ''}"
            f" within {timeout}s; last syncz entry: {json.dumps(entry, indent=1)}"
            f"\nall proxies: {[e.get('proxyID') for e in self.syncz()]}\n{self.tail(40)}"
        )
