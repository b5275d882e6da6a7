/// One HTTP routing rule: when a request matches, send it to the weighted destinations.
public struct HTTPRoute: Sendable, Hashable {
    /// A name for the rule, used in logs and stats.
    public var name: String?
    /// Alternative conditions (any one suffices); empty matches every request.
    public var match: [HTTPMatchRequest]
    /// The weighted destinations; never empty once validated.
    public var route: [HTTPRouteDestination]
    /// Request timeout as a duration string (`5s`); parse with `IstioDuration`.
    public var timeout: String?
    /// Retry policy.
    public var retries: HTTPRetry?

    /// Creates a rule.
    public init(
        name: String? = nil,
        match: [HTTPMatchRequest] = [],
        route: [HTTPRouteDestination],
        timeout: String? = nil,
        retries: HTTPRetry? = nil
    ) {
        self.name = name
        self.match = match
        self.route = route
        self.timeout = timeout
        self.retries = retries
    }
}

extension HTTPRoute {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        name = try r["name"].string()
        var match: [HTTPMatchRequest] = []
        for m in try r["match"].list() {
            match.append(try HTTPMatchRequest(reading: m))
        }
        self.match = match
        var route: [HTTPRouteDestination] = []
        for d in try r["route"].list() {
            route.append(try HTTPRouteDestination(reading: d))
        }
        guard !route.isEmpty else { throw r["route"].error("must not be empty") }
        // Proxies reject (gRPC clients NACK) a weighted split whose weights are all zero; an
        // omitted weight counts as zero once there are several destinations, as in Istio.
        if route.count > 1, route.allSatisfy({ ($0.weight ?? 0) == 0 }) {
            throw r["route"].error("weights must not all be zero")
        }
        self.route = route
        timeout = try r["timeout"].duration()
        retries = try r["retries"].isAbsent ? nil : HTTPRetry(reading: r["retries"])
    }
}
