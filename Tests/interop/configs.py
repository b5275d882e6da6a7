"""The Istio YAML the interop tests apply: the same documents one would give Istio."""

from __future__ import annotations

API_VERSION = "networking.istio.io/v1"
NAMESPACE = "default"
HOST = "reviews.default.svc.cluster.local"
PORT = 9080
LISTENER = f"{HOST}:{PORT}"
TARGET = f"xds:///{LISTENER}"


def cluster(subset: str = "") -> str:
    return f"outbound|{PORT}|{subset}|{HOST}"


def service_entry() -> str:
    return f"""\
apiVersion: {API_VERSION}
kind: ServiceEntry
metadata:
  name: reviews
  namespace: {NAMESPACE}
spec:
  hosts:
  - {HOST}
  ports:
  - number: {PORT}
    name: grpc
    protocol: GRPC
  resolution: STATIC
  workloadSelector:
    labels:
      app: reviews
"""


def workload_entry(version: str, port: int, address: str = "127.0.0.1", service_account: str | None = None) -> str:
    sa = f"  serviceAccount: {service_account}\n" if service_account else ""
    return f"""\
apiVersion: {API_VERSION}
kind: WorkloadEntry
metadata:
  name: reviews-{version}
  namespace: {NAMESPACE}
spec:
  address: {address}
  ports:
    grpc: {port}
  labels:
    app: reviews
    version: {version}
{sa}"""


def destination_rule(subsets=("v1", "v2"), tls_mode: str | None = None) -> str:
    """tls_mode: spec.trafficPolicy.tls.mode, e.g. "ISTIO_MUTUAL"."""
    policy = f"""\
  trafficPolicy:
    tls:
      mode: {tls_mode}
""" if tls_mode else ""
    if not subsets:
        return f"""\
apiVersion: {API_VERSION}
kind: DestinationRule
metadata:
  name: reviews
  namespace: {NAMESPACE}
spec:
  host: reviews
{policy}"""
    lines = "".join(
        f"""\
  - name: {s}
    labels:
      version: {s}
"""
        for s in subsets
    )
    return f"""\
apiVersion: {API_VERSION}
kind: DestinationRule
metadata:
  name: reviews
  namespace: {NAMESPACE}
spec:
  host: reviews
{policy}  subsets:
{lines}"""


def virtual_service(weights: dict) -> str:
    """weights: subset -> weight, in route order, e.g. {"v1": 50, "v2": 50}."""
    routes = "".join(
        f"""\
    - destination:
        host: reviews
        subset: {s}
      weight: {w}
"""
        for s, w in weights.items()
    )
    return f"""\
apiVersion: {API_VERSION}
kind: VirtualService
metadata:
  name: reviews
  namespace: {NAMESPACE}
spec:
  hosts:
  - reviews
  http:
  - route:
{routes}"""


def join(*docs: str) -> str:
    return "---\n".join(d if d.endswith("\n") else d + "\n" for d in docs)


def canary(v1_port: int, v2_port: int, weights=None, subsets=("v1", "v2")) -> str:
    """ServiceEntry + two WorkloadEntries + DestinationRule + VirtualService, one YAML stream."""
    weights = weights or {"v1": 50, "v2": 50}
    return join(
        service_entry(),
        workload_entry("v1", v1_port),
        workload_entry("v2", v2_port),
        destination_rule(subsets),
        virtual_service(weights),
    )


def mtls(port: int, service_account: str = "reviews", version: str = "v1") -> str:
    """reviews served by one WorkloadEntry running as `service_account`, ISTIO_MUTUAL to it."""
    return join(
        service_entry(),
        workload_entry(version, port, service_account=service_account),
        destination_rule(subsets=(), tls_mode="ISTIO_MUTUAL"),
    )


def namespaced_service(name: str, namespace: str, endpoint_port: int, export_to=None) -> str:
    """A ServiceEntry NAME.NAMESPACE.svc.cluster.local:9080 with one inline endpoint."""
    export = f"  exportTo: [{', '.join(repr(e) for e in export_to)}]\n" if export_to is not None else ""
    return f"""\
apiVersion: {API_VERSION}
kind: ServiceEntry
metadata:
  name: {name}
  namespace: {namespace}
spec:
  hosts:
  - {name}.{namespace}.svc.cluster.local
  ports:
  - number: {PORT}
    name: grpc
    protocol: GRPC
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {{grpc: {endpoint_port}}}
{export}"""


def sidecar(namespace: str, hosts, name: str = "default") -> str:
    """A Sidecar in NAMESPACE whose one egress listener imports HOSTS."""
    return f"""\
apiVersion: {API_VERSION}
kind: Sidecar
metadata:
  name: {name}
  namespace: {namespace}
spec:
  egress:
  - hosts: [{', '.join(repr(h) for h in hosts)}]
"""


# The Envoy sidecar of app-1 (10.0.0.5 in default), in Istio's node id form.
ENVOY_NODE = "sidecar~10.0.0.5~app-1.default~default.svc.cluster.local"


def envoy_mesh() -> str:
    """Beside the canary: app-1's own service (HTTP 9080 -> 9081, TCP 9000), HTTP ratings in
    prod, TCP mysql on a virtual IP, TCP legacy without one, a TCP service on a CIDR, two
    TLS services on 443 told apart by SNI (Sources/MeshTesting/EnvoyFixture.swift, in YAML), and
    details inside the mesh with one endpoint marked as having a sidecar (auto mTLS)."""
    def entry(name, namespace, hosts, ports, endpoints, addresses=None, resolution="STATIC", selector=None):
        extra = f"  addresses: [{', '.join(addresses)}]\n" if addresses else ""
        who = (f"  workloadSelector: {{labels: {selector}}}\n" if selector
               else f"  endpoints: [{', '.join('{address: ' + e + '}' for e in endpoints)}]\n")
        return (f"apiVersion: {API_VERSION}\nkind: ServiceEntry\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
                f"spec:\n  hosts: [{', '.join(hosts)}]\n{extra}  ports: [{ports}]\n  resolution: {resolution}\n{who}")
    return join(
        entry("productpage", "default", ["productpage.default.svc.cluster.local"],
              "{number: 9080, name: http, protocol: HTTP, targetPort: 9081}, {number: 9000, name: tcp-admin, protocol: TCP}",
              [], selector="{app: productpage}"),
        f"apiVersion: {API_VERSION}\nkind: WorkloadEntry\nmetadata: {{name: app-1, namespace: default}}\n"
        "spec: {address: 10.0.0.5, labels: {app: productpage}}\n",
        entry("ratings", "prod", ["ratings.prod.svc.cluster.local"], "{number: 9080, name: http, protocol: HTTP}", ["10.0.1.7"]),
        entry("mysql", "default", ["mysql.default.svc.cluster.local"], "{number: 3306, name: tcp, protocol: TCP}",
              ["10.0.2.1"], addresses=["10.0.0.50"]),
        entry("legacy", "default", ["legacy.default.svc.cluster.local"], "{number: 5432, name: tcp, protocol: TCP}", ["10.0.2.2"]),
        entry("subnet-db", "default", ["db.internal"], "{number: 5432, name: tcp, protocol: TCP}", ["192.168.10.3"],
              addresses=["192.168.10.0/24"]),
        entry("external-api", "default", ["api.example.com"], "{number: 443, name: https, protocol: TLS}",
              ["api.example.com"], resolution="DNS"),
        entry("external-web", "default", ["www.example.org"], "{number: 443, name: https, protocol: TLS}",
              ["www.example.org"], resolution="DNS"),
        # Inside the mesh, one endpoint with a sidecar: auto mTLS (transport socket matches + EDS metadata).
        f"apiVersion: {API_VERSION}\nkind: ServiceEntry\nmetadata: {{name: details, namespace: default}}\n"
        "spec:\n  hosts: [details.default.svc.cluster.local]\n  location: MESH_INTERNAL\n"
        "  ports: [{number: 9080, name: http, protocol: HTTP}]\n  resolution: STATIC\n"
        "  endpoints: [{address: 10.1.0.1, labels: {security.istio.io/tlsMode: istio}}, {address: 10.1.0.2}]\n",
    )


def outbound_policy(mode: str, namespace: str = "default") -> str:
    """The namespace's default Sidecar with outboundTrafficPolicy.mode MODE."""
    return (f"apiVersion: {API_VERSION}\nkind: Sidecar\nmetadata: {{name: default, namespace: {namespace}}}\n"
            f"spec:\n  outboundTrafficPolicy: {{mode: {mode}}}\n")
