import Translator

/// An Envoy ingress gateway for gateway tests, beside `CanaryFixture` and `EnvoyFixture`:
/// the proxy (`istio: ingressgateway` in `istio-system`) and Gateways in the shapes users write.
public enum GatewayFixture {
    /// The gateway's node id, as Istio names router proxies.
    public static let nodeID = "router~10.0.0.9~ingress-1.istio-system~istio-system.svc.cluster.local"

    /// The proxy `nodeID` identifies, with the labels the Gateways select.
    public static func proxy(labels: [String: String] = ["istio": "ingressgateway"]) -> Proxy {
        Proxy(id: nodeID, kind: .gateway, namespace: "istio-system", labels: labels, instanceIPs: ["10.0.0.9"])
    }

    /// A Gateway `namespace/name` selecting the ingress gateway, with `servers` (YAML flow
    /// sequence items, e.g. `{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}`).
    public static func gateway(_ name: String = "ingress", namespace: String = "istio-system", servers: [String]) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: Gateway
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          selector: {istio: ingressgateway}
          servers: [\(servers.joined(separator: ", "))]
        """
    }

    /// A plain HTTP server on `port` for `hosts`.
    public static func http(_ port: UInt32 = 80, name: String = "http", hosts: [String], redirect: Bool = false) -> String {
        "{port: {number: \(port), name: \(name), protocol: HTTP}, hosts: [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]"
            + (redirect ? ", tls: {httpsRedirect: true}" : "") + "}"
    }

    /// A VirtualService `default/name` for `hosts`, bound to `gateways`, with raw `http` rules
    /// (YAML flow sequence items).
    public static func virtualService(
        _ name: String, namespace: String = "default", hosts: [String], gateways: [String], http: [String]
    ) -> String {
        """
        apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          hosts: [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]
          gateways: [\(gateways.joined(separator: ", "))]
          http: [\(http.joined(separator: ", "))]
        """
    }
}
