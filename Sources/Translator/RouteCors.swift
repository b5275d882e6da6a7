import EnvoyAPI
import MeshModel

/// A rule's `corsPolicy` as Envoy's CORS filter configuration for the route
/// (`typed_per_filter_config["envoy.filters.http.cors"]`, the filter's own CorsPolicy — the
/// route-level `cors` field is deprecated), as istiod writes it. Sent only to Envoy proxies:
/// gRPC clients have no CORS filter and NACK a per-route configuration of a filter they do not
/// know, so a proxyless view gets neither the filter nor the configuration (warned on apply).
enum RouteCors {
    /// The CORS filter's name in the HttpConnectionManager and in `typed_per_filter_config`.
    static let filterName = "envoy.filters.http.cors"

    /// Whether proxies reading `dialect` get CORS (the filter and per-route policies).
    static func applies(to dialect: ProxyDialect) -> Bool {
        switch dialect {
        case .grpc: false
        case .envoy: true
        }
    }

    /// The (empty) filter listed in the HttpConnectionManager before the router.
    static func httpFilter() -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter {
        var filter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        filter.name = filterName
        filter.typedConfig = AnyPacking.pack(Envoy_Extensions_Filters_Http_Cors_V3_Cors())
        return filter
    }

    /// The route's CORS policy.
    static func config(_ policy: CorsPolicy) -> Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy {
        var config = Envoy_Extensions_Filters_Http_Cors_V3_CorsPolicy()
        config.allowOriginStringMatch = policy.allowOrigins.map(RouteMatchTranslation.stringMatcher)
        config.allowMethods = policy.allowMethods.joined(separator: ",")
        config.allowHeaders = policy.allowHeaders.joined(separator: ",")
        config.exposeHeaders = policy.exposeHeaders.joined(separator: ",")
        if let maxAge = policy.maxAgeSeconds { config.maxAge = String(maxAge) }
        if let credentials = policy.allowCredentials { config.allowCredentials = .init(credentials) }
        var enabled = Envoy_Type_V3_FractionalPercent()
        enabled.numerator = 100
        enabled.denominator = .hundred
        config.filterEnabled.defaultValue = enabled
        // Istio: unmatched preflights are forwarded unless told to IGNORE them (Envoy's own
        // default before 1.30).
        config.forwardNotMatchingPreflights = .init(policy.unmatchedPreflights == .forward)
        return config
    }
}
