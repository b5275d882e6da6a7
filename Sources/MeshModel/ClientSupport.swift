/// The one table of per-kind support for the fields meshd translates (docs/istio-api-support.md
/// says the same in prose). Patterns are relative to a `TrafficPolicy`, in `HonouredFields`'
/// syntax (`P=VALUE` for one enum value, `P.*` for a subtree); `of(kind:)` expands them under
/// every place a DestinationRule holds a traffic policy. A pattern in this table counts as
/// translated by meshd (no "not yet honoured" warning); a kind that does not honour it gets its
/// own warning instead. The Envoy issue adds its column here.
public enum ClientSupport {
    private static let roundRobinInstead = FieldSupport.substituted(
        "ROUND_ROBIN is sent (gRPC accepts only ROUND_ROBIN and RING_HASH)")

    /// Field pattern (relative to a TrafficPolicy) → support per client.
    static let trafficPolicy: [String: [ProxyClient: FieldSupport]] = [
        "loadBalancer": [.proxylessGRPC: .honoured],
        "loadBalancer.simple=ROUND_ROBIN": [.proxylessGRPC: .honoured],
        "loadBalancer.simple=UNSPECIFIED": [.proxylessGRPC: .honoured],
        "loadBalancer.simple=LEAST_REQUEST": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.simple=LEAST_CONN": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.simple=RANDOM": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.simple=PASSTHROUGH": [.proxylessGRPC: roundRobinInstead],
        "loadBalancer.consistentHash": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.httpHeaderName": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.httpCookie.*": [.proxylessGRPC: .notHonoured],
        "loadBalancer.consistentHash.useSourceIp": [.proxylessGRPC: .notHonoured],
        "loadBalancer.consistentHash.httpQueryParameterName": [.proxylessGRPC: .notHonoured],
        "loadBalancer.consistentHash.ringHash": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.ringHash.minimumRingSize": [.proxylessGRPC: .honoured],
        "loadBalancer.consistentHash.maglev.*": [.proxylessGRPC: .substituted(
            "a ring hash (default minimum ring size) is sent, gRPC has no maglev")],
        "loadBalancer.consistentHash.minimumRingSize": [.proxylessGRPC: .honoured],
        "connectionPool": [.proxylessGRPC: .honoured],
        "connectionPool.http": [.proxylessGRPC: .honoured],
        "connectionPool.http.http2MaxRequests": [.proxylessGRPC: .honoured],
        "connectionPool.http.http1MaxPendingRequests": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.maxRequestsPerConnection": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.maxRetries": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.idleTimeout": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.h2UpgradePolicy": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.useClientProtocol": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.maxConcurrentStreams": [.proxylessGRPC: .notHonoured],
        "connectionPool.http.http2KeepAlive.*": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp": [.proxylessGRPC: .honoured],
        "connectionPool.tcp.maxConnections": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.connectTimeout": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.tcpKeepalive.*": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.maxConnectionDuration": [.proxylessGRPC: .notHonoured],
        "connectionPool.tcp.idleTimeout": [.proxylessGRPC: .notHonoured],
        "outlierDetection": [.proxylessGRPC: .honoured],
        "outlierDetection.consecutive5xxErrors": [.proxylessGRPC: .substituted(
            "failure-percentage ejection is sent (gRPC ignores consecutive-error ejection): an endpoint failing more than 85% of at least this many RPCs in an interval is ejected")],
        "outlierDetection.consecutiveGatewayErrors": [.proxylessGRPC: .substituted(
            "failure-percentage ejection is sent (gRPC ignores consecutive-error ejection): an endpoint failing more than 85% of at least this many RPCs in an interval is ejected; every failed RPC counts, not only gateway errors")],
        "outlierDetection.interval": [.proxylessGRPC: .honoured],
        "outlierDetection.baseEjectionTime": [.proxylessGRPC: .honoured],
        "outlierDetection.maxEjectionPercent": [.proxylessGRPC: .honoured],
        "outlierDetection.minHealthPercent": [.proxylessGRPC: .notHonoured],
        "outlierDetection.consecutiveErrors": [.proxylessGRPC: .notHonoured],
        "outlierDetection.splitExternalLocalOriginErrors": [.proxylessGRPC: .notHonoured],
        "outlierDetection.consecutiveLocalOriginFailures": [.proxylessGRPC: .notHonoured],
        "outlierDetection.outlierDetectionHttpErrorCodes": [.proxylessGRPC: .notHonoured],
    ]

    /// Where a DestinationRule holds a traffic policy (patterns, list indices left out).
    static let policyLocations = ["trafficPolicy", "trafficPolicy.portLevelSettings",
                                  "subsets.trafficPolicy", "subsets.trafficPolicy.portLevelSettings"]

    /// The table for resources of `kind`, patterns relative to the spec.
    /// VirtualService match conditions whose meaning differs for gRPC clients.
    static let virtualService: [String: [ProxyClient: FieldSupport]] = [
        // gRPC's header matchers never match an absent header, inverted or not, and gRPC does not
        // read treat_missing_header_as_empty.
        "http.match.withoutHeaders": [.proxylessGRPC: .substituted(
            "honoured when the request carries the header; gRPC clients never match a request without it, so such requests fall through to later rules")],
        // A gRPC request has no query string, so such a match can never hold for it; gRPC skips
        // the route outright, which is the same outcome.
        "http.match.queryParams": [.proxylessGRPC: .notHonoured],
        // gRPC clients neither follow redirects nor read direct responses; they fail the RPCs such
        // a route matches with UNAVAILABLE, so the route still catches what it matches.
        "http.redirect": [.proxylessGRPC: .substituted("gRPC clients fail the RPCs this rule matches with UNAVAILABLE (gRPC cannot follow a redirect)")],
        "http.directResponse": [.proxylessGRPC: .substituted("gRPC clients fail the RPCs this rule matches with UNAVAILABLE (gRPC cannot read a direct response)")],
        // Translated for Envoy; grpc-core reads none of prefix_rewrite, regex_rewrite,
        // host_rewrite_literal, the header operation fields or request_mirror_policies, so the
        // RPCs route exactly as without them. CORS is not sent to gRPC clients at all (they NACK
        // a per-route configuration of a filter they do not know), nor are TCP and TLS routes.
        "http.rewrite.*": [.proxylessGRPC: .notHonoured],
        "http.headers.*": [.proxylessGRPC: .notHonoured],
        "http.route.headers.*": [.proxylessGRPC: .notHonoured],
        "http.mirror.*": [.proxylessGRPC: .notHonoured],
        "http.mirrors.*": [.proxylessGRPC: .notHonoured],
        "http.mirrorPercentage.*": [.proxylessGRPC: .notHonoured],
        "http.mirrorPercent": [.proxylessGRPC: .notHonoured],
        "http.corsPolicy.*": [.proxylessGRPC: .notHonoured],
        "tcp.*": [.proxylessGRPC: .notHonoured],
        "tls.*": [.proxylessGRPC: .notHonoured],
    ]

    static func of(_ kind: String) -> [String: [ProxyClient: FieldSupport]] {
        switch kind {
        case "DestinationRule": destinationRule
        case "VirtualService": virtualService
        default: [:]
        }
    }

    private static let destinationRule: [String: [ProxyClient: FieldSupport]] = {
        var table: [String: [ProxyClient: FieldSupport]] = [:]
        for location in policyLocations {
            for (pattern, columns) in trafficPolicy { table["\(location).\(pattern)"] = columns }
        }
        return table
    }()
}
