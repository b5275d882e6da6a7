import EnvoyAPI
import SwiftProtobuf

/// The listener pieces every Envoy sidecar listener is built from: network filters
/// (HttpConnectionManager, tcp_proxy), listener filters and addresses, in one place so every
/// listener spells them the same way.
enum EnvoyFilters {
    typealias Manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager

    static let httpConnectionManagerName = "envoy.filters.network.http_connection_manager"
    static let tcpProxyName = "envoy.filters.network.tcp_proxy"
    static let tlsInspectorName = "envoy.filters.listener.tls_inspector"
    static let originalDestinationName = "envoy.filters.listener.original_dst"
    /// The transport protocol the TLS inspector reports for a TLS ClientHello.
    static let tlsTransport = "tls"

    /// An HttpConnectionManager fetching route configuration `routeName` over ADS, with the
    /// same HTTP filters as every other meshd connection manager (fault, then router).
    static func httpConnectionManager(statPrefix: String, routeName: String) -> Envoy_Config_Listener_V3_Filter {
        var manager = Manager()
        manager.statPrefix = statPrefix
        manager.rds.configSource = .adsV3
        manager.rds.routeConfigName = routeName
        manager.httpFilters = HTTPFilters.outbound(.envoy)
        return filter(httpConnectionManagerName, manager)
    }

    /// A gateway's HttpConnectionManager over RDS `routeName`: as a sidecar's, and as istiod
    /// writes it for the edge — the peer's address is the client's (`use_remote_address`), and
    /// the `x-forwarded-client-cert` header is replaced by what the gateway saw of the client's
    /// certificate (SANITIZE_SET). `security` (the gateway's ext_authz, jwt_authn and RBAC) runs first.
    static func gatewayConnectionManager(
        statPrefix: String, routeName: String, security: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter] = []
    ) -> Envoy_Config_Listener_V3_Filter {
        var manager = Manager()
        manager.statPrefix = statPrefix
        manager.rds.configSource = .adsV3
        manager.rds.routeConfigName = routeName
        manager.httpFilters = security + HTTPFilters.outbound(.envoy)
        manager.useRemoteAddress = .init(true)
        manager.forwardClientCertDetails = .sanitizeSet
        manager.setCurrentClientCertDetails = clientCertDetails(withCertificate: true)
        return filter(httpConnectionManagerName, manager)
    }

    /// An HttpConnectionManager with its routes inline (inbound and the proxy's own ports:
    /// nothing there changes per VirtualService, so no RDS round trip).
    static func httpConnectionManager(statPrefix: String, routes: Envoy_Config_Route_V3_RouteConfiguration) -> Envoy_Config_Listener_V3_Filter {
        filter(httpConnectionManagerName, inlineManager(statPrefix: statPrefix, routes: routes))
    }

    /// An inbound HttpConnectionManager (`virtualInbound`): routes inline, the workload's
    /// authorization filters first, and, as istiod writes it for sidecars, the caller's
    /// certificate passed on to the workload in `x-forwarded-client-cert` (APPEND_FORWARD: what
    /// the client sent kept, this hop's subject, URI and DNS names added).
    static func inboundConnectionManager(
        statPrefix: String, routes: Envoy_Config_Route_V3_RouteConfiguration,
        authorization: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    ) -> Envoy_Config_Listener_V3_Filter {
        var manager = inlineManager(statPrefix: statPrefix, routes: routes)
        manager.httpFilters.insert(contentsOf: authorization, at: 0)
        manager.forwardClientCertDetails = .appendForward
        manager.setCurrentClientCertDetails = clientCertDetails(withCertificate: false)
        return filter(httpConnectionManagerName, manager)
    }

    /// A connection manager with its routes inline and meshd's usual HTTP filters.
    private static func inlineManager(statPrefix: String, routes: Envoy_Config_Route_V3_RouteConfiguration) -> Manager {
        var manager = Manager()
        manager.statPrefix = statPrefix
        manager.routeConfig = routes
        manager.httpFilters = HTTPFilters.outbound(.envoy)
        return manager
    }

    /// What `x-forwarded-client-cert` says of this hop's client: subject, URI and DNS names,
    /// and (gateways) the certificate itself.
    private static func clientCertDetails(withCertificate: Bool) -> Manager.SetCurrentClientCertDetails {
        var details = Manager.SetCurrentClientCertDetails()
        details.subject = .init(true)
        details.cert = withCertificate
        details.dns = true
        details.uri = true
        return details
    }

    /// tcp_proxy to `cluster`, its stats under the cluster's name (as Istio does).
    static func tcpProxy(cluster: String) -> Envoy_Config_Listener_V3_Filter {
        var proxy = Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy()
        proxy.statPrefix = cluster
        proxy.cluster = cluster
        return filter(tcpProxyName, proxy)
    }

    static func tlsInspector() -> Envoy_Config_Listener_V3_ListenerFilter {
        listenerFilter(tlsInspectorName, Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector())
    }

    static func originalDestination() -> Envoy_Config_Listener_V3_ListenerFilter {
        listenerFilter(originalDestinationName, Envoy_Extensions_Filters_Listener_OriginalDst_V3_OriginalDst())
    }

    /// `address:port` as Envoy's socket address.
    static func address(_ address: String, port: UInt32) -> Envoy_Config_Core_V3_Address {
        var socket = Envoy_Config_Core_V3_SocketAddress()
        socket.address = address
        socket.portValue = port
        var result = Envoy_Config_Core_V3_Address()
        result.socketAddress = socket
        return result
    }

    /// A filter chain of one network filter.
    static func chain(
        _ name: String, match: Envoy_Config_Listener_V3_FilterChainMatch? = nil,
        _ filter: Envoy_Config_Listener_V3_Filter
    ) -> Envoy_Config_Listener_V3_FilterChain {
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.name = name
        if let match { chain.filterChainMatch = match }
        chain.filters = [filter]
        return chain
    }

    private static func filter(_ name: String, _ config: some SwiftProtobuf.Message) -> Envoy_Config_Listener_V3_Filter {
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = name
        filter.typedConfig = AnyPacking.pack(config)
        return filter
    }

    static func listenerFilter(_ name: String, _ config: some SwiftProtobuf.Message) -> Envoy_Config_Listener_V3_ListenerFilter {
        var filter = Envoy_Config_Listener_V3_ListenerFilter()
        filter.name = name
        filter.typedConfig = AnyPacking.pack(config)
        return filter
    }
}
