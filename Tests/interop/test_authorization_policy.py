"""AuthorizationPolicy enforced by a real grpcio xDS-enabled server through meshd's RBAC filters.

The server (grpcio, `xds=True`) runs under PeerAuthentication STRICT, so every caller presents
a certificate from meshd's CA (through mesh-agent); two grpcio xDS clients call it as
`productpage` and as `ratings`, each with an ISTIO_MUTUAL DestinationRule.

- DENY naming productpage's principal: productpage gets PERMISSION_DENIED, ratings is served;
  an RPC already in flight when the policy lands finishes.
- ALLOW on one method path: that method is served, another is PERMISSION_DENIED.
- Removing the policies restores access. Each change is polled on the running server; the
  time it took is printed (a benchmark figure, not an assertion).
"""

from __future__ import annotations

import threading
import time

import configs
from ads_client import http_connection_managers
from meshd_process import run_meshctl
from test_mtls import fetch_identity
from test_peer_authentication import peer_authentication, server_bootstrap
from xds_server_runner import XdsServerProcess, free_port

WHO = "/meshd.test.Echo/Who"
OTHER = "/meshd.test.Echo/Other"
SLOW = "/meshd.test.Echo/Slow"


def authorization_policy(name: str, body: str) -> str:
    return f"""\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: {name}
  namespace: {configs.NAMESPACE}
spec:
  selector:
    matchLabels:
      app: reviews
{body}"""


DENY_PRODUCTPAGE = authorization_policy("deny-productpage", """\
  action: DENY
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/productpage"]
""")

ALLOW_WHO = authorization_policy("allow-who", f"""\
  action: ALLOW
  rules:
  - to:
    - operation:
        paths: ["{WHO}"]
""")


def poll(action, good, timeout: float = 30.0, since: float | None = None):
    """Polls until good(action()); returns the last result and the seconds since `since` (the
    apply, when given: the delay from apply to effect is a benchmark figure)."""
    start = time.monotonic()
    deadline = start + timeout
    start = since if since is not None else start
    while True:
        result = action()
        if good(result) or time.monotonic() > deadline:
            return result, time.monotonic() - start
        time.sleep(0.2)


def denied(window: dict) -> bool:
    return window["failures"] == window["total"] and set(window["failure_codes"]) == {"PERMISSION_DENIED"}


def served(window: dict) -> bool:
    return window["failures"] == 0 and window["counts"] == {"reviews": window["total"]}


def test_deny_allow_and_removal_on_a_running_server(meshd, tmp_path, xds_clients, node_id):
    root_file = tmp_path / "mesh-root.pem"
    root_file.write_text(run_meshctl(meshd.admin_url, "ca", "root").stdout)
    dirs = {sa: tmp_path / sa for sa in ("reviews", "productpage", "ratings")}
    for sa, d in dirs.items():
        fetch_identity(meshd, root_file, sa, d)
    port = free_port()
    applied = meshd.apply(configs.mtls(port, "reviews") + "---\n" + peer_authentication("STRICT", {"app": "reviews"}))
    meshd.wait_pushed(applied["revision"])
    server = XdsServerProcess(server_bootstrap(meshd, node_id("server"), dirs["reviews"]), port)
    clients = {}
    try:
        for sa in ("productpage", "ratings"):
            proxy = node_id(sa)
            boot = run_meshctl(meshd.admin_url, "bootstrap", "--xds-address", meshd.xds_address,
                               "--node-id", proxy, "--cert-dir", str(dirs[sa])).stdout
            clients[sa] = xds_clients(meshd.xds_address, proxy, bootstrap_json=boot, creds="xds",
                                      warmup_timeout=30, deadline=10)
            ready = clients[sa].wait_ready(timeout=40)
            assert ready.get("ok"), f"{sa}: {ready}\n{clients[sa].stderr_tail()}\n{server.stderr_tail()}"
        productpage, ratings = clients["productpage"], clients["ratings"]

        # An RPC in flight when the DENY lands finishes.
        in_flight: dict = {}
        worker = threading.Thread(target=lambda: in_flight.update(productpage.run(1, method=SLOW)))
        worker.start()
        server.wait_event("slow-started")
        applied_at = time.monotonic()
        applied = meshd.apply(DENY_PRODUCTPAGE)
        assert not [w for w in applied["warnings"] if "AuthorizationPolicy" in w and "proxyless gRPC" in w], applied
        meshd.wait_pushed(applied["revision"])
        worker.join(timeout=30)
        assert served(in_flight), f"the in-flight RPC did not finish: {in_flight}"

        window, took = poll(lambda: productpage.run(3), denied, since=applied_at)
        assert denied(window), f"productpage under DENY: {window}"
        print(f"DENY observed {took:.2f}s after the apply (the client first finished its 3 s in-flight RPC)")
        window = ratings.run(5)
        assert served(window), f"ratings under a DENY for productpage: {window}"
        check = run_meshctl(meshd.admin_url, "x", "authz", "check", "reviews-v1", "-n", configs.NAMESPACE).stdout
        assert "STRICT" in check and str(port) in check, check
        assert ("ns[default]-policy[deny-productpage]-rule[0]: "
                "authn:exact:spiffe://cluster.local/ns/default/sa/productpage -> any") in check, check

        # Removing the DENY restores productpage.
        applied_at = time.monotonic()
        meshd.delete(DENY_PRODUCTPAGE)
        window, took = poll(lambda: productpage.run(3), served, since=applied_at)
        assert served(window), f"productpage after the DENY was removed: {window}"
        print(f"removal took effect {took:.2f}s after the delete")

        # ALLOW one method path: the other is denied, for everyone.
        applied_at = time.monotonic()
        applied = meshd.apply(ALLOW_WHO)
        meshd.wait_pushed(applied["revision"])
        window, took = poll(lambda: ratings.run(3, method=OTHER), denied, since=applied_at)
        assert denied(window), f"another method under ALLOW {WHO}: {window}"
        print(f"ALLOW took effect {took:.2f}s after the apply")
        for client in (productpage, ratings):
            window = client.run(3, method=WHO)
            assert served(window), f"{WHO} under ALLOW {WHO}: {window}"

        meshd.delete(ALLOW_WHO)
        window, _ = poll(lambda: ratings.run(3, method=OTHER), served)
        assert served(window), f"another method after the ALLOW was removed: {window}"
        assert set(server.peers()) <= {"spiffe://cluster.local/ns/default/sa/productpage",
                                       "spiffe://cluster.local/ns/default/sa/ratings"}, server.peers()
    finally:
        for client in clients.values():
            client.close()
        server.close()


POLICIES = DENY_PRODUCTPAGE + "---\n" + authorization_policy("allow-some", """\
  rules:
  - from:
    - source:
        namespaces: ["default"]
        notPrincipals: ["*/sa/evil"]
    to:
    - operation:
        notPaths: ["/admin.*"]
        ports: ["50051"]
    when:
    - key: request.headers[x-team]
      values: ["a", "b*"]
  - from:
    - source:
        requestPrincipals: ["*"]
""")


def test_inbound_listener_resources_pass_the_oracle(meshd, ads_clients, delta_clients):
    """The inbound listener with STRICT and both RBAC filters, over SotW and Delta, decodes with
    the official protos and passes Envoy's PGV rules inside every Any (checked at teardown)."""
    applied = meshd.apply(configs.mtls(50051, "reviews") + "---\n" + peer_authentication("STRICT", {"app": "reviews"})
                          + "---\n" + POLICIES)
    assert any("requestPrincipals: substituted for proxyless gRPC servers" in w for w in applied["warnings"]), applied
    meshd.wait_pushed(applied["revision"])
    name = "xds.istio.io/grpc/lds/inbound/[::]:50051"
    metadata = {"GENERATOR": "grpc", "NAMESPACE": configs.NAMESPACE, "LABELS": {"app": "reviews"}}
    sotw = ads_clients(meshd.xds_address, "inbound-sotw", wildcard=(), metadata=metadata)
    with sotw.cond:
        sotw._resubscribe("LDS", {name})
    delta = delta_clients(meshd.xds_address, "inbound-delta", metadata=metadata)
    delta.subscribe("LDS", [name])
    for client in (sotw, delta):
        listener = client.wait_for(lambda c: c.state["LDS"].get(name), 10, "the inbound listener").message
        assert listener.address.socket_address.address == "::" and listener.address.socket_address.port_value == 50051
        assert listener.filter_chains[0].transport_socket.name == "envoy.transport_sockets.tls", listener
        managers = http_connection_managers(listener)
        assert [f.name for f in managers[0].http_filters] == [
            "envoy.filters.http.rbac.deny", "envoy.filters.http.rbac.allow", "envoy.filters.http.router"], managers
