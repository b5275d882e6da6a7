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
    /// Rules for opaque TCP connections, evaluated in order.
    public var tcp: [TCPRoute]
    /// Rules for unterminated TLS connections (by SNI), evaluated in order.
    public var tls: [TLSRoute]

    /// Creates a VirtualService.
    public init(
        hosts: [String], gateways: [String] = [], http: [HTTPRoute] = [], exportTo: [String] = [],
        tcp: [TCPRoute] = [], tls: [TLSRoute] = []
    ) {
        self.hosts = hosts
        self.gateways = gateways
        self.http = http
        self.exportTo = exportTo
        self.tcp = tcp
        self.tls = tls
    }

    /// Every destination the rules send to or mirror to, for the services a proxy must see.
    public var referencedDestinations: [Destination] {
        var destinations: [Destination] = []
        for rule in http {
            destinations += rule.route.map(\.destination)
            destinations += rule.mirrors.map(\.destination)
        }
        for rule in tcp { destinations += rule.route.map(\.destination) }
        for rule in tls { destinations += rule.route.map(\.destination) }
        return destinations
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
        var tcp: [TCPRoute] = []
        for rule in try spec["tcp"].list() { tcp.append(try TCPRoute(reading: rule)) }
        self.tcp = tcp
        var tls: [TLSRoute] = []
        for rule in try spec["tls"].list() { tls.append(try TLSRoute(reading: rule, virtualServiceHosts: hosts)) }
        self.tls = tls
        exportTo = try spec["exportTo"].exportTo(namespace: namespace, allowNone: false)
    }
}
