import EnvoyAPI
import MeshModel

/// LDS for proxyless gRPC servers (gRFC A36): one Listener per inbound address the server asked
/// for, named `xds.istio.io/grpc/lds/inbound/IP:PORT`, with the shapes istiod's gRPC generator
/// sends:
/// - `address` repeats the requested IP and port (gRPC stays NOT_SERVING otherwise);
/// - no `listener_filters` and no `use_original_dst` (gRPC NACKs them);
/// - one filter chain without a match (gRPC matches chains on `raw_buffer` only, so it cannot
///   tell TLS from plaintext on a port): an HttpConnectionManager whose inline route
///   configuration answers every path with `non_forwarding_action` (the server serves its own
///   methods), the RBAC filters, and the router last;
/// - under PeerAuthentication STRICT, a DownstreamTlsContext requiring a client certificate;
///   DISABLE and PERMISSIVE serve plaintext (PERMISSIVE is warned about on apply).
///
/// A port no service declares still gets its listener (plaintext unless a policy says
/// otherwise), so every server that asks serves.
public enum InboundListeners {
    /// The stat prefix, route configuration and virtual host name istiod uses for them.
    static let name = "grpc"

    /// The listeners of the view's inbound addresses, sorted by name.
    public static func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        view.key.inbound.map { address in
            let mode = push.peerAuthentications.mode(
                namespace: view.key.namespace, labels: view.key.policyLabels,
                port: address.port, rootNamespace: push.settings.rootNamespace)
            let policies = push.authorizationPolicies.policies(
                namespace: view.key.namespace, labels: view.key.policyLabels,
                rootNamespace: push.settings.rootNamespace)
            return XDSResource(
                name: address.listenerName,
                message: listener(address, strict: mode == .strict, filters: AuthorizationFilters.filters(policies)))
        }.sorted { $0.name < $1.name }
    }

    static func listener(
        _ address: InboundAddress, strict: Bool,
        filters: [Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter]
    ) -> Envoy_Config_Listener_V3_Listener {
        var route = Envoy_Config_Route_V3_Route()
        route.match.prefix = "/"
        route.nonForwardingAction = Envoy_Config_Route_V3_NonForwardingAction()
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = name
        host.domains = ["*"]
        host.routes = [route]
        var manager = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        manager.statPrefix = name
        manager.routeConfig.name = name
        manager.routeConfig.virtualHosts = [host]
        manager.httpFilters = filters + [HTTPFilters.router()]

        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "inbound-hcm"
        filter.typedConfig = AnyPacking.pack(manager)
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.name = strict ? "inbound-mtls" : "inbound-plaintext"
        chain.filters = [filter]
        if strict { chain.transportSocket = DownstreamTLS.socket(DownstreamTLS.strictContext()) }

        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = address.listenerName
        listener.address.socketAddress.address = address.ip
        listener.address.socketAddress.portValue = address.port
        listener.filterChains = [chain]
        return listener
    }
}
