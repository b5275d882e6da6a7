/// One weighted destination of a `tcp[]` or `tls[]` rule (Istio's `RouteDestination`).
public struct RouteDestination: Sendable, Hashable {
    /// Where the connections go.
    public var destination: Destination
    /// The relative weight; `nil` on a lone destination means all connections.
    public var weight: Int?

    public init(destination: Destination, weight: Int? = nil) {
        self.destination = destination
        self.weight = weight
    }
}

extension RouteDestination {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        destination = try Destination(reading: r["destination"])
        weight = try r["weight"].nonNegativeInt32().map(Int.init)
    }

    /// The weights rules shared by every route kind, as Istio and the proxies impose them: weights
    /// of several destinations must not all be zero (an omitted weight counts as zero), and their
    /// sum must fit in uint32 (Envoy and gRPC add them into one).
    static func checkWeights(_ weights: [Int?], readers: [FieldReader], list: FieldReader) throws(MeshModelError) {
        if weights.count > 1, weights.allSatisfy({ ($0 ?? 0) == 0 }) {
            throw list.error("weights must not all be zero")
        }
        var total: UInt32 = 0
        for (weight, reader) in zip(weights, readers) {
            let (sum, overflow) = total.addingReportingOverflow(UInt32(clamping: weight ?? 0))
            guard !overflow else {
                throw reader["weight"].error("the weights of this rule add up to more than \(UInt32.max)")
            }
            total = sum
        }
    }

    /// A rule's `route` list, which must not be empty.
    static func list(_ r: FieldReader) throws(MeshModelError) -> [RouteDestination] {
        let readers = try r.list()
        var destinations: [RouteDestination] = []
        for reader in readers { destinations.append(try RouteDestination(reading: reader)) }
        guard !destinations.isEmpty else { throw r.error("must not be empty") }
        try checkWeights(destinations.map(\.weight), readers: readers, list: r)
        return destinations
    }
}
