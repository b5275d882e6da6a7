import EnvoyAPI

/// The HTTP filters of the connection managers meshd writes, in either dialect. The fault
/// filter is always listed (empty), so a route's fault configuration acts the moment a
/// VirtualService sets one, without a listener change; Envoy proxies also get the CORS filter
/// (routes carry their policies; gRPC clients do not know it, see `RouteCors`); the router
/// comes last (grpcio requires it last).
public enum HTTPFilters {
    /// The Router HTTP filter's name.
    public static let routerName = "envoy.filters.http.router"

    /// The filters of a connection manager routing outbound traffic for a proxy reading `dialect`.
    static func outbound(_ dialect: ProxyDialect) -> [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] {
        var fault = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        fault.name = RouteFault.filterName
        fault.typedConfig = AnyPacking.pack(Envoy_Extensions_Filters_Http_Fault_V3_HTTPFault())
        return [fault] + (RouteCors.applies(to: dialect) ? [RouteCors.httpFilter()] : []) + [router()]
    }

    /// The Router filter.
    static func router() -> Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter {
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = routerName
        router.typedConfig = AnyPacking.pack(Envoy_Extensions_Filters_Http_Router_V3_Router())
        return router
    }
}
