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
        let inspects = Self.runs(Self.tlsInspector, in: listener, port: connection.port)
        let transport = inspects && connection.tls ? "tls" : "raw_buffer"
        var protocols: [String] = []
        if transport == "tls" {
            protocols = connection.alpn
        } else if connection.request != nil, Self.runs(Self.httpInspector, in: listener, port: connection.port) {
            protocols = ["http/1.1"]
        }
        let offer = FilterChainSelection.Offer(
            address: connection.address, port: connection.port, serverName: inspects ? connection.serverName : nil,
            transportProtocol: transport, applicationProtocols: protocols)
        guard let chain = FilterChainSelection.select(in: listener, offer), let filter = chain.filters.last else {
            return ConnectionResult(listener: listener.name, filterChain: nil, result: .init(route: nil, outcome: .noFilterChain(listener.name)))
        }
        var principal: String?
        if chain.hasTransportSocket {
            switch Self.handshake(chain.transportSocket, connection) {
            case .success(let identity): principal = identity
            case .failure(let reason):
                return ConnectionResult(
                    listener: listener.name, filterChain: chain.name, terminatedTLS: true,
                    result: .init(route: nil, outcome: .handshakeFailed(reason.message)))
            }
        }
        var context = RBACContext(
            principal: principal, sourceAddress: connection.sourceAddress, destinationAddress: connection.address,
            destinationPort: connection.port, serverName: connection.tls ? connection.serverName : nil)
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
            context.request = request
            if case .denied(let policy) = Self.authorize(manager.httpFilters.map(\.typedConfig), context) {
                result = .init(route: nil, outcome: .denied(policy))
                break
            }
            result = route(request, through: manager, cluster: chosen, secure: chain.hasTransportSocket)
        case Self.tcpProxy:
            if case .denied(let policy) = Self.authorize(chain.filters.dropLast().map(\.typedConfig), context) {
                result = .init(route: nil, outcome: .denied(policy))
                break
            }
            let proxy = (try? Envoy_Extensions_Filters_Network_TcpProxy_V3_TcpProxy(serializedBytes: filter.typedConfig.value)) ?? .init()
            result = .init(route: nil, outcome: forward(to: proxy.cluster, connection: connection))
        default:
            result = .init(route: nil, outcome: .noRoute)
        }
        return ConnectionResult(
            listener: listener.name, filterChain: chain.name, terminatedTLS: chain.hasTransportSocket,
            result: result.resolvingOriginalDestination(connection, in: self))
    }

    static let httpInspector = "envoy.filters.listener.http_inspector"

    /// Whether `listener` runs the listener filter `name` for a connection to `port` (present,
    /// and its `filter_disabled` predicate false).
    static func runs(_ name: String, in listener: Envoy_Config_Listener_V3_Listener, port: UInt32) -> Bool {
        guard let filter = listener.listenerFilters.first(where: { $0.name == name }) else { return false }
        return !(filter.hasFilterDisabled && matches(filter.filterDisabled, port: port))
    }

    static func matches(_ predicate: Envoy_Config_Listener_V3_ListenerFilterChainMatchPredicate, port: UInt32) -> Bool {
        switch predicate.rule {
        case .orMatch(let set): set.rules.contains { matches($0, port: port) }
        case .andMatch(let set): set.rules.allSatisfy { matches($0, port: port) }
        case .notMatch(let inner): !matches(inner, port: port)
        case .anyMatch(let any): any
        case .destinationPortRange(let range): Int64(range.start) <= Int64(port) && Int64(port) < Int64(range.end)
        case nil: false
        }
    }

    struct HandshakeFailure: Error {
        var message: String
    }

    /// A TLS-terminating chain's handshake with `connection`: the client's identity, or why it
    /// fails (plaintext, no certificate where one is required, an identity no SAN matcher takes).
    static func handshake(_ socket: Envoy_Config_Core_V3_TransportSocket, _ connection: SimulatedConnection) -> Result<String?, HandshakeFailure> {
        guard connection.tls else { return .failure(HandshakeFailure(message: "plaintext to a TLS chain")) }
        guard let context = try? Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext(serializedBytes: socket.typedConfig.value)
        else { return .success(nil) }
        guard let identity = connection.clientIdentity else {
            return context.requireClientCertificate.value ? .failure(HandshakeFailure(message: "no client certificate")) : .success(nil)
        }
        let sans: [Envoy_Type_Matcher_V3_StringMatcher]
        switch context.commonTlsContext.validationContextType {
        case .combinedValidationContext(let combined): sans = combined.defaultValidationContext.matchSubjectAltNames
        case .validationContext(let validation): sans = validation.matchSubjectAltNames
        default: sans = []
        }
        if !sans.isEmpty, !sans.contains(where: { matches($0, identity) }) {
            return .failure(HandshakeFailure(message: "client identity \(identity) not accepted"))
        }
        return .success(identity)
    }

    /// The RBAC filters among `configs` (HTTP or network), in order: the first that denies.
    static func authorize(_ configs: [Google_Protobuf_Any], _ context: RBACContext) -> RBACEvaluation.Verdict {
        for config in configs {
            let rules: Envoy_Config_Rbac_V3_RBAC
            if config.typeURL.hasSuffix("envoy.extensions.filters.http.rbac.v3.RBAC"),
                let http = try? Envoy_Extensions_Filters_Http_Rbac_V3_RBAC(serializedBytes: config.value)
            {
                rules = http.rules
            } else if config.typeURL.hasSuffix("envoy.extensions.filters.network.rbac.v3.RBAC"),
                let network = try? Envoy_Extensions_Filters_Network_Rbac_V3_RBAC(serializedBytes: config.value)
            {
                rules = network.rules
            } else {
                continue
            }
            if case .denied(let policy) = RBACEvaluation.verdict(rules, context) { return .denied(policy) }
        }
        return .allowed
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
