import MeshCommon

/// A `tcp[]` rule's match (Istio's `L4MatchAttributes`): conditions on the connection and on who
/// opens it. All set conditions must hold; a rule's matches are alternatives.
public struct L4MatchAttributes: Sendable, Hashable {
    /// Destination IPs or CIDRs (`a.b.c.d/xx`) the connection must be addressed to.
    public var destinationSubnets: [String]
    /// The service port the connection is made to.
    public var port: UInt32?
    /// Labels the calling workload must carry.
    public var sourceLabels: [String: String]
    /// Gateways the match applies to (overrides the VirtualService's); `mesh` means sidecars.
    public var gateways: [String]
    /// The namespace the calling workload must run in.
    public var sourceNamespace: String?

    public init(
        destinationSubnets: [String] = [], port: UInt32? = nil, sourceLabels: [String: String] = [:],
        gateways: [String] = [], sourceNamespace: String? = nil
    ) {
        self.destinationSubnets = destinationSubnets
        self.port = port
        self.sourceLabels = sourceLabels
        self.gateways = gateways
        self.sourceNamespace = sourceNamespace
    }
}

extension L4MatchAttributes {
    /// Reads the conditions `tcp[].match[]` and `tls[].match[]` share.
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        destinationSubnets = try r["destinationSubnets"].strings()
        for (reader, subnet) in zip(try r["destinationSubnets"].list(), destinationSubnets)
        where !IPAddressSyntax.isIPAddress(subnet) && !IPAddressSyntax.isCIDR(subnet) {
            throw reader.error("\"\(subnet)\" is not an IP address or a CIDR block")
        }
        port = try r["port"].port()
        sourceLabels = try r["sourceLabels"].stringMap()
        for (key, _) in sourceLabels where key.isEmpty {
            throw r["sourceLabels"].error("a label key must not be empty")
        }
        gateways = try r["gateways"].strings()
        sourceNamespace = try r["sourceNamespace"].string().flatMap { $0.isEmpty ? nil : $0 }
        if let namespace = sourceNamespace, !NameRules.isDNS1123Label(namespace) {
            throw r["sourceNamespace"].error(NameRules.labelRule)
        }
    }
}
