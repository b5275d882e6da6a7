import EnvoyAPI

/// One filter chain of an Envoy listener for a service port, as `L4RouteTranslation` computes it
/// from a VirtualService's `tcp[]`/`tls[]` rules: which connections it takes and the
/// `tcp_proxy` that forwards them.
public struct L4FilterChain: Sendable, Equatable {
    /// The network filter's name in a filter chain.
    public static let tcpProxyFilterName = "envoy.filters.network.tcp_proxy"

    /// A name for the chain (`tls[0].match[1]`, `tcp[2]`, `default`).
    public var name: String
    /// Which connections it takes.
    public var match: Envoy_Config_Listener_V3_FilterChainMatch
    /// Where they go; nil when no destination of the rule names an existing cluster: the
    /// listener must then refuse the connections (Istio sends them to its BlackHoleCluster), not
    /// leave the chain out, which would hand them to a later chain.
    public var tcpProxy: Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy?

    /// The chain as Envoy's `FilterChain` (the tcp_proxy its only filter), nil when `tcpProxy` is.
    public var filterChain: Envoy_Config_Listener_V3_FilterChain? {
        guard let tcpProxy else { return nil }
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = Self.tcpProxyFilterName
        filter.typedConfig = AnyPacking.pack(tcpProxy)
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.name = name
        chain.filterChainMatch = match
        chain.filters = [filter]
        return chain
    }
}
