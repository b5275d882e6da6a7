import EnvoyAPI
import SwiftProtobuf

extension TrafficSimulation {
    static let tlsInspector = "envoy.filters.listener.tls_inspector"
    static let httpConnectionManager = "envoy.filters.network.http_connection_manager"
    static let tcpProxy = "envoy.filters.network.tcp_proxy"

    /// Where `connection` goes through an Envoy proxy's listeners, as Envoy decides it (at a
    /// gateway, `.edge` connections reach the listener bound to their port directly):
    /// iptables delivers it to the capture listener (`0.0.0.0:15001` outbound, `:15006`
    /// inbound); a listener with `use_original_dst` hands it to the listener bound to the
    /// original destination — the exact `ADDRESS:PORT` first, else `0.0.0.0:PORT` — keeping it
    /// when there is none; then a filter chain is chosen (`FilterChainSelection`; SNI and
    /// `tls` are seen only when the listener runs the TLS inspector, otherwise the transport
    /// is `raw_buffer`), and its first network filter decides: an HttpConnectionManager routes
    /// the request, tcp_proxy forwards to its cluster.
    /// `chosen`: for a weighted split, the cluster the request is taken to have drawn (see
    /// `run(_:cluster:)`).
    public func connect(_ connection: SimulatedConnection, cluster chosen: String? = nil) -> ConnectionResult {
        let capturePort: UInt32 =
            switch connection.direction {
            case .outbound: 15001
            case .inbound: 15006
            case .edge: connection.port
            }
        guard var listener = listener(at: "0.0.0.0", port: capturePort) else {
            return ConnectionResult(listener: nil, filterChain: nil, result: .init(route: nil, outcome: .noListener("0.0.0.0:\(capturePort)")))
        }
        if listener.hasUseOriginalDst, listener.useOriginalDst.value,
            let target = self.listener(at: connection.address, port: connection.port) ?? self.listener(at: "0.0.0.0", port: connection.port)
        {
            listener = target
        }
        let inspects = listener.listenerFilters.contains { $0.name == Self.tlsInspector }
        let offer = FilterChainSelection.Offer(
            address: connection.address, port: connection.port, serverName: inspects ? connection.serverName : nil,
            transportProtocol: inspects && connection.serverName != nil ? "tls" : "raw_buffer")
        guard let chain = FilterChainSelection.select(in: listener, offer), let filter = chain.filters.first else {
            return ConnectionResult(listener: listener.name, filterChain: nil, result: .init(route: nil, outcome: .noFilterChain(listener.name)))
        }
        let result: SimulationResult
        switch filter.name {
        case Self.httpConnectionManager:
            guard let request = connection.request,
                let manager = try? Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                    serializedBytes: filter.typedConfig.value)
            else {
                result = .init(route: nil, outcome: .noRoute)
                break
            }
            result = route(request, through: manager, cluster: chosen, secure: chain.hasTransportSocket)
        case Self.tcpProxy:
            let proxy = (try? Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(serializedBytes: filter.typedConfig.value)) ?? .init()
            result = .init(route: nil, outcome: forward(to: proxy.cluster, connection: connection))
        default:
            result = .init(route: nil, outcome: .noRoute)
        }
        return ConnectionResult(listener: listener.name, filterChain: chain.name, result: result.resolvingOriginalDestination(connection, in: self))
    }

    /// The listener whose socket address is `address:port`.
    func listener(at address: String, port: UInt32) -> Envoy_Config_Listener_V3_Listener? {
        listeners.values.sorted { $0.name < $1.name }.first {
            $0.address.socketAddress.address == address && $0.address.socketAddress.portValue == port
        }
    }

    /// tcp_proxy's outcome: the cluster and its endpoints (an ORIGINAL_DST cluster's one
    /// endpoint is where the connection was going).
    func forward(to name: String, connection: SimulatedConnection) -> SimulatedOutcome {
        guard let cluster = clusters[name] else { return .noCluster(name) }
        if cluster.type == .originalDst { return .cluster(name, endpoints: ["\(connection.address):\(connection.port)"]) }
        return .cluster(name, endpoints: endpoints(of: cluster))
    }
}

extension SimulationResult {
    /// An HTTP route to an ORIGINAL_DST cluster (PassthroughCluster) reaches the connection's
    /// original destination.
    fileprivate func resolvingOriginalDestination(_ connection: SimulatedConnection, in simulation: TrafficSimulation) -> SimulationResult {
        guard case .cluster(let name, _) = outcome, let cluster = simulation.clusters[name], cluster.type == .originalDst else { return self }
        var copy = self
        copy.outcome = .cluster(name, endpoints: ["\(connection.address):\(connection.port)"])
        return copy
    }
}
