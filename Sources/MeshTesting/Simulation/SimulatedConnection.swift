/// One connection as an Envoy sidecar sees it after iptables captured it, for
/// `TrafficSimulation.connect(_:)`.
public struct SimulatedConnection: Sendable, Hashable, CustomStringConvertible {
    /// Which capture listener iptables sent it to.
    public enum Direction: Sendable, Hashable {
        /// From the workload to elsewhere: captured to 15001 (`virtualOutbound`).
        case outbound
        /// From elsewhere to the workload: captured to 15006 (`virtualInbound`).
        case inbound
        /// To a gateway: no capture, the listener bound to the port takes it.
        case edge
    }

    public var direction: Direction
    /// The original destination IP the client dialed.
    public var address: String
    /// The original destination port.
    public var port: UInt32
    /// The TLS server name the client sends; nil for plaintext (the TLS inspector then reports
    /// `raw_buffer`).
    public var serverName: String?
    /// The HTTP request the connection carries, nil for opaque TCP bytes.
    public var request: SimulatedRequest?
    /// The ALPN values a TLS client offers (a mesh client: `istio-peer-exchange`, `istio`).
    public var alpn: [String]
    /// The URI SAN of the client certificate a TLS client presents, nil for none.
    public var clientIdentity: String?
    /// Whether the client speaks TLS (it sends a ClientHello).
    public var tls: Bool
    /// The client's address.
    public var sourceAddress: String

    public init(
        _ direction: Direction = .outbound, address: String, port: UInt32, serverName: String? = nil,
        request: SimulatedRequest? = nil, alpn: [String] = [], clientIdentity: String? = nil, tls: Bool? = nil,
        sourceAddress: String = "10.0.9.9"
    ) {
        self.direction = direction
        self.address = address
        self.port = port
        self.serverName = serverName
        self.request = request
        self.alpn = alpn
        self.clientIdentity = clientIdentity
        self.tls = tls ?? (serverName != nil || !alpn.isEmpty || clientIdentity != nil)
        self.sourceAddress = sourceAddress
    }

    /// A connection from another meshd sidecar to this workload's `port`: mesh mTLS (ALPN
    /// `istio-peer-exchange`, `istio`) with the client's certificate for `identity`
    /// (`spiffe://…`), carrying `request` (nil: opaque bytes).
    public static func mesh(
        _ identity: String, port: UInt32, request: SimulatedRequest? = nil, address: String = "10.0.0.5",
        sourceAddress: String = "10.0.9.9"
    ) -> SimulatedConnection {
        SimulatedConnection(
            .inbound, address: address, port: port, serverName: "outbound_.\(port)_._.workload", request: request,
            alpn: ["istio-peer-exchange", "istio"], clientIdentity: identity, sourceAddress: sourceAddress)
    }

    /// A plaintext connection from outside the mesh to this workload's `port`.
    public static func plaintext(
        port: UInt32, request: SimulatedRequest? = nil, address: String = "10.0.0.5", sourceAddress: String = "10.0.9.9"
    ) -> SimulatedConnection {
        SimulatedConnection(.inbound, address: address, port: port, request: request, sourceAddress: sourceAddress)
    }

    /// An outbound HTTP request to `address:port` with `authority` as its Host.
    public static func http(
        _ authority: String, address: String = "10.96.0.1", port: UInt32, path: String = "/",
        headers: [String: String] = [:]
    ) -> SimulatedConnection {
        SimulatedConnection(
            address: address, port: port, request: SimulatedRequest(authority: authority, path: path, headers: headers, method: "GET"))
    }

    /// An HTTP request arriving at a gateway's port `port`, over TLS when `serverName` is set.
    public static func edge(_ authority: String, port: UInt32, serverName: String? = nil, path: String = "/") -> SimulatedConnection {
        SimulatedConnection(
            .edge, address: "0.0.0.0", port: port, serverName: serverName,
            request: SimulatedRequest(authority: authority, path: path, method: "GET"))
    }

    public var description: String {
        "\(direction == .outbound ? "out" : direction == .inbound ? "in" : "edge") \(address):\(port)" + (serverName.map { " sni=\($0)" } ?? "")
            + (tls && serverName == nil ? " tls" : "") + (alpn.isEmpty ? "" : " alpn=" + alpn.joined(separator: ","))
            + (clientIdentity.map { " cert=\($0)" } ?? "")
            + (request.map { " \($0)" } ?? " tcp")
    }
}

/// Where a simulated connection went through an Envoy sidecar's listeners.
public struct ConnectionResult: Sendable, Hashable {
    /// The listener that took it (after the original-destination hand-off), nil when none did.
    public var listener: String?
    /// The filter chain that matched (its name), nil when none did.
    public var filterChain: String?
    /// Whether that chain terminated TLS.
    public var terminatedTLS: Bool = false
    /// The HTTP routing result, or for tcp_proxy the cluster (route nil).
    public var result: SimulationResult

    public init(listener: String?, filterChain: String?, terminatedTLS: Bool = false, result: SimulationResult) {
        self.listener = listener
        self.filterChain = filterChain
        self.terminatedTLS = terminatedTLS
        self.result = result
    }

    /// The outcome (shorthand).
    public var outcome: SimulatedOutcome { result.outcome }
}
