import Discovery
import MeshModel

/// A Kubernetes `Service` as the registry uses it: Istio's reading of its host, ports,
/// protocols, addresses and selector.
struct KubeService: Sendable, Hashable {
    var key: ObjectKey
    var host: String
    var service: Service
    /// `spec.selector`, when non-empty and the service balances over endpoints (not headless,
    /// not ExternalName): what selects WorkloadEntries (and, in Istio, pods).
    var selector: [String: String]?
    /// `type: ExternalName`: an alias of another host in Istio, which meshd does not serve yet.
    var externalName: String?
    /// Whether the Service carries Istio's persistent-session labels (endpoints may drain).
    var supportsDraining: Bool
    /// `networking.istio.io/exportTo` contains `~`: never pushed.
    var hidden: Bool

    /// The Service in `object`, with hosts under `clusterDomain`; nil when it lacks the
    /// fields every Service has (a broken object is left out, not guessed at).
    init?(_ object: KubeObject, clusterDomain: String) {
        let body = object.body
        guard let spec = body["spec"] else { return nil }
        key = object.key
        host = "\(object.key.name).\(object.key.namespace).svc.\(clusterDomain)"
        let labels = Self.strings(body["metadata"]?["labels"])
        let annotations = Self.strings(body["metadata"]?["annotations"])
        let ports: [Service.Port] = (spec["ports"]?.arrayValue ?? []).compactMap { port in
            guard let number = port["port"]?.intValue, (1...65535).contains(number) else { return nil }
            let target: UInt32? = port["targetPort"]?.intValue.flatMap { (1...65535).contains($0) ? UInt32($0) : nil }
            return Service.Port(
                number: UInt32(number), name: port["name"]?.stringValue ?? "",
                protocolName: Self.protocolName(
                    name: port["name"]?.stringValue ?? "", appProtocol: port["appProtocol"]?.stringValue,
                    transport: port["protocol"]?.stringValue ?? "TCP", port: number),
                targetPort: target)
        }
        let type = spec["type"]?.stringValue ?? "ClusterIP"
        let clusterIP = spec["clusterIP"]?.stringValue ?? ""
        let clusterIPs = (spec["clusterIPs"]?.arrayValue ?? []).compactMap(\.stringValue)
        let headless = clusterIP == "None"
        externalName = type == "ExternalName" ? spec["externalName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } : nil
        var addresses: [String] = []
        if !headless, !clusterIP.isEmpty { addresses = clusterIPs.count > 1 ? clusterIPs : [clusterIP] }
        let exportTo = (annotations["networking.istio.io/exportTo"] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        hidden = exportTo.contains("~")
        supportsDraining = labels["istio.io/persistent-session"] != nil || labels["istio.io/persistent-session-header"] != nil
        service = Service(
            host: host, namespace: object.key.namespace, ports: ports,
            source: RegistrySource(kind: .service, namespace: object.key.namespace, name: object.key.name),
            exportTo: exportTo, resolution: headless ? .none : .static, location: "MESH_INTERNAL", addresses: addresses)
        let selector = Self.strings(spec["selector"])
        self.selector = selector.isEmpty || headless || externalName != nil ? nil : selector
    }

    /// Istio's protocol for a Service port: UDP for UDP ports; else from `appProtocol` when set
    /// (the name is then not read), else from the name's part before the first `-`
    /// (`grpc-web…` as a whole first), matched case-insensitively; else TCP on the well-known
    /// server-first ports (25, 53, 3306, 27017); else empty (sniffed).
    static func protocolName(name: String, appProtocol: String?, transport: String, port: Int) -> String {
        if transport.uppercased() == "UDP" { return "UDP" }
        let input: String
        if let appProtocol, !appProtocol.isEmpty {
            switch appProtocol {
            case "kubernetes.io/h2c": return "HTTP2"
            case "kubernetes.io/ws": return "HTTP"
            case "kubernetes.io/wss": return "HTTPS"
            default: input = appProtocol
            }
        } else {
            input = name
        }
        let lowered = input.lowercased()
        if lowered.hasPrefix("grpc-web") { return "GRPC-WEB" }
        let prefix = lowered.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let known: [String: String] = [
            "tcp": "TCP", "udp": "UDP", "grpc": "GRPC", "http": "HTTP", "http_proxy": "HTTP_PROXY", "http2": "HTTP2",
            "https": "HTTPS", "tls": "TLS", "mongo": "MONGO", "redis": "REDIS", "mysql": "MYSQL",
        ]
        if let known = known[prefix] { return known }
        return [25, 53, 3306, 27017].contains(port) ? "TCP" : ""
    }

    /// A `map[string]string` field (labels, annotations, selector); empty when absent.
    static func strings(_ value: JSONValue?) -> [String: String] {
        guard case .object(let members)? = value else { return [:] }
        return members.compactMapValues(\.stringValue)
    }
}
