/// One weighted destination of an HTTP route.
public struct HTTPRouteDestination: Sendable, Hashable {
    /// Where the traffic goes.
    public var destination: Destination
    /// The relative weight. meshd treats weights as relative shares (Istio documents them as
    /// percentages summing to 100); `nil` on a lone destination means all of the traffic.
    public var weight: Int?
    /// Header operations for requests sent to this destination (and their responses).
    public var headers: HeaderOperations?

    /// Creates a weighted destination.
    public init(destination: Destination, weight: Int? = nil, headers: HeaderOperations? = nil) {
        self.destination = destination
        self.weight = weight
        self.headers = headers
    }
}

extension HTTPRouteDestination {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        destination = try Destination(reading: r["destination"])
        // Istio's proto field is int32; negative weights are refused as Istio refuses them.
        weight = try r["weight"].nonNegativeInt32().map(Int.init)
        headers = try r["headers"].isAbsent ? nil : HeaderOperations(reading: r["headers"])
    }
}
