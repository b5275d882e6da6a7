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
    /// How the forwarded request's path and authority are rewritten.
    public var rewrite: HTTPRewrite?
    /// Header operations on the rule's requests and responses.
    public var headers: HeaderOperations?
    /// Where copies of the rule's requests go (`mirror`, `mirrors`).
    public var mirrors: [HTTPMirrorPolicy]
    /// The CORS policy of the rule's routes.
    public var corsPolicy: CorsPolicy?

    /// Creates a rule.
    public init(
        name: String? = nil,
        match: [HTTPMatchRequest] = [],
        route: [HTTPRouteDestination],
        timeout: String? = nil,
        retries: HTTPRetry? = nil,
        fault: HTTPFaultInjection? = nil,
        redirect: HTTPRedirect? = nil,
        directResponse: HTTPDirectResponse? = nil,
        rewrite: HTTPRewrite? = nil,
        headers: HeaderOperations? = nil,
        mirrors: [HTTPMirrorPolicy] = [],
        corsPolicy: CorsPolicy? = nil
    ) {
        self.name = name
        self.match = match
        self.route = route
        self.timeout = timeout
        self.retries = retries
        self.fault = fault
        self.redirect = redirect
        self.directResponse = directResponse
        self.rewrite = rewrite
        self.headers = headers
        self.mirrors = mirrors
        self.corsPolicy = corsPolicy
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
        // Proxies reject (gRPC clients NACK) a weighted split whose weights are all zero, and
        // Envoy and gRPC add a route's weights into a uint32 total; destinations naming one
        // cluster are summed by the translator too, so the bound on the whole rule covers them.
        try RouteDestination.checkWeights(route.map(\.weight), readers: routeReaders, list: r["route"])
        self.route = route
        timeout = try r["timeout"].duration()
        retries = try r["retries"].isAbsent ? nil : HTTPRetry(reading: r["retries"])
        fault = try r["fault"].isAbsent ? nil : HTTPFaultInjection(reading: r["fault"])
        rewrite = try r["rewrite"].isAbsent ? nil : HTTPRewrite(reading: r["rewrite"])
        // Istio: a redirect answers instead of forwarding, so there is nothing to rewrite.
        if rewrite != nil, redirect != nil { throw r["rewrite"].error("rewrite may not be used with redirect") }
        headers = try r["headers"].isAbsent ? nil : HeaderOperations(reading: r["headers"])
        mirrors = try HTTPMirrorPolicy.reading(rule: r)
        corsPolicy = try r["corsPolicy"].isAbsent ? nil : CorsPolicy(reading: r["corsPolicy"])
    }
}
