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
    /// Faults injected into the rule's requests.
    public var fault: HTTPFaultInjection?
    /// A redirect answered instead of forwarding (then `route` is empty).
    public var redirect: HTTPRedirect?
    /// A fixed response answered instead of forwarding (then `route` is empty).
    public var directResponse: HTTPDirectResponse?

    /// Creates a rule.
    public init(
        name: String? = nil,
        match: [HTTPMatchRequest] = [],
        route: [HTTPRouteDestination],
        timeout: String? = nil,
        retries: HTTPRetry? = nil,
        fault: HTTPFaultInjection? = nil,
        redirect: HTTPRedirect? = nil,
        directResponse: HTTPDirectResponse? = nil
    ) {
        self.name = name
        self.match = match
        self.route = route
        self.timeout = timeout
        self.retries = retries
        self.fault = fault
        self.redirect = redirect
        self.directResponse = directResponse
    }
}

extension HTTPRoute {
    init(reading r: FieldReader) throws(MeshModelError) {
        guard try r.object() != nil else { throw r.error("expected an object") }
        // proto3: an empty string is the unset value; a route must not be named "".
        name = try r["name"].string().flatMap { $0.isEmpty ? nil : $0 }
        var match: [HTTPMatchRequest] = []
        for m in try r["match"].list() {
            match.append(try HTTPMatchRequest(reading: m))
        }
        self.match = match
        // Delegation (a rule handing its requests to another VirtualService) is not built yet;
        // accepting it would drop the rule's traffic on the floor, so it is refused by name.
        if !r["delegate"].isAbsent {
            throw r["delegate"].error("delegate is not supported by meshd yet: write the delegated routes into this VirtualService")
        }
        var route: [HTTPRouteDestination] = []
        let routeReaders = try r["route"].list()
        for d in routeReaders {
            route.append(try HTTPRouteDestination(reading: d))
        }
        redirect = try r["redirect"].isAbsent ? nil : HTTPRedirect(reading: r["redirect"])
        directResponse = try r["directResponse"].isAbsent ? nil : HTTPDirectResponse(reading: r["directResponse"])
        // Istio: a rule forwards (`route`), redirects or answers directly — exactly one.
        let answers = [redirect != nil, directResponse != nil, !route.isEmpty].filter { $0 }.count
        if answers > 1 {
            throw r.error("must set only one of route, redirect, directResponse")
        }
        guard answers == 1 else { throw r["route"].error("must not be empty (or set redirect or directResponse)") }
        // Proxies reject (gRPC clients NACK) a weighted split whose weights are all zero; an
        // omitted weight counts as zero once there are several destinations, as in Istio.
        if route.count > 1, route.allSatisfy({ ($0.weight ?? 0) == 0 }) {
            throw r["route"].error("weights must not all be zero")
        }
        // Envoy and gRPC add a route's weights into a uint32 total; a sum past it is refused here
        // rather than found when translating. Destinations naming one cluster are summed by the
        // translator too, so the bound on the whole rule covers them.
        var total: UInt32 = 0
        for (destination, reader) in zip(route, routeReaders) {
            let (sum, overflow) = total.addingReportingOverflow(UInt32(clamping: destination.weight ?? 0))
            guard !overflow else {
                throw reader["weight"].error("the weights of this rule add up to more than \(UInt32.max)")
            }
            total = sum
        }
        self.route = route
        timeout = try r["timeout"].duration()
        retries = try r["retries"].isAbsent ? nil : HTTPRetry(reading: r["retries"])
        fault = try r["fault"].isAbsent ? nil : HTTPFaultInjection(reading: r["fault"])
    }
}
