"""The manifests under deploy/ are valid and fit together, without meshd running.

Kubernetes-native documents (deploy/gateways/*.yaml, deploy/sidecar/reviews-sidecar.yaml,
deploy/kubernetes/*.yaml, the Istio CRDs included) are validated with PyPI's kubernetes-validate
against the Kubernetes 1.32 schemas in strict mode (an unknown field fails). The package ships
its schemas, so no network is used; the tests refuse any connection to make sure of it.
kubernetes-validate has no schema for Istio's kinds (it reports SchemaNotFoundError, which its
CLI prints as a warning): test_crds.py checks them against the CRDs' schemas, and here the
networking.istio.io documents are checked for what meshd relies on: the Gateway's selector
matches the gateway pods' labels (which the bootstrap step sends as node metadata LABELS), the
VirtualService names the Gateway, the references between resources resolve.
"""

from __future__ import annotations

import copy
import re
import socket

import pytest

from deploy_manifests import DEPLOY, documents, kv, no_network, validate  # noqa: F401 (no_network: autouse)
from kubernetes_validate.utils import SchemaNotFoundError

ISTIO_API = "networking.istio.io/v1"
ISTIO_KINDS = {"Gateway", "VirtualService", "DestinationRule", "ServiceEntry", "WorkloadEntry"}
GATEWAY_PROTOCOLS = {"HTTP", "HTTPS", "HTTP2", "GRPC", "GRPC-WEB", "TCP", "TLS", "MONGO", "REDIS", "MYSQL"}
HTTP_PROTOCOLS = {"HTTP", "HTTP2", "GRPC", "GRPC-WEB"}
SDS_SOCKET = "/var/run/secrets/workload-spiffe-uds/socket"

FILES = sorted(
    [*DEPLOY.glob("gateways/*.yaml"), DEPLOY / "sidecar" / "reviews-sidecar.yaml", *DEPLOY.glob("kubernetes/*.yaml")]
)


def is_istio(doc: dict) -> bool:
    return doc["apiVersion"].split("/")[0].endswith("istio.io")


NATIVE = [
    pytest.param(path, i, id=f"{path.relative_to(DEPLOY)}#{i}:{doc['kind']}/{doc['metadata']['name']}")
    for path in FILES
    for i, doc in enumerate(documents(path))
    if not is_istio(doc)
]
ISTIO = [
    pytest.param(path, i, id=f"{path.relative_to(DEPLOY)}#{i}:{doc['kind']}/{doc['metadata']['name']}")
    for path in FILES
    for i, doc in enumerate(documents(path))
    if is_istio(doc)
]


# --- Kubernetes-native documents -------------------------------------------------------------

def test_the_files_exist_and_have_native_documents():
    assert {p.name for p in FILES} >= {"ingress-gateway.yaml", "egress-gateway.yaml", "reviews-sidecar.yaml", "meshd.yaml",
                                       "istio-crds.yaml", "meshd-kubernetes.yaml"}
    assert NATIVE and ISTIO


@pytest.mark.parametrize("path,index", NATIVE)
def test_native_document_validates_strictly(path, index):
    doc = documents(path)[index]
    assert validate(doc) == "1.32"


def test_strict_mode_refuses_an_unknown_field():
    deployment = next(d for d in documents(DEPLOY / "gateways" / "ingress-gateway.yaml") if d["kind"] == "Deployment")
    assert validate(deployment) == "1.32"
    misspelled = copy.deepcopy(deployment)
    misspelled["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    with pytest.raises(kv.ValidationError):
        validate(misspelled)
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kv.ValidationError):
        validate(wrong_type)


@pytest.mark.parametrize("path,index", ISTIO)
def test_istio_documents_are_not_validated_by_kubernetes_validate(path, index):
    """They are Istio CRD kinds: kubernetes-validate has no schema for them (skipped, not passed)."""
    doc = documents(path)[index]
    assert doc["apiVersion"] == ISTIO_API, doc["apiVersion"]
    assert doc["kind"] in ISTIO_KINDS
    with pytest.raises(SchemaNotFoundError):
        validate(doc)


# --- Istio documents: what meshd expects -----------------------------------------------------

def key(doc: dict) -> tuple[str, str]:
    return doc["metadata"].get("namespace", "default"), doc["metadata"]["name"]


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in of_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind} {name or ''}: {len(found)} found"
    return found[0]


def gateway_ref(ref: str, vs_namespace: str) -> str:
    """A VirtualService's gateway reference as meshd resolves it: `ns/name`, a short `name` in the
    VirtualService's namespace, the legacy `name.ns.svc.cluster.local`; `mesh` unchanged."""
    if ref == "mesh":
        return ref
    if "/" in ref:
        return ref
    if "." in ref:
        name, namespace = ref.split(".")[:2]
        return f"{namespace}/{name}"
    return f"{vs_namespace}/{ref}"


def host_matches(server_host: str, host: str) -> bool:
    """`*.example.com` covers `a.example.com`; `*` covers everything."""
    server_host = server_host.split("/", 1)[-1]
    if server_host == "*":
        return True
    if server_host.startswith("*."):
        return host.endswith(server_host[1:])
    return server_host == host


def check_gateway(gateway: dict) -> None:
    servers = gateway["spec"]["servers"]
    assert servers, "a Gateway needs at least one server"
    names = [s["port"]["name"] for s in servers]
    assert len(names) == len(set(names)), f"port names must be unique: {names}"
    for server in servers:
        port = server["port"]
        assert set(port) <= {"number", "name", "protocol"}, f"targetPort is refused: {port}"
        assert 1 <= port["number"] <= 65535
        protocol = port["protocol"].upper()
        assert protocol in GATEWAY_PROTOCOLS, protocol
        assert server["hosts"]
        for host in server["hosts"]:
            dns = host.split("/", 1)[-1]
            assert dns == "*" or "." in dns, f"short names are not allowed: {host}"
        tls = server.get("tls")
        if protocol in {"HTTPS", "TLS"}:
            assert tls and tls.get("mode"), f"{port['name']}: HTTPS/TLS needs tls.mode (absent means PASSTHROUGH)"
            if tls["mode"] in {"SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"}:
                assert tls.get("credentialName") or (tls.get("serverCertificate") and tls.get("privateKey"))
        elif tls is not None:
            assert protocol in HTTP_PROTOCOLS and set(tls) == {"httpsRedirect"}, tls
        if "bind" in server:
            socket.inet_pton(socket.AF_INET6 if ":" in server["bind"] else socket.AF_INET, server["bind"])


def pod_template(deployment: dict) -> dict:
    return deployment["spec"]["template"]


def container(pod_spec: dict, name: str, init: bool = False) -> dict:
    containers = pod_spec["initContainers" if init else "containers"]
    return next(c for c in containers if c["name"] == name)


def bootstrap_command(pod_spec: dict) -> str:
    return " ".join(container(pod_spec, "bootstrap", init=True)["args"])


def bootstrap_labels(command: str) -> dict:
    match = re.search(r'--labels "([^"]+)"', command)
    assert match, command
    return dict(pair.split("=", 1) for pair in match.group(1).split(","))


def check_gateway_pods(docs: list[dict], gateway: dict) -> dict:
    """The Deployment the Gateway selects: a router~ bootstrap whose labels are the pods' own,
    mesh-agent and Envoy sharing the SDS socket, a Service exposing the servers' ports."""
    selector = gateway["spec"]["selector"]
    deployments = [d for d in of_kind(docs, "Deployment")
                   if selector.items() <= pod_template(d)["metadata"]["labels"].items()]
    assert len(deployments) == 1, f"selector {selector} must match one Deployment's pods"
    deployment = deployments[0]
    template = pod_template(deployment)
    spec = template["spec"]
    labels = template["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()

    command = bootstrap_command(spec)
    assert "meshctl bootstrap --envoy" in command
    assert '--node-id "router~${POD_IP}~${POD_NAME}.${POD_NAMESPACE}~${POD_NAMESPACE}.svc.cluster.local"' in command
    assert bootstrap_labels(command) == labels, "node metadata LABELS must be the pods' labels"
    assert f"--sds-socket {SDS_SOCKET}" in command
    assert "mesh-init" not in {c["name"] for c in spec["initContainers"]}, "a gateway captures no traffic"

    # mesh-agent as in the sidecar example (same flags), serving SDS where the bootstrap looks.
    sidecar_pod = one(documents(DEPLOY / "sidecar" / "reviews-sidecar.yaml"), "Pod")["spec"]
    agent = container(spec, "mesh-agent")
    assert agent["args"] == container(sidecar_pod, "mesh-agent")["args"]
    assert f"--sds-socket={SDS_SOCKET}" in agent["args"]
    envoy = container(spec, "envoy")
    socket_dir = SDS_SOCKET.rsplit("/", 1)[0]
    for c in (agent, envoy):
        assert {m["name"] for m in c["volumeMounts"] if m["mountPath"] == socket_dir} == {"workload-socket"}
    config = next(m for m in envoy["volumeMounts"] if m["mountPath"] == "/etc/envoy")
    assert config["name"] in {m["name"] for m in container(spec, "bootstrap", init=True)["volumeMounts"]}
    assert spec["securityContext"]["runAsUser"] == 1337, "Envoy and mesh-agent share the owner-only socket"
    assert envoy["readinessProbe"]["httpGet"] == {"path": "/healthz/ready", "port": 15021}
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in spec["securityContext"]["sysctls"]

    # Envoy listens on each server's own port (meshd does not translate to a targetPort).
    server_ports = {s["port"]["number"] for s in gateway["spec"]["servers"]}
    assert server_ports <= {p["containerPort"] for p in envoy["ports"]}
    namespace = deployment["metadata"]["namespace"]
    services = [s for s in of_kind(docs, "Service")
                if s["metadata"]["namespace"] == namespace and s["spec"]["selector"].items() <= labels.items()]
    assert len(services) == 1
    exposed = {p["port"]: p.get("targetPort", p["port"]) for p in services[0]["spec"]["ports"]}
    for port in server_ports:
        assert exposed.get(port) == port, f"Service must expose {port} -> {port}: {exposed}"
    assert spec["serviceAccountName"] in {d["metadata"]["name"] for d in of_kind(docs, "ServiceAccount")
                                         if d["metadata"]["namespace"] == namespace}
    return services[0]


def test_ingress_gateway_fits_together():
    docs = documents(DEPLOY / "gateways" / "ingress-gateway.yaml")
    gateway = one(docs, "Gateway")
    check_gateway(gateway)
    service = check_gateway_pods(docs, gateway)
    assert service["spec"]["type"] == "LoadBalancer"
    assert {p["port"] for p in service["spec"]["ports"]} >= {80, 443}

    servers = {s["port"]["number"]: s for s in gateway["spec"]["servers"]}
    assert servers[80]["port"]["protocol"] == "HTTP" and servers[80]["hosts"] == ["reviews.example.com"]
    assert servers[443]["port"]["protocol"] == "HTTPS"
    assert servers[443]["tls"] == {"mode": "SIMPLE", "credentialName": "reviews-cert"}

    vs = one(docs, "VirtualService")
    ns, _ = key(vs)
    refs = {gateway_ref(g, ns) for g in vs["spec"]["gateways"]}
    assert refs == {"mesh", "/".join(key(gateway))}
    assert any(host_matches(h, vh) for s in servers.values() for h in s["hosts"] for vh in vs["spec"]["hosts"])

    # The subsets come from the canary example's DestinationRule.
    canary = documents(DEPLOY / "examples" / "reviews-canary.yaml")
    subsets = {s["name"] for s in one(canary, "DestinationRule", "reviews")["spec"]["subsets"]}
    routes = [r for rule in vs["spec"]["http"] for r in rule["route"]]
    assert {r["destination"]["subset"] for r in routes} <= subsets
    assert sum(r["weight"] for r in routes) == 100
    assert {r["destination"]["host"] for r in routes} == {"reviews"}


def test_egress_gateway_fits_together():
    docs = documents(DEPLOY / "gateways" / "egress-gateway.yaml")
    gateway = one(docs, "Gateway")
    check_gateway(gateway)
    service = check_gateway_pods(docs, gateway)
    assert service["spec"]["type"] == "ClusterIP"
    assert gateway["spec"]["selector"] == {"istio": "egressgateway"}
    assert [(s["port"]["number"], s["port"]["protocol"], s["hosts"]) for s in gateway["spec"]["servers"]] == [
        (80, "HTTP", ["edition.cnn.com"])]

    entries = {h: se for se in of_kind(docs, "ServiceEntry") for h in se["spec"]["hosts"]}
    cnn = entries["edition.cnn.com"]
    assert {p["number"] for p in cnn["spec"]["ports"]} == {80, 443}
    assert cnn["spec"]["resolution"] == "DNS"
    gateway_host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"
    assert gateway_host in entries, "meshd learns the egress gateway's Service from a ServiceEntry"
    assert 80 in {p["number"] for p in entries[gateway_host]["spec"]["ports"]}

    rule = one(docs, "DestinationRule", "egressgateway-for-cnn")
    assert rule["spec"]["host"] == gateway_host
    subsets = {s["name"] for s in rule["spec"]["subsets"]}

    vs = one(docs, "VirtualService", "direct-cnn-through-egress-gateway")
    ns, _ = key(vs)
    gateway_name = "/".join(key(gateway))
    assert vs["spec"]["hosts"] == ["edition.cnn.com"]
    assert {gateway_ref(g, ns) for g in vs["spec"]["gateways"]} == {"mesh", gateway_name}
    by_binding = {}
    for http in vs["spec"]["http"]:
        for match in http["match"]:
            for ref in match["gateways"]:
                by_binding[gateway_ref(ref, ns)] = (match.get("port"), [r["destination"] for r in http["route"]])
    assert set(by_binding) == {"mesh", gateway_name}
    port, (to_gateway,) = by_binding["mesh"]
    assert port == 80
    assert to_gateway["host"] == gateway_host and to_gateway["subset"] in subsets
    assert to_gateway["port"]["number"] in {s["port"]["number"] for s in gateway["spec"]["servers"]}
    port, (out,) = by_binding[gateway_name]
    assert port == 80 and out == {"host": "edition.cnn.com", "port": {"number": 80}}
