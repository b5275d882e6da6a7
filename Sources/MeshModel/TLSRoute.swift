/// A `tls[]` rule: unterminated TLS connections whose SNI matches go to the weighted
/// destinations (first rule that matches wins).
public struct TLSRoute: Sendable, Hashable {
    /// Alternative conditions; never empty once validated (Istio requires a match with SNI hosts).
    public var match: [TLSMatchAttributes]
    /// The weighted destinations; never empty once validated.
    public var route: [RouteDestination]

    public init(match: [TLSMatchAttributes], route: [RouteDestination]) {
        self.match = match
        self.route = route
    }
}

extension TLSRoute {
    init(reading r: FieldReader, virtualServiceHosts: [String]) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        var match: [TLSMatchAttributes] = []
        for m in try r["match"].list() {
            match.append(try TLSMatchAttributes(reading: m, virtualServiceHosts: virtualServiceHosts))
        }
        guard !match.isEmpty else { throw r["match"].error("TLS route must have at least one match condition") }
        self.match = match
        route = try RouteDestination.list(r["route"])
    }
}
