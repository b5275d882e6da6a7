import EnvoyAPI
import MeshModel
import SwiftProtobuf

/// LDS for Envoy gateways, in istiod's shapes and names: one listener per bind address and port
/// of the merged servers (`MergedGateway`), `0.0.0.0_PORT`, bound to the port (a gateway listens
/// for real, no traffic capture), plus the proxy's own health (15021) and stats (15090)
/// listeners, as sidecars get them.
///
/// Per listener: plain HTTP servers share one connection manager over RDS `http.PORT`; each
/// HTTPS server that terminates TLS is a filter chain matched by its SNI names, with its
/// DownstreamTlsContext (`GatewayTLS`) and a connection manager over its own
/// `https.PORT.PORT_NAME.GATEWAY.NAMESPACE`; TLS passthrough servers take bound VirtualServices'
/// `tls[]` matches as chains by SNI; a TCP server (or a TLS server terminating TLS) forwards
/// with the first bound `tcp[]` rule that applies. A listener left without chains is not sent.
///
/// The gateway's security filters (`SecurityFilters`: the AuthorizationPolicies and
/// RequestAuthentications selecting the gateway pod's labels in its namespace or the root
/// namespace) are in every connection manager and before every `tcp_proxy`, as istiod puts them;
/// AUTO_PASSTHROUGH chains (none here yet) would get none. Telemetry's access loggers and
/// tracer (client side, as istiod's gateway class) go into every one (`TelemetryListeners`).
struct GatewayListenerGenerator: ResourceGenerator {
    var typeURL: String { TypeURL.listener }

    /// How long a TLS handshake may take before the connection is closed (istiod's default).
    static let handshakeTimeout = Google_Protobuf_Duration(seconds: 15)

    func generate(for view: ProxyView, in push: PushContext) -> [XDSResource] {
        let merged = MergedGateway(push.gateways.entries(view.key.gateways), reservedPorts: EnvoyNames.reservedPorts)
        let security = SecurityFilters(push: push, namespace: view.key.namespace, labels: view.key.policyLabels, gateway: true)
        let telemetry = TelemetryListeners.additions(for: view, in: push, direction: .client)
        var listeners = TelemetryListeners.decorate(merged.listeners.compactMap { listener($0, view: view, security: security) }, with: telemetry)
        listeners.append(EnvoyListenerGenerator.health())
        listeners.append(EnvoyListenerGenerator.stats())
        return listeners.map { listener in
            XDSResource(name: listener.name, message: listener, dependencies: EnvoyListenerGenerator.routeNames(listener))
        }.sorted { $0.name < $1.name }
    }

    private func listener(_ merged: MergedGateway.Listener, view: ProxyView, security: SecurityFilters) -> Envoy_Config_Listener_V3_Listener? {
        var chains: [Envoy_Config_Listener_V3_FilterChain] = []
        if let first = merged.plain.first {
            if first.spec.port.protocol.isHTTP, let route = MergedGateway.routeName(first) {
                chains.append(
                    EnvoyFilters.chain(
                        merged.name,
                        EnvoyFilters.gatewayConnectionManager(statPrefix: "outbound_\(merged.name)_", routeName: route, security: security.http)))
            } else if let proxy = Self.tcpProxy(for: first, view: view) {
                var chain = EnvoyFilters.chain(merged.name, Self.filter(proxy))
                chain.filters.insert(contentsOf: security.network, at: 0)
                chains.append(chain)
            }
        }
        var sniTaken: Set<[String]> = []
        for server in merged.secure {
            let sni = server.sniHosts
            if server.spec.terminatesHTTPS, let route = MergedGateway.routeName(server) {
                let manager = EnvoyFilters.gatewayConnectionManager(
                    statPrefix: server.spec.name ?? "outbound_\(merged.name)_", routeName: route, security: security.http)
                chains.append(Self.terminating(route, sni: sni, server: server, filter: manager))
            } else if server.spec.tls?.mode.isPassthrough ?? false {
                chains += Self.passthroughChains(server, port: merged.port, view: view, taken: &sniTaken).map { chain in
                    var chain = chain
                    chain.filters.insert(contentsOf: security.network, at: 0)
                    return chain
                }
            } else if let proxy = Self.tcpProxy(for: server, view: view) {
                var chain = Self.terminating("\(server.gatewayName)#\(server.index)", sni: sni, server: server, filter: Self.filter(proxy))
                chain.filters.insert(contentsOf: security.network, at: 0)
                chains.append(chain)
            }
        }
        chains = EnvoyOutbound.withDistinctMatches(chains)
        guard !chains.isEmpty else { return nil }
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = merged.name
        listener.address = EnvoyFilters.address(merged.bind, port: merged.port)
        listener.trafficDirection = .outbound
        listener.filterChains = chains
        if chains.contains(where: { !$0.filterChainMatch.serverNames.isEmpty || $0.hasTransportSocket }) {
            listener.listenerFilters = [EnvoyFilters.tlsInspector()]
        }
        return listener
    }

    /// A chain that terminates TLS for `server` (matched by its SNI names unless it serves every
    /// name) and hands the decrypted stream to `filter`.
    private static func terminating(
        _ name: String, sni: [String], server: MergedGateway.Server, filter: Envoy_Config_Listener_V3_Filter
    ) -> Envoy_Config_Listener_V3_FilterChain {
        var match = Envoy_Config_Listener_V3_FilterChainMatch()
        match.serverNames = sni
        var chain = EnvoyFilters.chain(name, match: sni.isEmpty ? nil : match, filter)
        if let context = GatewayTLS.context(server.spec) {
            chain.transportSocket = DownstreamTLS.socket(context)
            chain.transportSocketConnectTimeout = handshakeTimeout
        }
        return chain
    }

    /// The chains of a passthrough server: every bound VirtualService's `tls[]` match that
    /// applies to the port and the server's Gateway, by its SNI names; a set of names an earlier
    /// chain on the listener already takes is skipped, as istiod does.
    private static func passthroughChains(
        _ server: MergedGateway.Server, port: UInt32, view: ProxyView, taken: inout Set<[String]>
    ) -> [Envoy_Config_Listener_V3_FilterChain] {
        var chains: [Envoy_Config_Listener_V3_FilterChain] = []
        let binding = RouteBinding.gateways([server.gatewayName])
        for entry in boundVirtualServices(server, view: view) {
            let rules = L4RouteTranslation.ruleChains(
                entry, port: port, binding: binding, view: view, statPrefix: "\(server.gatewayName)")
            for rule in rules.chains where !rule.match.serverNames.isEmpty {
                guard var chain = rule.filterChain else { continue }
                let names = rule.match.serverNames.sorted()
                guard taken.insert(names).inserted else { continue }
                var match = Envoy_Config_Listener_V3_FilterChainMatch()
                match.serverNames = names
                chain.filterChainMatch = match
                chain.name = "\(entry.key.namespace)/\(entry.key.name)/\(rule.name)"
                if case .some(var proxy) = rule.tcpProxy {
                    proxy.statPrefix = proxy.cluster.isEmpty ? proxy.statPrefix : proxy.cluster
                    chain.filters = [filter(proxy)]
                }
                chains.append(chain)
            }
        }
        return chains
    }

    /// The tcp_proxy of a TCP server, or a TLS server that terminates TLS: the first `tcp[]` rule
    /// of the first bound VirtualService (exposing one of the server's hosts) whose match applies
    /// to the port and the server's Gateway; nil when none does.
    static func tcpProxy(for server: MergedGateway.Server, view: ProxyView) -> Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy? {
        let binding = RouteBinding.gateways([server.gatewayName])
        for entry in boundVirtualServices(server, view: view) where !entry.spec.tcp.isEmpty {
            let port = server.spec.port.number
            let rules = L4RouteTranslation.ruleChains(entry, port: port, binding: binding, view: view, statPrefix: "")
            for rule in rules.chains where rule.name.hasPrefix("tcp") {
                guard var proxy = rule.tcpProxy else { continue }
                proxy.statPrefix = proxy.cluster.isEmpty ? "\(server.gatewayName)" : proxy.cluster
                return proxy
            }
        }
        return nil
    }

    /// The VirtualServices bound to `server`'s Gateway that expose one of its hosts, oldest first.
    static func boundVirtualServices(_ server: MergedGateway.Server, view: ProxyView) -> [PushContext.VirtualServiceEntry] {
        view.gatewayVirtualServices.filter { entry in
            RouteBinding.gatewayNames(of: entry.spec, namespace: entry.key.namespace).contains(server.gatewayName)
                && !GatewayHosts.exposed(by: server, of: entry).isEmpty
        }
    }

    private static func filter(_ proxy: Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy) -> Envoy_Config_Listener_V3_Filter {
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = EnvoyFilters.tcpProxyName
        filter.typedConfig = AnyPacking.pack(proxy)
        return filter
    }
}
