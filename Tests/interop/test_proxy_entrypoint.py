"""deploy/proxy/mesh-proxy.sh, the entrypoint of the injected `istio-proxy` container
(docs/injection.md), run for real with bash.

- `render`: the real meshctl (MESHCTL_BIN) turns the pod's environment into a bootstrap that
  decodes as envoy.config.bootstrap.v3.Bootstrap with xds-protos (unknown fields refused) and
  passes Envoy's PGV rules (proto_check), with Istio's node id, the pod's metadata, meshd's xDS
  address with TLS SNI and SAN for MESH_SERVER_NAME, and the SDS socket; a missing variable is
  exit 2 naming it, before meshctl runs.
- Supervision, with stub executables (shell scripts in tmp_path passed as MESH_AGENT_BIN /
  ENVOY_BIN / MESHCTL_BIN): the agent's flags, Envoy started once the SDS socket exists and with
  the sidecar's flags; either exiting stops the other and its status is the script's; SIGTERM
  drains Envoy's inbound listeners over its admin API (a stand-in HTTP server) and then reaches
  Envoy and the agent, in that order; a stub ignoring SIGTERM is killed after
  MESH_PROXY_STOP_TIMEOUT.
- End to end with a real meshd, meshctl and mesh-agent (Envoy a stub: there is none here): the
  agent the script starts gets the workload certificate from meshd's CA and serves its socket.
Every subprocess call and wait is bounded.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from google.protobuf import json_format

from ca_tools import cert_sans, spiffe_id, split_pem
from meshd_process import mesh_agent_bin, meshctl_bin
from proto_check import unpack
from test_envoy_bootstrap import clusters, decode  # the oracle: xds-protos, then PGV

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "proxy" / "mesh-proxy.sh"
BASH = shutil.which("bash") or "/bin/bash"

# What the injector sets for reviews-v1 in bookinfo (docs/injection.md's table).
POD_ENV = {
    "POD_NAME": "reviews-v1-7f9d",
    "POD_NAMESPACE": "bookinfo",
    "INSTANCE_IP": "10.1.2.3",
    "SERVICE_ACCOUNT": "bookinfo-reviews",
    "MESH_POD_LABELS": "app=reviews,security.istio.io/tlsMode=istio,service.istio.io/canonical-name=reviews,version=v1",
    "MESH_DISCOVERY_ADDRESS": "meshd.mesh-system.svc:15013",
    "MESH_CA_ADDRESS": "meshd.mesh-system.svc:15012",
    "MESH_SERVER_NAME": "meshd.mesh-system.svc",
    "ISTIO_META_CLUSTER_ID": "Kubernetes",
    "MESH_CLUSTER_DOMAIN": "cluster.local",
}
REQUIRED = ["POD_NAME", "POD_NAMESPACE", "INSTANCE_IP", "MESH_DISCOVERY_ADDRESS", "MESH_CA_ADDRESS", "MESH_SERVER_NAME"]
NODE_ID = "sidecar~10.1.2.3~reviews-v1-7f9d.bookinfo~bookinfo.svc.cluster.local"
DEFAULT_SOCKET = "/var/run/secrets/workload-spiffe-uds/socket"


def script_env(**overrides) -> dict:
    """A clean environment (nothing inherited but PATH): the pod's, then `overrides` (None unsets)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **POD_ENV}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def run_script(*args, env: dict, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(SCRIPT), *args], env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def meshctl() -> str:
    binary = meshctl_bin()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"meshctl binary not found at {binary}: build it first (swift build) or set MESHCTL_BIN")
    return binary


def endpoint_address(cluster):
    return cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address


# ----------------------------------------------------------------------------------- render


def test_render_is_the_pods_bootstrap(meshctl):
    p = run_script("render", env=script_env(MESHCTL_BIN=meshctl))
    assert p.returncode == 0, p.stderr
    b = decode(p.stdout)

    assert b.node.id == NODE_ID
    assert b.node.cluster == "reviews.bookinfo"
    meta = json_format.MessageToDict(b.node.metadata)
    assert meta["NAMESPACE"] == "bookinfo"
    assert meta["INSTANCE_IPS"] == "10.1.2.3"
    assert meta["CLUSTER_ID"] == "Kubernetes"
    assert meta["POD_NAME"] == "reviews-v1-7f9d"
    assert meta["LABELS"] == {
        "app": "reviews", "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": "reviews",
        "version": "v1",
    }

    ads = b.dynamic_resources.ads_config
    assert ads.api_type == ads.DELTA_GRPC and ads.grpc_services[0].envoy_grpc.cluster_name == "xds-grpc"

    xds, sds = clusters(b)["xds-grpc"], clusters(b)["sds-grpc"]
    address = endpoint_address(xds).socket_address
    assert (address.address, address.port_value) == ("meshd.mesh-system.svc", 15013)
    assert xds.type == xds.STRICT_DNS
    tls = unpack(xds.transport_socket.typed_config)
    assert tls.sni == "meshd.mesh-system.svc"
    common = tls.common_tls_context
    sans = common.combined_validation_context.default_validation_context.match_typed_subject_alt_names
    assert [(san.san_type, san.matcher.exact) for san in sans] == [(sans[0].DNS, "meshd.mesh-system.svc")]
    assert common.combined_validation_context.validation_context_sds_secret_config.name == "ROOTCA"
    assert [c.name for c in common.tls_certificate_sds_secret_configs] == ["default"]
    for config in (common.tls_certificate_sds_secret_configs[0],
                   common.combined_validation_context.validation_context_sds_secret_config):
        assert config.sds_config.api_config_source.grpc_services[0].envoy_grpc.cluster_name == "sds-grpc"
    assert endpoint_address(sds).pipe.path == DEFAULT_SOCKET


def test_render_defaults_and_overrides(meshctl):
    """Cluster id and domain default to Kubernetes / cluster.local; an IPv6 pod, no labels, an IP
    discovery address, another cluster and domain, and the socket path (MESH_SDS_SOCKET) follow."""
    p = run_script("render", env=script_env(MESHCTL_BIN=meshctl, ISTIO_META_CLUSTER_ID=None, MESH_CLUSTER_DOMAIN=None))
    assert p.returncode == 0, p.stderr
    b = decode(p.stdout)
    assert b.node.id == NODE_ID
    assert json_format.MessageToDict(b.node.metadata)["CLUSTER_ID"] == "Kubernetes"

    p = run_script("render", env=script_env(
        MESHCTL_BIN=meshctl, INSTANCE_IP="fd00:10::7", MESH_POD_LABELS="", ISTIO_META_CLUSTER_ID="east",
        MESH_CLUSTER_DOMAIN="corp.example", MESH_DISCOVERY_ADDRESS="10.96.0.10:15013",
        MESH_SDS_SOCKET="/run/mesh/sds.sock"))
    assert p.returncode == 0, p.stderr
    b = decode(p.stdout)
    assert b.node.id == "sidecar~fd00:10::7~reviews-v1-7f9d.bookinfo~bookinfo.svc.corp.example"
    meta = json_format.MessageToDict(b.node.metadata)
    assert (meta["CLUSTER_ID"], meta["INSTANCE_IPS"]) == ("east", "fd00:10::7")
    assert meta.get("LABELS", {}) == {}
    xds = clusters(b)["xds-grpc"]
    assert xds.type == xds.STATIC
    address = endpoint_address(xds).socket_address
    assert (address.address, address.port_value) == ("10.96.0.10", 15013)
    assert unpack(xds.transport_socket.typed_config).sni == "meshd.mesh-system.svc"
    assert endpoint_address(clusters(b)["sds-grpc"]).pipe.path == "/run/mesh/sds.sock"


@pytest.mark.parametrize("variable", REQUIRED)
@pytest.mark.parametrize("how", ["unset", "empty"])
def test_a_missing_variable_is_exit_2_naming_it(tmp_path, variable, how):
    ran = tmp_path / "meshctl-ran"
    meshctl = tmp_path / "meshctl"
    meshctl.write_text(f"#!/bin/sh\ntouch '{ran}'\n")
    meshctl.chmod(0o755)
    for mode in (["render"], []):  # rendering and running check the same environment
        p = run_script(*mode, env=script_env(MESHCTL_BIN=meshctl, **{variable: None if how == "unset" else ""}))
        assert p.returncode == 2, (mode, p.returncode, p.stderr)
        assert p.stdout == ""
        assert "missing required environment variable" in p.stderr and variable in p.stderr, p.stderr
    assert not ran.exists(), "meshctl ran although the environment was incomplete"


def test_every_missing_variable_is_named_at_once():
    p = run_script("render", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert p.returncode == 2
    named = p.stderr.split("variable(s):", 1)[1].split("(", 1)[0].split()
    assert named == REQUIRED, p.stderr


def test_meshctls_refusal_is_passed_on(meshctl):
    p = run_script("render", env=script_env(MESHCTL_BIN=meshctl, INSTANCE_IP="not-an-ip"))
    assert p.returncode != 0 and p.stdout == ""
    assert "is not an Envoy proxy id" in p.stderr and "not-an-ip" in p.stderr, p.stderr


@pytest.mark.parametrize("args, why", [
    (["bogus"], "unknown argument 'bogus'"),
    (["render", "x"], "render takes no arguments"),
])
def test_bad_arguments_are_exit_2(args, why):
    p = run_script(*args, env=script_env())
    assert p.returncode == 2 and why in p.stderr, p.stderr


def test_a_bad_number_is_exit_2():
    p = run_script("render", env=script_env(MESH_PROXY_DRAIN_SECONDS="5s"))
    assert p.returncode == 2 and "MESH_PROXY_DRAIN_SECONDS=5s" in p.stderr, p.stderr


# ------------------------------------------------------------------------------ supervision

# Stubs standing in for mesh-agent and Envoy: each records its argv and pid, appends what
# happens to it to $STUB_DIR/events, and answers SIGTERM by recording it and exiting 0. The
# agent binds a Unix socket at its --sds-socket (after a short delay, so Envoy's start has to
# wait for it); STUB_AGENT_EXIT / STUB_ENVOY_EXIT make one exit with that status once both run.
STUB_AGENT = r"""#!/bin/sh
d=$STUB_DIR
printf '%s\n' "$@" > "$d/mesh-agent.argv"
echo $$ > "$d/mesh-agent.pid"
trap 'echo "mesh-agent TERM" >> "$d/events"; exit 0' TERM
if [ -n "${STUB_AGENT_FAIL_AT_START:-}" ]; then
    echo "mesh-agent failed" >> "$d/events"; exit "$STUB_AGENT_FAIL_AT_START"
fi
sock=""; prev=""
for a in "$@"; do [ "$prev" = "--sds-socket" ] && sock=$a; prev=$a; done
sleep 0.3
"$STUB_PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
echo "mesh-agent serving" >> "$d/events"
while :; do
    if [ -n "${STUB_AGENT_EXIT:-}" ] && grep -q "^envoy started" "$d/events"; then
        echo "mesh-agent exits $STUB_AGENT_EXIT" >> "$d/events"; exit "$STUB_AGENT_EXIT"
    fi
    sleep 0.1
done
"""

STUB_ENVOY = r"""#!/bin/sh
d=$STUB_DIR
printf '%s\n' "$@" > "$d/envoy.argv"
echo $$ > "$d/envoy.pid"
if [ -n "${STUB_ENVOY_IGNORES_TERM:-}" ]; then
    trap 'echo "envoy TERM ignored" >> "$d/events"' TERM
else
    trap 'echo "envoy TERM" >> "$d/events"; exit 0' TERM
fi
if [ -S "$MESH_SDS_SOCKET" ]; then echo "envoy saw the socket" >> "$d/events"; fi
echo "envoy started" >> "$d/events"
n=0
while :; do
    if [ -n "${STUB_ENVOY_EXIT:-}" ] && [ "$n" -ge 3 ]; then
        echo "envoy exits $STUB_ENVOY_EXIT" >> "$d/events"; exit "$STUB_ENVOY_EXIT"
    fi
    sleep 0.1
    n=$((n + 1))
done
"""

STUB_MESHCTL = r"""#!/bin/sh
printf '%s\n' "$@" > "$STUB_DIR/meshctl.argv"
echo '{"stub": true}'
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, proxy=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout:g}s" + (f"\n{proxy.describe()}" if proxy else ""))


class Proxy:
    """mesh-proxy.sh run in the background with stubs; its own process group, killed at close."""

    def __init__(self, tmp_path: Path, meshctl: str | None = None, agent: str | None = None, **env):
        self.dir = tmp_path
        self.stubs = tmp_path / "stubs"
        self.stubs.mkdir(exist_ok=True)
        for name, text in (("mesh-agent", STUB_AGENT), ("envoy", STUB_ENVOY), ("meshctl", STUB_MESHCTL)):
            (self.stubs / name).write_text(text)
            (self.stubs / name).chmod(0o755)
        self.events_file = tmp_path / "events"
        self.events_file.touch()
        self.config_dir = tmp_path / "proxy-config"
        self.socket = tmp_path / "sds.sock"
        self.env = script_env(**{
            "MESHCTL_BIN": meshctl or self.stubs / "meshctl", "MESH_AGENT_BIN": agent or self.stubs / "mesh-agent",
            "ENVOY_BIN": self.stubs / "envoy", "MESH_PROXY_CONFIG_DIR": self.config_dir,
            "MESH_SDS_SOCKET": self.socket, "MESH_ROOT_CERT": tmp_path / "root-cert.pem",
            "MESH_CREDENTIALS_DIR": tmp_path / "credentials",
            # Nothing listens there (unless a test says so): no drain unless a test asks for one.
            "MESH_PROXY_ADMIN_PORT": _free_port(), "MESH_PROXY_DRAIN_SECONDS": 0,
            "STUB_DIR": tmp_path, "STUB_PYTHON": sys.executable, **env})
        self.stderr_path = tmp_path / "mesh-proxy.stderr"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Proxy":
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([BASH, str(SCRIPT)], env=self.env, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, start_new_session=True)
        return self

    def events(self) -> list[str]:
        return self.events_file.read_text().splitlines()

    def argv(self, name: str) -> list[str]:
        return (self.dir / f"{name}.argv").read_text().splitlines()

    def pid(self, name: str) -> int:
        return int((self.dir / f"{name}.pid").read_text())

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"events: {self.events()}\nmesh-proxy stderr:\n{self.stderr()}"

    def wait_started(self, timeout: float = 15) -> None:
        wait_for(lambda: "envoy started" in self.events(), timeout, "the stub Envoy did not start", self)

    def wait(self, timeout: float = 20) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"mesh-proxy.sh still running after {timeout:g}s\n{self.describe()}") from None

    def gone(self, name: str) -> bool:
        try:
            os.kill(self.pid(name), 0)
        except ProcessLookupError:
            return True
        return False

    def close(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the script and whatever it started
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for name in ("mesh-agent", "envoy"):  # a stub that left the group would still be ours
            try:
                os.kill(self.pid(name), signal.SIGKILL)
            except (FileNotFoundError, ValueError, ProcessLookupError):
                pass


@pytest.fixture
def proxies(request):
    made: list[Proxy] = []

    def make(tmp_path: Path, **kw) -> Proxy:
        proxy = Proxy(tmp_path, **kw)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


def test_run_renders_then_starts_the_agent_and_envoy(tmp_path, proxies, meshctl):
    proxy = proxies(tmp_path, meshctl=meshctl).start()
    proxy.wait_started()
    # The bootstrap Envoy is started with is the one `render` prints, written in full.
    assert proxy.argv("envoy")[:2] == ["-c", str(proxy.config_dir / "envoy.json")]
    written = (proxy.config_dir / "envoy.json").read_text()
    assert decode(written).node.id == NODE_ID
    rendered = run_script("render", env={**proxy.env, "MESHCTL_BIN": meshctl})
    assert json.loads(written) == json.loads(rendered.stdout)
    assert [p.name for p in proxy.config_dir.iterdir()] == ["envoy.json"]

    assert proxy.argv("mesh-agent") == [
        "--ca-address", "meshd.mesh-system.svc:15012", "--renew-address", "meshd.mesh-system.svc:15013",
        "--server-name", "meshd.mesh-system.svc", "--root-cert", str(tmp_path / "root-cert.pem"),
        "--output-dir", str(tmp_path / "credentials"), "--sds-socket", str(proxy.socket), "--log-level", "info",
    ]
    assert proxy.argv("envoy") == [
        "-c", str(proxy.config_dir / "envoy.json"), "--log-level", "warning", "--drain-time-s", "45",
        "--drain-strategy", "immediate", "--disable-hot-restart", "--local-address-ip-version", "v4",
        "--concurrency", "2",
    ]
    # Envoy was started once the agent's socket existed, not before.
    events = proxy.events()
    assert events.index("mesh-agent serving") < events.index("envoy saw the socket") < events.index("envoy started")

    os.kill(proxy.proc.pid, signal.SIGTERM)
    assert proxy.wait() == 0, proxy.describe()


def test_tuning_variables_reach_envoy_and_the_agent(tmp_path, proxies):
    proxy = proxies(tmp_path, INSTANCE_IP="fd00:10::7", ENVOY_LOG_LEVEL="debug", ENVOY_CONCURRENCY=4,
                    ENVOY_DRAIN_TIME_S=20, MESH_AGENT_LOG_LEVEL="debug").start()
    proxy.wait_started()
    envoy = proxy.argv("envoy")
    for flag, value in (("--log-level", "debug"), ("--concurrency", "4"), ("--drain-time-s", "20"),
                        ("--local-address-ip-version", "v6")):
        assert envoy[envoy.index(flag) + 1] == value, envoy
    agent = proxy.argv("mesh-agent")
    assert agent[agent.index("--log-level") + 1] == "debug"
    assert "sidecar~fd00:10::7~reviews-v1-7f9d.bookinfo~bookinfo.svc.cluster.local" in proxy.argv("meshctl")
    os.kill(proxy.proc.pid, signal.SIGTERM)
    assert proxy.wait() == 0, proxy.describe()


@pytest.mark.parametrize("first, status, other", [("mesh-agent", 3, "envoy"), ("envoy", 7, "mesh-agent")])
def test_when_one_exits_the_other_is_stopped_and_its_status_returned(tmp_path, proxies, first, status, other):
    stub_env = {"STUB_AGENT_EXIT" if first == "mesh-agent" else "STUB_ENVOY_EXIT": status}
    proxy = proxies(tmp_path, **stub_env).start()
    assert proxy.wait() == status, proxy.describe()
    events = proxy.events()
    assert events.index(f"{first} exits {status}") < events.index(f"{other} TERM"), events
    wait_for(lambda: proxy.gone(other), 5, f"the stub {other} is still running", proxy)
    assert f"{first} exited with status {status}; stopping {other}" in proxy.stderr()


def test_an_agent_failing_at_start_means_no_envoy(tmp_path, proxies):
    proxy = proxies(tmp_path, STUB_AGENT_FAIL_AT_START=4).start()
    assert proxy.wait() == 4, proxy.describe()
    assert "envoy started" not in proxy.events()
    assert "mesh-agent exited with status 4 before Envoy started" in proxy.stderr()


class AdminStandIn:
    """Envoy's admin API as far as the drain goes: records each request in the events file."""

    def __init__(self, events_file: Path):
        events = events_file

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                with open(events, "a") as f:
                    f.write(f"admin {self.command} {self.path}\n")
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                try:
                    self.wfile.write(b"OK\n")
                except OSError:
                    pass  # the script reads the status line and closes

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_sigterm_drains_inbound_then_stops_envoy_then_the_agent(tmp_path, proxies):
    admin = AdminStandIn(tmp_path / "events")
    try:
        proxy = proxies(tmp_path, MESH_PROXY_ADMIN_PORT=admin.port, MESH_PROXY_DRAIN_SECONDS=1).start()
        proxy.wait_started()
        signalled = time.monotonic()
        os.kill(proxy.proc.pid, signal.SIGTERM)
        assert proxy.wait() == 0, proxy.describe()
        took = time.monotonic() - signalled
    finally:
        admin.close()
    events = proxy.events()
    assert events.index("admin POST /drain_listeners?inboundonly&graceful") < events.index("envoy TERM") \
        < events.index("mesh-agent TERM"), events
    assert 1.0 <= took < 10, f"{took:.1f}s from SIGTERM to exit with a 1 s drain"
    assert proxy.gone("envoy") and proxy.gone("mesh-agent")


def test_sigterm_without_an_admin_answer_stops_at_once(tmp_path, proxies):
    """Nothing listens on the admin port: no drain to wait for, both stubs stopped promptly."""
    proxy = proxies(tmp_path, MESH_PROXY_DRAIN_SECONDS=30).start()
    proxy.wait_started()
    signalled = time.monotonic()
    os.kill(proxy.proc.pid, signal.SIGTERM)
    assert proxy.wait() == 0, proxy.describe()
    assert time.monotonic() - signalled < 10
    events = proxy.events()
    assert events.index("envoy TERM") < events.index("mesh-agent TERM"), events
    assert "refused the drain request" in proxy.stderr()


def test_a_process_ignoring_sigterm_is_killed_after_the_stop_timeout(tmp_path, proxies):
    proxy = proxies(tmp_path, STUB_ENVOY_IGNORES_TERM=1, STUB_AGENT_EXIT=3, MESH_PROXY_STOP_TIMEOUT=1).start()
    started = time.monotonic()
    assert proxy.wait() == 3, proxy.describe()
    assert time.monotonic() - started < 10
    assert "envoy TERM ignored" in proxy.events()
    assert "envoy did not stop within 1s of SIGTERM; sending SIGKILL" in proxy.stderr()
    wait_for(lambda: proxy.gone("envoy"), 5, "the stub envoy survived SIGKILL", proxy)


# ---------------------------------------------------------------------------- end to end


def test_the_agent_it_starts_gets_the_pods_certificate_from_meshd(tmp_path, proxies, meshctl, meshd):
    """Real meshd, meshctl and mesh-agent; Envoy a stub. The token is the one a projected volume
    would hold (given here as MESH_AGENT_TOKEN, which mesh-agent reads when its default path is
    absent); meshd's certificate names localhost."""
    agent = mesh_agent_bin()
    if not os.access(agent, os.X_OK):
        pytest.skip(f"mesh-agent binary not found at {agent} (set MESH_AGENT_BIN)")
    (tmp_path / "root-cert.pem").write_text(meshd.ca_root())
    proxy = proxies(tmp_path, meshctl=meshctl, agent=agent, MESH_CA_ADDRESS=meshd.tls_address,
                    MESH_DISCOVERY_ADDRESS=meshd.renew_address, MESH_SERVER_NAME="localhost",
                    MESH_AGENT_TOKEN=meshd.create_token("bookinfo", "bookinfo-reviews"))
    proxy.start()
    proxy.wait_started(timeout=30)
    assert "envoy saw the socket" in proxy.events()  # the real agent's socket
    chain_file = tmp_path / "credentials" / "cert-chain.pem"
    wait_for(chain_file.exists, 30, "mesh-agent wrote no certificate", proxy)
    assert cert_sans(split_pem(chain_file.read_text())[0]) == [f"URI:{spiffe_id('bookinfo', 'bookinfo-reviews')}"]

    b = decode((proxy.config_dir / "envoy.json").read_text())
    address = endpoint_address(clusters(b)["xds-grpc"]).socket_address
    assert f"{address.address}:{address.port_value}" == meshd.renew_address
    assert endpoint_address(clusters(b)["sds-grpc"]).pipe.path == str(proxy.socket)

    os.kill(proxy.proc.pid, signal.SIGTERM)
    assert proxy.wait() == 0, proxy.describe()
    assert proxy.events()[-1] == "envoy TERM"
    assert not proxy.socket.exists(), "mesh-agent left its socket behind"


def test_a_gateway_renders_a_router_node_and_a_bad_type_is_exit_2(meshctl):
    """The gateways an install deploys set MESH_PROXY_TYPE=router: meshd serves them as gateways."""
    p = run_script("render", env=script_env(MESHCTL_BIN=meshctl, MESH_PROXY_TYPE="router"))
    assert p.returncode == 0, p.stderr
    assert decode(p.stdout).node.id.startswith("router~")
    bad = run_script("render", env=script_env(MESHCTL_BIN=meshctl, MESH_PROXY_TYPE="waypoint"))
    assert bad.returncode == 2 and "MESH_PROXY_TYPE" in bad.stderr


def test_an_injected_pods_environment_renders_a_valid_bootstrap(meshctl, tmp_path):
    """The chain a real pod runs: `meshctl kube-inject` adds istio-proxy with its environment;
    the kubelet fills the downward-API variables; the entrypoint renders the bootstrap. It
    passes PGV and points at meshd's Service names with the pod's final labels."""
    import yaml
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "reviews-v2", "namespace": "bookinfo", "labels": {"app": "reviews", "version": "v2"}},
        "spec": {"serviceAccountName": "bookinfo-reviews", "containers": [{"name": "reviews", "image": "reviews:2"}]}}))
    p = subprocess.run([meshctl, "kube-inject", "-f", str(manifest)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    pod = yaml.safe_load(p.stdout)
    proxy = next(c for c in pod["spec"]["containers"] if c["name"] == "istio-proxy")
    downward = {"metadata.name": "reviews-v2", "metadata.namespace": "bookinfo", "status.podIP": "10.8.0.17",
                "spec.serviceAccountName": "bookinfo-reviews"}
    env = {"PATH": os.environ["PATH"], "MESHCTL_BIN": meshctl}
    for variable in proxy["env"]:
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        else:
            env[variable["name"]] = downward[variable["valueFrom"]["fieldRef"]["fieldPath"]]
    rendered = run_script("render", env=env)
    assert rendered.returncode == 0, rendered.stderr
    bootstrap = decode(rendered.stdout)
    assert bootstrap.node.id == "sidecar~10.8.0.17~reviews-v2.bookinfo~bookinfo.svc.cluster.local"
    labels = json_format.MessageToDict(bootstrap.node.metadata)["LABELS"]
    assert labels["version"] == "v2" and labels["security.istio.io/tlsMode"] == "istio"
    xds = clusters(bootstrap)["xds-grpc"]
    address = endpoint_address(xds)
    assert (address.socket_address.address, address.socket_address.port_value) == ("meshd.mesh-system.svc", 15013)
