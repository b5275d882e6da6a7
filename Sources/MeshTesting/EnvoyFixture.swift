import Translator

/// A mesh for Envoy sidecar tests, beside `CanaryFixture` (reviews v1/v2 on GRPC 9080): the
/// sidecar's own workload (`app-1`, 10.0.0.5, serving productpage's HTTP port on 9081 and a TCP
/// port on 9000), HTTP `ratings` in another namespace, TCP services with a virtual IP, without
/// one and on a CIDR, and two TLS services on 443 told apart by SNI.
public enum EnvoyFixture {
    /// The Envoy sidecar of `app-1`, as its node id names it.
    public static let nodeID = "sidecar~10.0.0.5~app-1.default~default.svc.cluster.local"

    /// The proxy `nodeID` identifies (what ProxyIdentity makes of it).
    public static func proxy(namespace: String = "default") -> Proxy {
        Proxy(id: nodeID, kind: .sidecar, namespace: namespace, instanceIPs: ["10.0.0.5"])
    }

    public static let mesh = """
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: productpage, namespace: default}
        spec:
          hosts: [productpage.default.svc.cluster.local]
          ports: [{number: 9080, name: http, protocol: HTTP, targetPort: 9081}, {number: 9000, name: tcp-admin, protocol: TCP}]
          resolution: STATIC
          workloadSelector: {labels: {app: productpage}}
        ---
        apiVersion: networking.istio.io/v1
        kind: WorkloadEntry
        metadata: {name: app-1, namespace: default}
        spec: {address: 10.0.0.5, labels: {app: productpage}}
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: ratings, namespace: prod}
        spec:
          hosts: [ratings.prod.svc.cluster.local]
          ports: [{number: 9080, name: http, protocol: HTTP}]
          resolution: STATIC
          endpoints: [{address: 10.0.1.7}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: mysql, namespace: default}
        spec:
          hosts: [mysql.default.svc.cluster.local]
          addresses: [10.0.0.50]
          ports: [{number: 3306, name: tcp, protocol: TCP}]
          resolution: STATIC
          endpoints: [{address: 10.0.2.1}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: legacy, namespace: default}
        spec:
          hosts: [legacy.default.svc.cluster.local]
          ports: [{number: 5432, name: tcp, protocol: TCP}]
          resolution: STATIC
          endpoints: [{address: 10.0.2.2}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: subnet-db, namespace: default}
        spec:
          hosts: [db.internal]
          addresses: [192.168.10.0/24]
          ports: [{number: 5432, name: tcp, protocol: TCP}]
          resolution: STATIC
          endpoints: [{address: 192.168.10.3}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: external-api, namespace: default}
        spec:
          hosts: [api.example.com]
          ports: [{number: 443, name: https, protocol: TLS}]
          location: MESH_EXTERNAL
          resolution: DNS
          endpoints: [{address: api.example.com}]
        ---
        apiVersion: networking.istio.io/v1
        kind: ServiceEntry
        metadata: {name: external-web, namespace: default}
        spec:
          hosts: [www.example.org]
          ports: [{number: 443, name: https, protocol: TLS}]
          location: MESH_EXTERNAL
          resolution: DNS
          endpoints: [{address: www.example.org}]
        """

    /// A default Sidecar for `namespace` with `mode` as its outbound traffic policy.
    public static func outboundPolicy(_ mode: String, namespace: String = "default") -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Sidecar
        metadata: {name: default, namespace: \(namespace)}
        spec:
          outboundTrafficPolicy: {mode: \(mode)}
        """
    }
}
