/// A `tcp[]` rule: connections that match go to the weighted destinations (first rule that
/// matches wins; a rule without matches takes every connection).
public struct TCPRoute: Sendable, Hashable {
    /// Alternative conditions; empty matches every connection.
    public var match: [L4MatchAttributes]
    /// The weighted destinations; never empty once validated.
    public var route: [RouteDestination]

    public init(match: [L4MatchAttributes] = [], route: [RouteDestination]) {
        self.match = match
        self.route = route
    }
}

extension TCPRoute {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        var match: [L4MatchAttributes] = []
        for m in try r["match"].list() { match.append(try L4MatchAttributes(reading: m)) }
        self.match = match
        route = try RouteDestination.list(r["route"])
    }
}
