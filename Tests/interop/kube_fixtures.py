"""Kubernetes objects and waits for test_kube_registry.py: meshd `--registry kubernetes` against
the stand-in API server (kube_apiserver.py).

- Object builders in the shapes the real API server serves: Namespace, Node (with
  topology.kubernetes.io region/zone labels), Service, Pod (nodeName, serviceAccountName, podIP,
  a Ready condition), EndpointSlice (discovery.k8s.io/v1, `kubernetes.io/service-name`, IPv4,
  endpoints with conditions and a Pod targetRef).
- `pod_backends`: EchoBackends bound to loopback "pod IPs" (127.0.0.2, 127.0.0.3, ...), all on
  one port, as a Deployment's pods listen on the same container port.
- `KubeView`: meshd's `/debug/kubernetes` and `/debug/registryz`, with bounded waits that say
  what they last saw.
"""

from __future__ import annotations

import json
import re
import time

from backend import EchoBackend

NAMESPACE = "default"
DOMAIN = "cluster.local"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
RESOURCES = ("namespaces", "nodes", "pods", "services", "endpointslices")
SERVICE_PORT = 9080
PORT_NAME = "grpc-echo"  # the port-name prefix `grpc` makes it GRPC


def host(name: str, namespace: str = NAMESPACE) -> str:
    return f"{name}.{namespace}.svc.{DOMAIN}"


# ------------------------------------------------------------------------------ objects


def namespace(name: str, labels: dict | None = None) -> dict:
    meta = {"name": name}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def node(name: str, region: str = "us-east1", zone: str = "us-east1-a") -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/region": region,
                                                  "topology.kubernetes.io/zone": zone}},
            "spec": {},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.168.0.10"}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def service(name: str, ns: str = NAMESPACE, ports=((PORT_NAME, SERVICE_PORT, None),),
            selector: dict | None = None, labels: dict | None = None) -> dict:
    """ports: (name, port, appProtocol or None); targetPort is the port's name."""
    spec_ports = []
    for pname, number, app_protocol in ports:
        p = {"name": pname, "port": number, "protocol": "TCP", "targetPort": pname}
        if app_protocol:
            p["appProtocol"] = app_protocol
        spec_ports.append(p)
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = dict(labels)
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"type": "ClusterIP", "selector": dict(selector or {"app": name}), "ports": spec_ports}}


def pod(name: str, ip: str, labels: dict, ns: str = NAMESPACE, service_account: str = "default",
        node_name: str = "node-a", container_port: int | None = None, ready: bool = True) -> dict:
    container = {"name": "app", "image": "example/app:1"}
    if container_port:
        container["ports"] = [{"name": PORT_NAME, "containerPort": container_port, "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
            "spec": {"nodeName": node_name, "serviceAccountName": service_account, "containers": [container]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.168.0.10",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def endpoint(ip: str, pod_name: str | None, ns: str = NAMESPACE, node_name: str = "node-a",
             ready: bool | None = True, serving: bool | None = None, terminating: bool | None = None) -> dict:
    """One EndpointSlice endpoint; a condition left None is absent from the object."""
    conditions = {}
    for key, value in (("ready", ready), ("serving", serving), ("terminating", terminating)):
        if value is not None:
            conditions[key] = value
    e = {"addresses": [ip], "conditions": conditions, "nodeName": node_name}
    if pod_name is not None:
        e["targetRef"] = {"kind": "Pod", "namespace": ns, "name": pod_name}
    return e


def not_ready(e: dict) -> dict:
    """A copy of endpoint `e` as the EndpointSlice controller writes a pod that is not ready (and
    not terminating): ready false, serving false, terminating false -> UNHEALTHY."""
    return {**e, "conditions": {"ready": False, "serving": False, "terminating": False}}


def endpoint_slice(name: str, service_name: str, endpoints: list, port: int, ns: str = NAMESPACE,
                   port_name: str = PORT_NAME) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {SERVICE_NAME_LABEL: service_name,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "ports": [{"name": port_name, "port": port, "protocol": "TCP"}],
            "endpoints": list(endpoints)}


def reviews_objects(port: int, pods: dict, ns: str = NAMESPACE) -> list[dict]:
    """Node, Service `reviews` and, for each version -> ip in `pods`, a Pod reviews-VERSION
    (labels app=reviews, version=VERSION, service account `reviews`), with one EndpointSlice
    naming them all (targetRefs) on `port`."""
    objs = [node("node-a"), service("reviews", ns)]
    eps = []
    for version, ip in pods.items():
        objs.append(pod(f"reviews-{version}", ip, {"app": "reviews", "version": version}, ns=ns,
                        service_account="reviews", container_port=port))
        eps.append(endpoint(ip, f"reviews-{version}", ns=ns))
    objs.append(endpoint_slice("reviews-abcde", "reviews", eps, port, ns=ns))
    return objs


# ------------------------------------------------------------------------------ backends


def pod_backends(names_to_ips: dict, attempts: int = 20) -> dict:
    """EchoBackend per name, bound to its loopback IP, all on one port (the container port).

    The first picks a free port; if another IP cannot bind it, all are stopped and a new port is
    tried. Returns {name: EchoBackend}."""
    last_error = None
    for _ in range(attempts):
        started: dict = {}
        try:
            port = 0
            for name, ip in names_to_ips.items():
                b = EchoBackend(name, host=ip, port=port).start()
                started[name] = b
                port = b.port
            return started
        except RuntimeError as exc:  # "could not bind" on one of the IPs: try another port
            last_error = exc
            for b in started.values():
                b.stop()
    raise RuntimeError(f"no port free on all of {list(names_to_ips.values())}: {last_error}")


# ------------------------------------------------------------------------------ meshd's view


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1, describe=None):
    """predicate() until truthy (returns it); AssertionError naming `what` and describe() after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = ""
            if describe is not None:
                try:
                    extra = "\n" + describe()
                except Exception as exc:  # never hide the timeout
                    extra = f"\n(could not describe: {exc!r})"
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def webhook_address(meshd) -> str:
    """meshd's webhook "HOST:PORT", from its `webhook_address=` log line (meshd runs with
    `--webhook-port 0`)."""
    found = {}

    def seen():
        m = re.search(r"webhook_address=(\S+):(\d+)", meshd.tail(400))
        found["a"] = m and f"{m.group(1)}:{m.group(2)}"
        return found["a"]
    wait_until(seen, 15, "meshd's webhook_address= log line", describe=lambda: meshd.tail(40))
    return found["a"]


def object_key(ns: str, name: str) -> str:
    """/debug/kubernetes' item key: NS/NAME, or NAME for a cluster-scoped object."""
    return f"{ns}/{name}" if ns else name


def standin_items(api, plural: str) -> dict:
    """The stand-in's objects of `plural` as {key: resourceVersion}, keyed as meshd keys them."""
    return {object_key(ns, name): o["metadata"]["resourceVersion"] for (ns, name), o in api.state(plural).items()}


class KubeView:
    """meshd's Kubernetes debug endpoints."""

    def __init__(self, meshd):
        self.meshd = meshd

    def kubernetes(self, objects: bool = False) -> dict:
        r = self.meshd.request("GET", "/debug/kubernetes" + ("?objects=true" if objects else ""))
        assert r.status == 200, f"GET /debug/kubernetes: {r}"
        return r.json()

    def resources(self, objects: bool = False) -> dict:
        """resource -> its /debug/kubernetes entry."""
        return {e["resource"]: e for e in self.kubernetes(objects)["resources"]}

    def registryz(self) -> dict:
        r = self.meshd.request("GET", "/debug/registryz")
        assert r.status == 200, f"GET /debug/registryz: {r}"
        return r.json()

    def service(self, hostname: str) -> dict | None:
        for s in self.registryz().get("services", []):
            if s.get("host") == hostname:
                return s
        return None

    def endpoints(self, hostname: str) -> list[dict]:
        s = self.service(hostname)
        return list(s.get("endpoints", [])) if s else []

    def endpoint_labels(self, hostname: str) -> dict:
        """address -> labels of the service's endpoints."""
        return {e["address"]: e.get("labels") for e in self.endpoints(hostname)}

    def all_synced(self) -> bool:
        res = self.resources()
        return set(res) >= set(RESOURCES) and all(res[r]["synced"] for r in RESOURCES)

    def wait_synced(self, timeout: float = 20.0) -> dict:
        wait_until(self.all_synced, timeout, "every Kubernetes resource synced in /debug/kubernetes",
                   describe=lambda: json.dumps(self.kubernetes(), indent=1))
        return self.resources()

    def wait_endpoints(self, hostname: str, predicate, timeout: float = 15.0, what: str = "") -> list[dict]:
        """Wait until predicate(endpoints of hostname in /debug/registryz) holds; returns them."""
        found = {}

        def check():
            found["eps"] = self.endpoints(hostname)
            return predicate(found["eps"])
        wait_until(check, timeout, what or f"the endpoints of {hostname} in /debug/registryz",
                   describe=lambda: "last endpoints: " + json.dumps(found.get("eps"), indent=1)
                   + "\n" + self.meshd.tail(40))
        return found["eps"]

    def mismatches(self, api) -> dict:
        """resource -> {"missing", "extra", "stale"} between meshd's items and the stand-in's state
        (empty when they are equal object by object)."""
        res = self.resources(objects=True)
        out = {}
        for plural in RESOURCES:
            have = (res.get(plural) or {}).get("items") or {}
            want = standin_items(api, plural)
            diff = {
                "missing": sorted(set(want) - set(have)),
                "extra": sorted(set(have) - set(want)),
                "stale": {k: {"meshd": have[k], "server": want[k]} for k in sorted(set(want) & set(have)) if have[k] != want[k]},
            }
            if diff["missing"] or diff["extra"] or diff["stale"]:
                out[plural] = diff
        return out


def degradations(meshd) -> tuple[int, list[dict]]:
    """/ready's status code and its degradations."""
    r = meshd.request("GET", "/ready")
    try:
        body = r.json()
    except AssertionError:
        return r.status, []
    return r.status, list(body.get("degradations") or [])


def kubernetes_degradation(meshd) -> dict | None:
    return next((d for d in degradations(meshd)[1] if d.get("id") == "kubernetes"), None)


def attach(request, title: str, source) -> None:
    """Adds a section to the test's failure report (conftest's `_interop_logs` convention)."""
    if not hasattr(request.node, "_interop_logs"):
        request.node._interop_logs = []
    request.node._interop_logs.append((title, source))
