/// Istio `VirtualService` (the subset meshd implements): routing rules for a set of hosts.
public struct VirtualService: Sendable, Hashable {
    /// The hosts the rules apply to, as written; never empty once validated.
    public var hosts: [String]
    /// Gateways the rules apply to (`mesh` or empty: sidecars and proxyless clients).
    public var gateways: [String]
    /// HTTP rules, evaluated in order; the first match wins.
    public var http: [HTTPRoute]
    /// Namespaces the rules are visible to (see `ExportTo`); empty means everywhere.
    public var exportTo: [String]

    /// Creates a VirtualService.
    public init(hosts: [String], gateways: [String] = [], http: [HTTPRoute] = [], exportTo: [String] = []) {
        self.hosts = hosts
        self.gateways = gateways
        self.http = http
        self.exportTo = exportTo
    }
}

extension VirtualService {
    init(reading spec: FieldReader, namespace: String) throws(MeshModelError) {
        hosts = try spec["hosts"].hosts()
        guard !hosts.isEmpty else { throw spec["hosts"].error("must not be empty") }
        gateways = try spec["gateways"].strings()
        var http: [HTTPRoute] = []
        for rule in try spec["http"].list() {
            http.append(try HTTPRoute(reading: rule))
        }
        self.http = http
        exportTo = try spec["exportTo"].exportTo(namespace: namespace, allowNone: false)
    }
}
